"""``Merge``: the base of the layers that combine a list of same-shaped tensors elementwise."""

from compiler.keras import ops
from compiler.keras.layers.layer import Layer

__all__ = ["Merge"]


def _fmt(shape):
    return tuple(shape)


class Merge(Layer):
    """Combines a list of tensors with ``_merge_function``; shapes must broadcast.

    Tensors of lower rank get length-1 axes inserted after the batch axis, as in Keras.
    The output mask is the OR of the input masks (when every input has one).
    """

    min_inputs = 1

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def _merge_function(self, inputs):
        raise NotImplementedError

    def _check_list(self, shapes):
        if (
            not isinstance(shapes, (list, tuple))
            or not shapes
            or not all(isinstance(s, (list, tuple)) for s in shapes)
        ):
            raise ValueError(
                f"A merge layer ({type(self).__name__} '{self.name}') should be called on a list "
                f"of inputs. Received: input_shape={shapes} (not a list of shapes)"
            )
        if len(shapes) < self.min_inputs:
            raise ValueError(
                f"Layer {self.name} ({type(self).__name__}) should be called on a list of at "
                f"least {self.min_inputs} inputs. Received {len(shapes)} inputs: "
                f"input_shape={[_fmt(s) for s in shapes]}"
            )

    def _output_shape(self, shapes):
        """Broadcast of the sample shapes, or a ValueError naming the layer and the shapes."""
        self._check_list(shapes)
        batches = {s[0] for s in shapes if s} - {None}
        if len(batches) > 1:
            raise ValueError(
                f"Layer {self.name} ({type(self).__name__}): cannot merge tensors with "
                f"different batch sizes. Received tensors with shapes "
                f"{[_fmt(s) for s in shapes]}"
            )
        out = tuple(shapes[0][1:])
        for shape in shapes[1:]:
            out = self._broadcast(out, tuple(shape[1:]), shapes)
        return (batches.pop() if batches else None, *out)

    def _broadcast(self, a, b, shapes):
        if len(a) < len(b):
            a, b = b, a
        out = list(a[: len(a) - len(b)])
        for i, j in zip(a[len(a) - len(b) :], b, strict=True):
            if i is None or j is None:
                out.append(None)
            elif i == 1 or j == 1 or i == j:
                out.append(j if i == 1 else i)
            else:
                raise ValueError(
                    f"Layer {self.name} ({type(self).__name__}): inputs have incompatible "
                    f"shapes. Received shapes {[_fmt(s) for s in shapes]}"
                )
        return tuple(out)

    def build(self, input_shape):
        self._output_shape(input_shape)
        self.built = True

    def call(self, inputs, mask=None):
        # ``mask`` is declared so that the input masks reach ``compute_mask``.
        self._output_shape([tuple(x.shape) for x in inputs])
        ranks = [x.ndim for x in inputs]
        if len(set(ranks)) > 1:
            top = max(ranks)
            inputs = [
                ops.reshape(x, (x.shape[0], *(1,) * (top - x.ndim), *x.shape[1:])) for x in inputs
            ]
        return self._merge_function(list(inputs))

    def compute_output_shape(self, input_shape):
        return self._output_shape(input_shape)

    def compute_mask(self, inputs, mask=None):
        if mask is None or not isinstance(mask, (list, tuple)):
            return None
        if any(m is None for m in mask):
            return None
        out = ops.as_tensor(mask[0]).data
        for m in mask[1:]:
            out = out | ops.as_tensor(m).data
        return out
