"""``CallbackList``: dispatches each hook to every callback, adding History and the progbar."""

from compiler.keras.callbacks.callback import Callback
from compiler.keras.callbacks.history import History
from compiler.keras.callbacks.progbar_logger import ProgbarLogger

__all__ = ["CallbackList"]

_HOOKS = (
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
    "on_train_begin",
    "on_train_end",
    "on_test_begin",
    "on_test_end",
    "on_predict_begin",
    "on_predict_end",
)


class CallbackList(Callback):
    """A container of callbacks that forwards every hook to each of them, in order.

    Args:
        callbacks: user callbacks (``Callback`` instances).
        add_history: append a ``History`` unless one is given.
        add_progbar: append a ``ProgbarLogger`` unless one is given.
        model: the model the callbacks observe.
        **params: ``verbose``, ``epochs``, ``steps`` given to each callback.
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        super().__init__()
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise ValueError(
                    f"Expected `callbacks` to be a list of `keras.callbacks.Callback` instances. "
                    f"Received: {cb!r} (of type {type(cb).__name__})"
                )
        if add_history and not any(isinstance(cb, History) for cb in self.callbacks):
            self.callbacks.append(History())
        if add_progbar and not any(isinstance(cb, ProgbarLogger) for cb in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        # Only the hooks some callback overrides are dispatched: the per-batch hooks run
        # thousands of times per epoch.
        self._active = {
            hook: [getattr(cb, hook) for cb in self.callbacks if _overrides(cb, hook)]
            for hook in _HOOKS
        }
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def set_model(self, model):
        super().set_model(model)
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        for cb in self.callbacks:
            cb.set_params(params)

    def _call(self, hook, *args):
        for fn in self._active[hook]:
            fn(*args)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", batch, logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs)

    @property
    def wants_batch_logs(self):
        """Whether any callback looks at per-batch train logs (else they need not be built)."""
        return bool(self._active["on_train_batch_end"])


def _overrides(cb, hook):
    if hook in vars(cb):  # set on the instance (LambdaCallback)
        return True
    method = getattr(type(cb), hook, None)
    base = getattr(Callback, hook)
    if method is not base:
        return True
    # The train-batch hooks forward to on_batch_begin / on_batch_end by default.
    alias = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}
    return hook in alias and _overrides(cb, alias[hook])
