"""``LambdaCallback``: a callback made of plain functions."""

from compiler.keras.callbacks.callback import Callback

__all__ = ["LambdaCallback"]

_ARGS = (
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_begin",
    "on_train_end",
    "on_train_batch_begin",
    "on_train_batch_end",
)


class LambdaCallback(Callback):
    """Builds a callback from functions, e.g. ``LambdaCallback(on_epoch_end=lambda e, l: ...)``.

    ``on_batch_begin`` / ``on_batch_end`` are accepted as the train-batch hooks, as in Keras.
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        aliases = {"on_batch_begin": "on_train_batch_begin", "on_batch_end": "on_train_batch_end"}
        hooks = dict(
            zip(
                _ARGS,
                (
                    on_epoch_begin,
                    on_epoch_end,
                    on_train_begin,
                    on_train_end,
                    on_train_batch_begin,
                    on_train_batch_end,
                ),
                strict=True,
            )
        )
        for key, fn in kwargs.items():
            if key in aliases:
                hooks[aliases[key]] = fn
            elif key.startswith("on_"):
                hooks[key] = fn
            else:
                raise TypeError(f"LambdaCallback got an unexpected argument: {key!r}")
        for hook, fn in hooks.items():
            if fn is not None:
                setattr(self, hook, fn)
