"""``DropoutRNNCell``: the dropout masks of a recurrent cell, drawn once per sequence.

As in Keras, one mask (or one per gate, for ``dropout_mask_count``) multiplies the inputs of
every step and another the recurrent state, so a dropped unit stays dropped for the whole
sequence. The masks hold 0 or ``1 / (1 - rate)``.
"""

from compiler.keras.backend import xp

__all__ = ["DropoutRNNCell"]


class DropoutRNNCell:
    """Mixin of cells with ``dropout``, ``recurrent_dropout`` and ``seed_generator``."""

    def _create_dropout_mask(self, step_input, rate):
        shape = tuple(step_input.shape)
        dtype = getattr(step_input, "dtype", None) or self.compute_dtype
        count = getattr(self, "dropout_mask_count", None)

        def one():
            keep = self.seed_generator.next().random(shape) >= rate
            return (keep / (1.0 - rate)).astype(dtype)

        return one() if count is None else [one() for _ in range(count)]

    def get_dropout_mask(self, step_input):
        if getattr(self, "_dropout_mask", None) is None and 0.0 < self.dropout < 1.0:
            self._dropout_mask = self._create_dropout_mask(step_input, self.dropout)
        return getattr(self, "_dropout_mask", None)

    def get_recurrent_dropout_mask(self, step_input):
        if getattr(self, "_recurrent_dropout_mask", None) is None and (
            0.0 < self.recurrent_dropout < 1.0
        ):
            self._recurrent_dropout_mask = self._create_dropout_mask(
                step_input, self.recurrent_dropout
            )
        return getattr(self, "_recurrent_dropout_mask", None)

    def reset_dropout_mask(self):
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        self._recurrent_dropout_mask = None

    def _recurrent_masks_array(self, training):
        """The recurrent masks stacked ``(count, B, units)`` for the fused scans, or ``None``."""
        masks = getattr(self, "_recurrent_dropout_mask", None)
        if not training or masks is None:
            return None
        return xp.stack(masks) if isinstance(masks, list) else masks[None]
