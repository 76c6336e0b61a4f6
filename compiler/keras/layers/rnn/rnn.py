"""``RNN``: runs a cell over the time axis (Keras 3's ``keras.layers.RNN``).

A cell whose activations the fused scans know runs as ONE autodiff node per layer call
(``cell._fused_scan``: one input GEMM for all steps, then a numpy loop with a hand-written
backward). Any other cell runs step by step through ``cell.call`` with ordinary ops. Both follow
Keras's masking rule (see ``compiler.keras.ops._recurrent``).
"""

import inspect

from compiler.keras import ops
from compiler.keras.layers.layer import InputSpec, Layer
from compiler.keras.layers.rnn._common import (
    deserialize_layer,
    prefix_paths,
    serialize_layer,
)
from compiler.keras.layers.rnn.dropout_rnn_cell import DropoutRNNCell

__all__ = ["RNN"]


class RNN(Layer):
    """Base class for recurrent layers.

    Args:
        cell: an RNN cell: a layer with ``call(inputs, states)`` returning
            ``(output, new_states)`` and a ``state_size`` (int or list of ints).
        return_sequences: return the whole output sequence, not only the last output.
        return_state: also return the final states.
        go_backwards: process the sequence backwards (and return the reversed sequence).
        stateful: only ``False`` is supported.
        unroll: accepted for compatibility; it changes nothing here.
        zero_output_for_mask: masked steps output zeros instead of the previous output.

    Call arguments:
        sequences: ``(batch, timesteps, features)``.
        initial_state: a tensor or list of tensors ``(batch, state_size)``; default zeros.
        mask: ``(batch, timesteps)`` booleans, ``False`` for steps to skip (an
            ``Embedding(mask_zero=True)`` before the layer provides it).
        training: enables ``dropout`` / ``recurrent_dropout``.

    Input shape:
        3-D tensor ``(batch, timesteps, features)``.

    Output shape:
        ``(batch, timesteps, units)`` with ``return_sequences``, else ``(batch, units)``; with
        ``return_state`` a tuple ``(output, *final_states)``.
    """

    def __init__(
        self,
        cell,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        activity_regularizer=None,
        **kwargs,
    ):
        if isinstance(cell, (list, tuple)):
            raise ValueError(
                "A list of cells (StackedRNNCells) is not supported: stack RNN layers with "
                f"return_sequences=True instead. Received: cell={cell!r}"
            )
        if not callable(getattr(cell, "call", None)) or getattr(cell, "state_size", None) is None:
            raise ValueError(
                "Argument `cell` should have a `call` method and a `state_size` attribute. "
                f"Received: cell={cell!r}"
            )
        if stateful:
            raise ValueError(
                f"{type(self).__name__}: stateful=True is not supported; pass the state "
                "explicitly with `initial_state` and `return_state=True`."
            )
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.zero_output_for_mask = zero_output_for_mask
        self.cell = cell
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.stateful = stateful
        self.unroll = unroll
        self.supports_masking = True
        self.input_spec = InputSpec(min_ndim=3)
        self.states = None
        sizes = cell.state_size
        self.single_state = isinstance(sizes, int)
        self.state_size = [sizes] if self.single_state else list(sizes)
        # Tests switch this off to compare the fused scans with the step-by-step path.
        self._use_fused = True

    # ----------------------------------------------------------------- shapes
    def build(self, sequences_shape, initial_state_shape=None):
        if sequences_shape[-1] is None:
            raise ValueError(
                f"The last dimension (features) of the input to layer '{self.name}' must be "
                f"defined. Received: input_shape={tuple(sequences_shape)}"
            )
        if isinstance(self.cell, Layer):
            self.cell._maybe_build((sequences_shape[0], *sequences_shape[2:]))
            prefix_paths(self.cell, self.name)
        self.input_spec = InputSpec(ndim=len(sequences_shape), axes={-1: sequences_shape[-1]})
        self.built = True

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, steps = sequences_shape[0], sequences_shape[1]
        units = getattr(self.cell, "output_size", None) or self.state_size[0]
        output = (batch, steps, units) if self.return_sequences else (batch, units)
        if self.return_state:
            return (output, *[(batch, size) for size in self.state_size])
        return output

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.state_size)
        return output_mask

    # ----------------------------------------------------------------- calling
    def call(self, sequences, initial_state=None, mask=None, training=False):
        batch, steps = sequences.shape[0], sequences.shape[1]
        if steps == 0:
            raise ValueError(
                f"Layer '{self.name}' received a sequence with 0 timesteps: "
                f"input shape {tuple(sequences.shape)}"
            )
        if sequences.dtype != self.compute_dtype:  # integer inputs, as Keras casts them
            sequences = ops.cast(sequences, self.compute_dtype)
        mask = self._step_mask(mask, batch, steps)
        states = self._initial_states(initial_state, batch)
        cell = self.cell
        dropping = bool(training) and isinstance(cell, DropoutRNNCell)
        if dropping:
            cell.get_dropout_mask(sequences[:, 0])
            cell.get_recurrent_dropout_mask(states[0])
        try:
            rank = sequences.ndim
            x_tm = ops.transpose(sequences, (1, 0, *range(2, rank)))
            mask_tm = None if mask is None else mask.T
            if self.go_backwards:
                x_tm = ops.flip(x_tm, 0)
                mask_tm = None if mask_tm is None else mask_tm[::-1]
            result = None
            scan = getattr(cell, "_fused_scan", None) if self._use_fused else None
            if scan is not None:
                result = scan(
                    x_tm,
                    states,
                    mask_tm,
                    bool(training),
                    self.zero_output_for_mask,
                    self.return_sequences,
                )
            if result is None:
                result = self._step_loop(x_tm, states, mask_tm, bool(training))
            outputs, states = result
        finally:
            if dropping:
                cell.reset_dropout_mask()
                cell.reset_recurrent_dropout_mask()
        if self.return_sequences:
            outputs = ops.transpose(outputs, (1, 0, *range(2, outputs.ndim)))
        if self.return_state:
            return (outputs, *states)
        return outputs

    def _step_loop(self, x_tm, states, mask_tm, training):
        """Keras's ``backend.rnn`` loop, one ``cell.call`` per step, with ordinary ops."""
        kwargs = {}
        if "training" in inspect.signature(self.cell.call).parameters:
            kwargs["training"] = training
        outputs, previous = [], None
        for t in range(x_tm.shape[0]):
            output, new_states = self.cell.call(x_tm[t], states, **kwargs)
            if not isinstance(new_states, (list, tuple)):
                new_states = [new_states]
            if mask_tm is not None:
                keep = mask_tm[t][:, None]
                if self.zero_output_for_mask or previous is None:
                    previous = ops.zeros_like(output)
                output = ops.where(keep, output, previous)
                new_states = [ops.where(keep, n, s) for n, s in zip(new_states, states)]
                previous = output
            states = list(new_states)
            if self.return_sequences:
                outputs.append(output)
        return (ops.stack(outputs, axis=0) if self.return_sequences else output), states

    def _step_mask(self, mask, batch, steps):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if mask is None:
            return None
        mask = ops.convert_to_numpy(mask).astype(bool)
        if mask.shape != (batch, steps):
            raise ValueError(
                f"Layer '{self.name}' expects a mask of shape (batch, timesteps) = "
                f"{(batch, steps)}. Received: mask.shape={mask.shape}"
            )
        return mask

    def get_initial_state(self, batch_size):
        make = getattr(self.cell, "get_initial_state", None)
        if make is not None:
            states = make(batch_size=batch_size)
            return list(states) if isinstance(states, (list, tuple)) else [states]
        from compiler.keras.backend import xp

        return [ops.Tensor(xp.zeros((batch_size, d), self.compute_dtype)) for d in self.state_size]

    def reset_state(self):
        """Keras API: resets a stateful layer's states. Layers here are never stateful."""

    reset_states = reset_state

    def _initial_states(self, initial_state, batch):
        if initial_state is None:
            return self.get_initial_state(batch)
        states = (
            list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        )
        if len(states) != len(self.state_size):
            raise ValueError(
                f"Layer '{self.name}' expects {len(self.state_size)} initial state tensor(s) of "
                f"sizes {self.state_size}. Received: {len(states)} tensor(s)"
            )
        out = []
        for k, (state, size) in enumerate(zip(states, self.state_size)):
            state = ops.as_tensor(state)
            if tuple(state.shape) != (batch, size):
                raise ValueError(
                    f"Layer '{self.name}': initial state {k} must have shape (batch, units) = "
                    f"{(batch, size)}. Received: shape {tuple(state.shape)}"
                )
            if state.dtype != self.compute_dtype:
                state = ops.cast(state, self.compute_dtype)
            out.append(state)
        return out

    # ----------------------------------------------------------------- config
    def get_config(self):
        config = {
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
            "cell": serialize_layer(self.cell),
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        cell = deserialize_layer(config.pop("cell"))
        return cls(cell, **config)


def cell_properties(cls, names):
    """Exposes the cell's attributes on the layer, read-only, as Keras's LSTM / GRU do."""
    for name in names:
        setattr(cls, name, property(lambda self, n=name: getattr(self.cell, n)))
    return cls
