"""``TerminateOnNaN``: stops training as soon as a batch loss is NaN or infinite."""

import math

from compiler.keras.callbacks.callback import Callback
from compiler.keras.utils.progbar import _write

__all__ = ["TerminateOnNaN"]


class TerminateOnNaN(Callback):
    """Sets ``model.stop_training`` when the running loss becomes NaN or infinite."""

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            _write(f"Batch {batch}: Invalid loss, terminating training\n")
            self.model.stop_training = True
