"""``History``: records each epoch's logs into ``history.history``; ``fit`` returns it."""

from compiler.keras.callbacks.callback import Callback

__all__ = ["History"]


class History(Callback):
    """Collects ``{"loss": [...], "accuracy": [...], "val_loss": [...], ...}`` per epoch."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        self.model.history = self
