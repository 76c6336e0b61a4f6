"""``Concatenate``: joins a list of tensors along one axis."""

from compiler.keras import ops
from compiler.keras.backend import xp
from compiler.keras.layers.layer import Layer

__all__ = ["Concatenate", "concatenate"]


class Concatenate(Layer):
    """Concatenation along ``axis``; every other dimension must match.

    Args:
        axis: the axis to join along, default -1.

    Input shape:
        A list of tensors of the same rank.

    Output shape:
        The common shape, with ``axis`` the sum of the inputs' sizes.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self.supports_masking = True

    def _output_shape(self, shapes):
        if (
            not isinstance(shapes, (list, tuple))
            or not shapes
            or not all(isinstance(s, (list, tuple)) for s in shapes)
        ):
            raise ValueError(
                f"A `Concatenate` layer ('{self.name}') should be called on a list of inputs. "
                f"Received: input_shape={shapes}"
            )
        shapes = [tuple(s) for s in shapes]
        ranks = {len(s) for s in shapes}
        rank = shapes[0].__len__()
        bad = len(ranks) > 1 or not -rank <= self.axis < rank
        if not bad:
            axis = self.axis % rank
            for a in range(rank):
                sizes = {s[a] for s in shapes} - {None}
                if a != axis and len(sizes) > 1:
                    bad = True
        if bad:
            raise ValueError(
                f"Layer {self.name}: a `Concatenate` layer requires inputs with matching shapes "
                f"except for the concatenation axis (axis={self.axis}). Received: "
                f"input_shape={shapes}"
            )
        out = list(shapes[0])
        for a in range(rank):
            if a != axis:
                out[a] = next((s[a] for s in shapes if s[a] is not None), None)
        sizes = [s[axis] for s in shapes]
        out[axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def build(self, input_shape):
        self._output_shape(input_shape)
        self.built = True

    def call(self, inputs, mask=None):
        # ``mask`` is declared so that the input masks reach ``compute_mask``.
        self._output_shape([x.shape for x in inputs])
        return ops.concatenate(list(inputs), axis=self.axis)

    def compute_output_shape(self, input_shape):
        return self._output_shape(input_shape)

    def compute_mask(self, inputs, mask=None):
        # Keras: missing masks count as all-true; masks are joined like the inputs, then
        # reduced over the last axis when they lack it (sequence masks of feature tensors).
        if mask is None or not isinstance(mask, (list, tuple)):
            return None
        if all(m is None for m in mask):
            return None
        masks = []
        for x, m in zip(inputs, mask, strict=True):
            if m is None:
                m = xp.ones(x.shape, dtype=bool)
            else:
                m = ops.as_tensor(m).data.astype(bool)
                if m.ndim < x.ndim:
                    m = xp.broadcast_to(m[..., None], x.shape)
            masks.append(m)
        joined = xp.concatenate(masks, axis=self.axis)
        return joined.any(axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def concatenate(inputs, axis=-1, **kwargs):
    """Functional form of ``Concatenate``."""
    return Concatenate(axis=axis, **kwargs)(inputs)
