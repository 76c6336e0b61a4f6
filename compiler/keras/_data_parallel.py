"""Training steps split over processes, each computing part of a batch's gradients.

Threads in one process share the GIL, and a convolution step makes hundreds of short numpy
calls, each a hand-over: on the 2-core machine the slide's step took ~22 ms on two threads,
where two single-threaded processes, each on half of the batch, take ~18.6 ms (their memory
traffic slows each other by only ~5 %). So, where ``_parallelism.processes_allowed()`` (Linux,
several workers, forking safe or asked for), ``fit`` forks ``P - 1`` helper processes for its
training loop, ``P`` the worker count (at most one per 16 samples of a batch). At every step the
parent stores the weights in memory shared with the helpers and sends each its rows of the
batch; every process runs forward and backward on its part, single-threaded; the parent
averages the gradients (weighted by the parts' sizes: the loss is a mean over the batch) and the
losses in a fixed order, joins the predictions, and updates the weights, the loss tracker and
the metrics. The numbers are the whole batch's up to float rounding. Each step starts every
process from the parent's generator states and dropout draws its mask for the whole batch
(``random.batch_uniform``), so masks, and so results, do not depend on the process count.

Used only where parts keep Keras's semantics and the step is worth the hand-off: a Sequential
or Functional model made only of this package's layers that treat samples independently and
keep no state (so no BatchNormalization, no recurrent layers or masks, no subclassed model's
own ``call``), with at least one convolution, one output, a loss reduced with
``"sum_over_batch_size"``, batches of 32 samples or more.
"""

import mmap
import os
import traceback

from compiler.keras import random
from compiler.keras._data_adapter import take_rows
from compiler.keras._parallelism import one_thread, processes_allowed, training_workers
from compiler.keras.backend import xp
from compiler.keras.ops import Tensor

__all__ = ["DataParallel", "eligible", "process_count"]

_CONVOLUTIONS = {"Conv1D", "Conv2D", "DepthwiseConv2D", "SeparableConv2D"}
_PER_SAMPLE = _CONVOLUTIONS | {
    "InputLayer",
    "Dense",
    "Flatten",
    "Reshape",
    "Dropout",
    "Activation",
    "ReLU",
    "Softmax",
    "LeakyReLU",
    "ZeroPadding2D",
    "MaxPooling1D",
    "MaxPooling2D",
    "AveragePooling1D",
    "AveragePooling2D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "Add",
    "Concatenate",
    "Multiply",
}
_MIN_ROWS = 16  # per process: below, the hand-off costs more than the halved work saves


def _leaf_layers(model):
    """The layers of a Sequential or Functional model, nested ones opened."""
    from compiler.keras.models import Functional, Sequential

    for layer in model.layers:
        if isinstance(layer, (Functional, Sequential)):
            yield from _leaf_layers(layer)
        else:
            yield layer


def _per_sample(layer):
    kind = type(layer)
    return kind.__module__.startswith("compiler.keras.layers.") and kind.__name__ in _PER_SAMPLE


def process_count(batch_size):
    """How many processes (the parent included) share a batch of ``batch_size`` samples."""
    return max(1, min(training_workers(), batch_size // _MIN_ROWS))


def eligible(model, batch_size, ys):
    """Whether ``fit`` may split this model's steps over processes."""
    from compiler.keras.models import Functional, Sequential

    if process_count(batch_size) < 2 or not processes_allowed():
        return False
    if not isinstance(model, (Functional, Sequential)) or ys is None or len(ys) != 1:
        return False
    if model.non_trainable_weights or not model.trainable_weights:
        return False
    losses = getattr(model._compile_loss, "_losses", [])
    if len(losses) != 1 or getattr(losses[0][2], "reduction", None) != "sum_over_batch_size":
        return False
    layers = list(_leaf_layers(model))
    return all(_per_sample(layer) for layer in layers) and any(
        type(layer).__name__ in _CONVOLUTIONS for layer in layers
    )


def _part_sizes(total, parts):
    """``parts`` sizes summing to ``total``, the longer ones first (the parent's)."""
    base, extra = divmod(total, parts)
    return [base + 1] * extra + [base] * (parts - extra)


class DataParallel:
    """The helper processes of one ``fit`` call; ``step(rows)`` trains on one batch.

    Args:
        model, xs, ys, sws, variables: the model, its training arrays and trainable variables.
        processes: how many processes share each batch, the parent included (2 or more).
    """

    def __init__(self, model, xs, ys, sws, variables, processes):
        self.model, self.xs, self.ys, self.sws = model, xs, ys, sws
        self.variables = variables
        self.dtype = xp.result_type(*[v.data.dtype for v in variables])
        sizes = [v.data.size for v in variables]
        self.bounds = list(zip([0, *xp.cumsum(sizes)[:-1].tolist()], sizes, strict=True))
        total = max(1, sum(sizes))
        helpers = processes - 1
        self._memory = mmap.mmap(-1, (1 + helpers) * total * self.dtype.itemsize)
        shared = xp.frombuffer(self._memory, dtype=self.dtype)
        self.weights = shared[:total]
        # One gradient slot per helper: slot i is written only by helper i.
        self.helper_grads = [shared[(1 + i) * total : (2 + i) * total] for i in range(helpers)]
        self.own_grads = xp.empty(total, self.dtype)
        self.seeded_layers = [
            layer
            for layer in _leaf_layers(model)
            if getattr(layer, "seed_generator", None) is not None
        ]
        from multiprocessing import Pipe  # here: importing it costs `import keras` ~10 ms

        self.pids, self.conns = [], []
        try:
            for slot in range(helpers):
                parent_end, helper_end = Pipe()
                pid = os.fork()
                if pid == 0:  # a helper: serves steps until told to stop, never returns
                    parent_end.close()
                    for conn in self.conns:  # the parent's ends to earlier helpers
                        conn.close()
                    _serve(self, helper_end, slot)
                helper_end.close()
                self.pids.append(pid)
                self.conns.append(parent_end)
        except BaseException:
            self.close()
            raise

    def _states(self):
        """The generator states every process starts a step from."""
        layers = [
            None
            if layer.seed_generator.rng is None
            else random.generator_state(layer.seed_generator.rng)
            for layer in self.seeded_layers
        ]
        return random.generator_state(random.generator()), layers

    def step(self, rows):
        """One training step on batch ``rows``; returns the loss and predictions as tensors."""
        rows = xp.arange(rows.start, rows.stop) if isinstance(rows, slice) else rows
        n = len(rows)
        sizes = _part_sizes(n, min(n, 1 + len(self.conns)))
        if len(sizes) < 2:  # a last batch of one sample: nothing to split
            loss, preds, grads = self.model._gradients(
                take_rows(self.xs, rows),
                take_rows(self.ys, rows),
                take_rows(self.sws, rows),
                self.variables,
            )
            self.model.optimizer.apply(grads, self.variables)
            return loss, preds
        parts = [slice(start - size, start) for start, size in zip(xp.cumsum(sizes), sizes)]
        for v, (start, size) in zip(self.variables, self.bounds, strict=True):
            self.weights[start : start + size] = v.data.reshape(-1)
        states = self._states()
        for conn, part in zip(self.conns, parts[1:]):
            try:
                conn.send((rows[part], part, n, states))
            except OSError:
                pass  # a helper that is gone: its reply below says so
        with one_thread(), random.batch_part(parts[0], n):
            loss, preds = _part_step(self, rows[parts[0]], self.own_grads)
        losses, predictions = [loss], [preds]
        for conn in self.conns[: len(parts) - 1]:
            try:
                reply = conn.recv()
            except (EOFError, OSError):
                reply = ("error", "it exited during a step (killed, or out of memory?)")
            if reply[0] == "error":
                raise RuntimeError(f"a data-parallel helper process failed:\n{reply[1]}")
            losses.append(reply[1])
            predictions.append(reply[2])
        shares = [size / n for size in sizes]
        grads = self.own_grads * self.dtype.type(shares[0])
        for helper_grads, share in zip(self.helper_grads, shares[1:]):
            grads += helper_grads * self.dtype.type(share)
        self.model.optimizer.apply(
            [
                grads[start : start + size].reshape(v.data.shape)
                for v, (start, size) in zip(self.variables, self.bounds, strict=True)
            ],
            self.variables,
        )
        loss = sum(part_loss * share for part_loss, share in zip(losses, shares))
        return Tensor(xp.asarray(loss, dtype=self.dtype)), [Tensor(xp.concatenate(predictions))]

    def close(self):
        """Stops and joins every helper; the shared memory goes with its last view."""
        for conn in self.conns:
            try:
                conn.send(None)
            except OSError:
                pass
            conn.close()
        for pid in self.pids:
            os.waitpid(pid, 0)
        self.conns, self.pids = [], []
        self.weights = self.helper_grads = self._memory = None


def _part_step(parallel, rows, grads):
    """Forward and backward on ``rows``; gradients into the flat ``grads``."""
    loss, preds, per_variable = parallel.model._gradients(
        take_rows(parallel.xs, rows),
        take_rows(parallel.ys, rows),
        take_rows(parallel.sws, rows),
        parallel.variables,
    )
    for g, (start, size) in zip(per_variable, parallel.bounds, strict=True):
        grads[start : start + size] = 0 if g is None else g.reshape(-1)
    return float(loss.data), preds[0].data


def _serve(parallel, conn, slot):
    """A helper's life: one thread, steps into gradient slot ``slot`` until ``None``."""
    status = 0
    grads = parallel.helper_grads[slot]
    try:
        with one_thread():
            while True:
                try:
                    message = conn.recv()
                except EOFError:
                    break
                if message is None:
                    break
                rows, part, batch_size, (global_state, layer_states) = message
                try:
                    random.set_generator(random.restored_generator(global_state))
                    for layer, state in zip(parallel.seeded_layers, layer_states, strict=True):
                        if state is not None:
                            layer.seed_generator.rng = random.restored_generator(state)
                    for v, (start, size) in zip(parallel.variables, parallel.bounds, strict=True):
                        v.data[...] = parallel.weights[start : start + size].reshape(v.data.shape)
                    with random.batch_part(part, batch_size):
                        loss, preds = _part_step(parallel, rows, grads)
                    conn.send(("ok", loss, preds))
                except Exception:  # reported to the parent, which raises it
                    conn.send(("error", traceback.format_exc()))
    except BaseException:  # noqa: BLE001 - the helper must never run the parent's code on
        status = 1
    finally:
        os._exit(status)
