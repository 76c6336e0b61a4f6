"""A missing oracle fails under CI and skips elsewhere, naming what to install."""

import os

import pytest

from tests import _oracles


def test_missing_oracle_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no_such_oracle.*install pkg==1.0"):
        _oracles.require("no_such_oracle", "pkg==1.0")


@pytest.mark.parametrize("value", [None, "", "false", "0"])
def test_missing_oracle_skips_outside_ci(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception, match="no_such_oracle.*install pkg==1.0"):
        _oracles.require("no_such_oracle", "pkg==1.0")


def test_present_oracle_is_returned_and_keras_defaults_to_jax(monkeypatch):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    assert _oracles.require("json", "-").dumps([]) == "[]"
    with pytest.raises((pytest.fail.Exception, pytest.skip.Exception)):
        _oracles.require("keras.no_such_submodule", "-")
    assert os.environ["KERAS_BACKEND"] == "jax"
