"""``keras.saving.save_model`` / ``load_model`` and the weights-only ``.weights.h5`` files.

A ``.keras`` file is a zip of ``metadata.json`` (``keras_version``, ``date_saved``),
``config.json`` (the model's ``serialize_keras_object`` config with ``build_config`` and
``compile_config``) and ``model.weights.h5`` (see ``_weights``), as Keras 3 writes it; real Keras
loads what we write and we load what it writes. ``keras_version`` is the Keras format release
whose layout we reproduce. ``date_saved`` follows ``SOURCE_DATE_EPOCH`` when it is set, so that
builds can be byte-for-byte reproducible.

Loading treats the file as hostile: no code from it is run, every problem (corrupt zip, bad
JSON, unknown class, weights that do not fit the model, truncation) is one
``InvalidModelFileError`` naming the file and the problem, and sizes are bounded before memory
is allocated for them. Limits of a load:

* it opens the named file and nothing else: HDF5 external storage, external links, virtual
  datasets, soft links leaving the file's own objects and filters other than shuffle and
  fletcher32 are refused before any value is read (``_h5_structure``);
* one memory budget, ``max_bytes`` (default ``DEFAULT_MAX_LOAD_BYTES``, 1 GiB), covers the
  zip members' declared sizes (charged before decompressing), the Python objects of the parsed
  JSON (24 bytes per byte, charged before parsing), the variables the config creates, inline
  ``__numpy__`` values and the weight values read;
* layer and model names may not contain ``/`` (Keras 3's rule), names are strings.
"""

import datetime
import io
import json
import os
import stat
import warnings

import h5py

from compiler.keras.saving import _archive, _weights
from compiler.keras.saving._guard import (
    DEFAULT_MAX_LOAD_BYTES,
    allocation_budget,
    charge,
    load_budget,
)
from compiler.keras.saving._h5_structure import check_structure
from compiler.keras.saving.errors import InvalidModelFileError
from compiler.keras.saving.serialization import (
    deserialize_keras_object,
    serialize_keras_object,
)

__all__ = [
    "save_model",
    "load_model",
    "save_weights",
    "load_weights",
    "KERAS_FORMAT_VERSION",
    "DEFAULT_MAX_LOAD_BYTES",
]

KERAS_FORMAT_VERSION = "3.15.1"
# Largest tensor (elements, known dimensions) a config may describe; bigger is not a mobile model.
MAX_TENSOR_ELEMENTS = 1 << 24
_SHAPE_KEYS = ("batch_shape", "shape", "batch_input_shape", "input_shape", "build_input_shape")
# Slack over the weights file's size for the weights a config may create while being rebuilt.
_BUDGET_SLACK = 1 << 20
_JSON_EXPANSION = 24


def _date_saved():
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        moment = datetime.datetime.fromtimestamp(int(epoch), tz=datetime.timezone.utc)
    else:
        moment = datetime.datetime.now()
    return moment.strftime("%Y-%m-%d@%H:%M:%S")


def _weights_bytes(model):
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5_file:
        _weights.write_weights(h5_file, model)
    return buffer.getvalue()


def _check_target(filepath, suffix, overwrite):
    path = os.fspath(filepath)
    if not str(path).endswith(suffix):
        raise ValueError(
            f"Invalid `filepath` argument: expected a `{suffix}` extension. Received: "
            f"filepath={path}"
        )
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"'{path}' exists and overwrite=False")
    return path


def save_model(model, filepath, overwrite=True, **kwargs):
    """Saves ``model`` as a Keras 3 ``.keras`` file (atomically).

    Args:
        model: a built ``keras.Model``.
        filepath: a path ending in ``.keras``, or a writable binary file object.
        overwrite: when False, an existing file is an error (``FileExistsError``).

    Raises:
        ValueError: wrong extension. OSError: the file cannot be written.
    """
    if not getattr(model, "built", False):
        warnings.warn(
            "You are saving a model that has not yet been built; it has no weights yet.",
            stacklevel=2,
        )
    config = json.dumps(serialize_keras_object(model)).encode("utf-8")
    metadata = json.dumps(
        {"keras_version": KERAS_FORMAT_VERSION, "date_saved": _date_saved()}
    ).encode("utf-8")
    members = [
        (_archive.METADATA_NAME, metadata),
        (_archive.CONFIG_NAME, config),
        (_archive.WEIGHTS_NAME, _weights_bytes(model)),
    ]
    if isinstance(filepath, io.IOBase):
        _archive.zip_bytes(members, filepath)
        return
    path = _check_target(filepath, ".keras", overwrite)
    _archive.atomic_write(path, lambda handle: _archive.zip_bytes(members, handle))


def save_weights(model, filepath, overwrite=True):
    """Saves the weights (and optimizer state) of ``model`` as a Keras 3 ``.weights.h5`` file."""
    path = _check_target(filepath, ".weights.h5", overwrite)
    data = _weights_bytes(model)
    _archive.atomic_write(path, lambda handle: handle.write(data))


class _Stage:
    """What the loader is doing, for the error message."""

    def __init__(self):
        self.now = "opening the file"


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True, *, max_bytes=None):
    """Loads a ``.keras`` file written by Keras 3 or by ``model.save``.

    Args:
        filepath: a path ending in ``.keras``, or a readable binary file object.
        custom_objects: ``{name: class}`` for custom layers and objects.
        compile: whether to compile the model with its saved compile config and restore the
            optimizer state.
        safe_mode: kept for Keras's signature; loading never runs code from the file.
        max_bytes: the load's memory budget (not a Keras argument): decompressed members,
            variables created and values read, together. Default ``DEFAULT_MAX_LOAD_BYTES``.

    Returns:
        The model, with its weights (and, if compiled, its optimizer state).

    Raises:
        InvalidModelFileError: the file is not a loadable model (with the reason).
        FileNotFoundError: there is no such file.
    """
    stage = _Stage()
    source = "<file object>" if isinstance(filepath, io.IOBase) else os.fspath(filepath)
    limit = DEFAULT_MAX_LOAD_BYTES if max_bytes is None else max_bytes
    if isinstance(filepath, io.IOBase):
        return _load_guarded(filepath, source, custom_objects, compile, stage, limit)
    if not str(source).endswith(".keras"):
        raise InvalidModelFileError(
            source, "expected a `.keras` file (a zip of config.json and model.weights.h5)"
        )
    _require_regular_file(source)
    with open(source, "rb") as handle:
        return _load_guarded(handle, source, custom_objects, compile, stage, limit)


def _require_regular_file(path):
    """A FIFO or device would block or never end: only a regular file is read."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"No such file: '{path}'") from None
    if not stat.S_ISREG(mode):
        raise InvalidModelFileError(path, "not a regular file (a FIFO, device or directory)")


def _load_guarded(handle, source, custom_objects, compile, stage, limit):
    try:
        with load_budget(limit, source):
            return _load(handle, custom_objects, compile, stage)
    except InvalidModelFileError:
        raise
    except Exception as error:  # every failure of a hostile file becomes one typed error
        raise InvalidModelFileError(source, f"{stage.now}: {_describe(error)}") from error


def _describe(error):
    text = str(error) or type(error).__name__
    if type(error) is ValueError or type(error).__module__.startswith("compiler"):
        return text
    return f"{type(error).__name__}: {text}"


def _parse_json(data, name):
    # Python objects take up to ~24 bytes per byte of JSON ("[[],[],...": a 64-byte list per
    # 3 bytes): charged before parsing, so that a config of empty lists cannot take gigabytes.
    charge(_JSON_EXPANSION * len(data), f"parsing {name} ({len(data):,} bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{name} is not UTF-8 text ({error})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{name} is not valid JSON ({error})") from None


def _load(handle, custom_objects, compile, stage):
    from compiler.keras.layers.layer import Layer

    stage.now = "reading the zip archive"
    members = _archive.read_members(handle)
    stage.now = "reading metadata.json"
    if members.metadata is not None:
        metadata = _parse_json(members.metadata, "metadata.json")
        if not isinstance(metadata, dict):
            raise ValueError("metadata.json must hold a JSON object")
    stage.now = "reading config.json"
    config = _parse_json(members.config, "config.json")
    if not isinstance(config, dict) or "class_name" not in config or "config" not in config:
        raise ValueError("config.json must hold an object with `class_name` and `config`")
    check_config_sizes(config)
    compile_config = config.pop("compile_config", None)
    stage.now = f"building the model {str(config.get('class_name'))[:80]!r} from config.json"
    with allocation_budget(len(members.weights) + _BUDGET_SLACK, "model.weights.h5"):
        model = deserialize_keras_object(config, custom_objects)
    if not isinstance(model, Layer):
        raise ValueError(f"config.json describes a {type(model).__name__}, not a model")
    check_names(model)
    if compile and compile_config:
        stage.now = "compiling the model from its compile_config"
        _compile_from_config(model, compile_config)
    stage.now = "reading model.weights.h5"
    with h5py.File(io.BytesIO(members.weights), "r") as h5_file:
        check_structure(h5_file)
        _weights.read_weights(h5_file, model)
    return model


def check_names(model):
    """Keras 3's rule for the names of the model and its layers: strings without ``/``.

    Raises:
        ValueError: naming the layer (its class) and the name received.
    """
    from compiler.keras.layers.layer import Layer

    for entry in _weights.saveable_entries(model):
        layer = entry.owner
        if not isinstance(layer, Layer):
            continue
        name = layer.name
        if not isinstance(name, str) or "/" in name:
            raise ValueError(
                f"the {type(layer).__name__} at '{entry.path or 'the root'}' has the name "
                f"{name!r}: a layer or model name must be a string and cannot contain "
                "character `/` (as in Keras 3)"
            )


def _compile_from_config(model, compile_config):
    if not isinstance(compile_config, dict):
        raise ValueError(f"compile_config must be an object. Received: {compile_config!r}")
    if not hasattr(model, "compile_from_config"):
        warnings.warn("The model is not compiled: this model class cannot compile.", stacklevel=4)
        return
    model.compile_from_config(compile_config)
    _build_optimizer(model)


def _build_optimizer(model):
    """Creates the optimizer's slot variables, so that its saved state has a place to go."""
    optimizer = getattr(model, "optimizer", None)
    if (
        optimizer is not None
        and hasattr(optimizer, "build")
        and not optimizer.built
        and getattr(model, "built", False)
    ):
        optimizer.build(model.trainable_variables)


def check_config_sizes(config, depth=0):
    """Refuses shapes in a config whose tensors would be absurdly large.

    Raises:
        ValueError: a dimension that is not a non-negative int, or a tensor of more than
            ``MAX_TENSOR_ELEMENTS`` elements.
    """
    if depth > 200:
        raise ValueError("config.json is nested more than 200 levels deep")
    if isinstance(config, dict):
        for key, value in config.items():
            if key in _SHAPE_KEYS:
                _check_shapes(key, value)
            check_config_sizes(value, depth + 1)
    elif isinstance(config, list):
        for value in config:
            check_config_sizes(value, depth + 1)


def _check_shapes(key, value):
    if value is None:
        return
    if isinstance(value, dict):
        for item in value.values():
            _check_shapes(key, item)
        return
    if not isinstance(value, list):
        raise ValueError(f"`{key}` must be a list of dimensions. Received: {value!r}")
    if all(d is None or (isinstance(d, int) and not isinstance(d, bool)) for d in value):
        known = [d for d in value if d is not None]
        elements = 1
        for d in known:
            if d < 0:
                raise ValueError(f"`{key}` has a negative dimension: {value}")
            elements *= d
        if elements > MAX_TENSOR_ELEMENTS:
            raise ValueError(
                f"`{key}` {value} describes a tensor of {elements:,} elements (limit "
                f"{MAX_TENSOR_ELEMENTS:,})"
            )
        return
    for item in value:
        _check_shapes(key, item)


def load_weights(model, filepath, skip_mismatch=False, *, max_bytes=None):
    """Loads weights into ``model`` from a ``.weights.h5`` file or a ``.keras`` file.

    Only the named file is opened (see the module doc for the HDF5 features refused), and the
    bytes read count against one memory budget, ``max_bytes`` (default
    ``DEFAULT_MAX_LOAD_BYTES``).

    Raises:
        InvalidModelFileError: unreadable file, or weights that do not fit the model (unless
            ``skip_mismatch``, which warns and skips those).
        FileNotFoundError: there is no such file.
    """
    path = os.fspath(filepath)
    if not (str(path).endswith(".weights.h5") or str(path).endswith(".keras")):
        raise InvalidModelFileError(path, "expected a `.weights.h5` or `.keras` file")
    _require_regular_file(path)
    stage = _Stage()
    limit = DEFAULT_MAX_LOAD_BYTES if max_bytes is None else max_bytes
    try:
        with load_budget(limit, path):
            if str(path).endswith(".keras"):
                stage.now = "reading the zip archive"
                with open(path, "rb") as handle:
                    source = io.BytesIO(_archive.read_members(handle).weights)
            else:
                source = path
            stage.now = "reading the weights"
            _build_optimizer(model)
            with h5py.File(source, "r") as h5_file:
                check_structure(h5_file)
                _weights.read_weights(h5_file, model, skip_mismatch=skip_mismatch)
    except InvalidModelFileError:
        raise
    except Exception as error:
        raise InvalidModelFileError(path, f"{stage.now}: {_describe(error)}") from error
