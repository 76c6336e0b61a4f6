"""``LearningRateScheduler``: sets the optimizer's learning rate at the start of each epoch."""

from compiler.keras.callbacks.callback import Callback
from compiler.keras.utils.progbar import _write

__all__ = ["LearningRateScheduler"]


class LearningRateScheduler(Callback):
    """Calls ``schedule(epoch, lr)`` (or ``schedule(epoch)``) before each epoch.

    The epoch's logs get a ``"learning_rate"`` entry, as in Keras.

    Args:
        schedule: function of the 0-based epoch (and the current rate) returning a float.
        verbose: 1 prints the new rate each epoch.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        current = float(self.model.optimizer.learning_rate)
        try:
            learning_rate = self.schedule(epoch, current)
        except TypeError:  # a one-argument schedule, as Keras also accepts
            learning_rate = self.schedule(epoch)
        if (
            isinstance(learning_rate, bool)
            or not isinstance(learning_rate, (int, float))
            and not hasattr(learning_rate, "dtype")
        ):
            raise ValueError(
                f"The output of the `schedule` function should be a float. Got: {learning_rate!r}"
            )
        self.model.optimizer.learning_rate = float(learning_rate)
        if self.verbose > 0:
            _write(
                f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                f"{float(learning_rate)}.\n"
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)
