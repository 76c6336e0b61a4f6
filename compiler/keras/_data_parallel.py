"""Training steps split over two processes, each computing half of a batch's gradients.

Two threads in one process share the GIL, and a convolution step makes hundreds of short numpy
calls, each a hand-over: on the 2-core machine the slide's step took ~22 ms on two threads,
where two single-threaded processes, each on half of the batch, take ~18.6 ms (their memory
traffic slows each other by only ~5 %). So, on Linux with two CPUs, ``fit`` forks one helper
process for its training loop. At every step the parent stores the weights in memory shared
with the helper and sends it the rows of the batch's second half; both run forward and backward
on their half, single-threaded; the parent averages the gradients (weighted by the halves'
sizes: the loss is a mean over the batch) and the two losses, joins the predictions, and updates
the weights, the loss tracker and the metrics. The numbers are the whole batch's up to float
rounding; dropout in the helper draws from jumped copies of the parent's random generators.

Used only where halves keep Keras's semantics and the step is worth the hand-off: a Sequential
or Functional model made only of this package's layers that treat samples independently and
keep no state (so no BatchNormalization, no recurrent layers or masks, no subclassed model's
own ``call``), with at least one convolution, one output, a loss reduced with
``"sum_over_batch_size"``, batches of 32 samples or more.
"""

import mmap
import os
import sys
import traceback

from compiler.keras import random
from compiler.keras._data_adapter import take_rows
from compiler.keras.backend import xp
from compiler.keras.ops import Tensor
from compiler.keras.ops._parallel import one_thread, two_threads

__all__ = ["DataParallel", "eligible"]

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
_MIN_BATCH = 32


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


def eligible(model, batch_size, ys):
    """Whether ``fit`` may split this model's steps over two processes."""
    from compiler.keras.models import Functional, Sequential

    # Linux only: elsewhere a forked child may not use the BLAS (macOS's Accelerate) safely.
    if not (sys.platform.startswith("linux") and two_threads() and batch_size >= _MIN_BATCH):
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


class DataParallel:
    """The helper process of one ``fit`` call; ``step(rows)`` trains on one batch."""

    def __init__(self, model, xs, ys, sws, variables):
        self.model, self.xs, self.ys, self.sws = model, xs, ys, sws
        self.variables = variables
        self.dtype = xp.result_type(*[v.data.dtype for v in variables])
        sizes = [v.data.size for v in variables]
        self.bounds = list(zip([0, *xp.cumsum(sizes)[:-1].tolist()], sizes, strict=True))
        total = max(1, sum(sizes))
        self._memory = mmap.mmap(-1, 2 * total * self.dtype.itemsize)
        shared = xp.frombuffer(self._memory, dtype=self.dtype)
        self.weights, self.helper_grads = shared[:total], shared[total:]
        self.own_grads = xp.empty(total, self.dtype)
        from multiprocessing import Pipe  # here: importing it costs `import keras` ~10 ms

        parent_end, helper_end = Pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the helper: serves steps until told to stop, never returns
            parent_end.close()
            _serve(self, helper_end)
        helper_end.close()
        self.conn = parent_end

    def step(self, rows):
        """One training step on batch ``rows``; returns the loss and predictions as tensors."""
        rows = xp.arange(rows.start, rows.stop) if isinstance(rows, slice) else rows
        if len(rows) < 2:  # a last batch of one sample: nothing to split
            loss, preds, grads = self.model._gradients(
                take_rows(self.xs, rows),
                take_rows(self.ys, rows),
                take_rows(self.sws, rows),
                self.variables,
            )
            self.model.optimizer.apply(grads, self.variables)
            return loss, preds
        first = (len(rows) + 1) // 2
        for v, (start, size) in zip(self.variables, self.bounds, strict=True):
            self.weights[start : start + size] = v.data.reshape(-1)
        try:
            self.conn.send(rows[first:])
        except OSError:
            pass  # a helper that is gone: the reply below says so
        with one_thread():
            loss, preds = _half_step(self, rows[:first], self.own_grads)
        try:
            reply = self.conn.recv()
        except (EOFError, OSError):
            reply = ("error", "it exited during a step (killed, or out of memory?)")
        if reply[0] == "error":
            raise RuntimeError(f"the data-parallel helper process failed:\n{reply[1]}")
        _, helper_loss, helper_preds = reply
        share = first / len(rows)
        grads = self.own_grads * self.dtype.type(share)
        grads += self.helper_grads * self.dtype.type(1 - share)
        self.model.optimizer.apply(
            [
                grads[start : start + size].reshape(v.data.shape)
                for v, (start, size) in zip(self.variables, self.bounds, strict=True)
            ],
            self.variables,
        )
        loss = loss * share + helper_loss * (1 - share)
        return Tensor(xp.asarray(loss, dtype=self.dtype)), [
            Tensor(xp.concatenate([preds, helper_preds]))
        ]

    def close(self):
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.conn.close()
        os.waitpid(self.pid, 0)
        # The shared memory goes when its last array view does.
        self.weights = self.helper_grads = self._memory = None


def _half_step(parallel, rows, grads):
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


def _jumped(generator):
    """A generator far ahead in ``generator``'s stream; ``generator`` itself is left as it is,
    so the parent draws (shuffles, its own masks) exactly what it would in one process."""
    return xp.random.Generator(generator.bit_generator.jumped())


def _serve(parallel, conn):
    """The helper's life: random streams of its own, one thread, steps until ``None``."""
    status = 0
    try:
        random.set_generator(_jumped(random.generator()))
        for layer in _leaf_layers(parallel.model):
            seeds = getattr(layer, "seed_generator", None)
            if seeds is not None and seeds.rng is not None:
                seeds.rng = _jumped(seeds.rng)
        with one_thread():
            while True:
                try:
                    rows = conn.recv()
                except EOFError:
                    break
                if rows is None:
                    break
                try:
                    for v, (start, size) in zip(parallel.variables, parallel.bounds, strict=True):
                        v.data[...] = parallel.weights[start : start + size].reshape(v.data.shape)
                    loss, preds = _half_step(parallel, rows, parallel.helper_grads)
                    conn.send(("ok", loss, preds))
                except Exception:  # reported to the parent, which raises it
                    conn.send(("error", traceback.format_exc()))
    except BaseException:  # noqa: BLE001 - the helper must never run the parent's code on
        status = 1
    finally:
        os._exit(status)
