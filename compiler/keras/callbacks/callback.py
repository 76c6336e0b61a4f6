"""``Callback``: hooks called by ``fit`` / ``evaluate`` / ``predict`` (Keras 3's base class)."""

__all__ = ["Callback"]


class Callback:
    """Base class of callbacks; override the hooks you need.

    Attributes:
        model: the model being trained (set by ``set_model``).
        params: ``{"verbose", "epochs", "steps"}`` of the current run.
    """

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    def on_batch_begin(self, batch, logs=None):
        """Alias of ``on_train_batch_begin``, kept for compatibility."""

    def on_batch_end(self, batch, logs=None):
        """Alias of ``on_train_batch_end``, kept for compatibility."""

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass
