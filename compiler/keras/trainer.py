"""Training loop mixin of ``Model``: compile, fit, evaluate, predict (Keras 3's ``Trainer``).

One training step: forward with ``training=True``, the compiled loss (sum of per-output losses
times their weights), ``loss.backward()``, and the optimizer's update of
``model.trainable_weights``. Layers with state (BatchNormalization's moving statistics) update it
themselves inside ``call``. Per batch the loop only gathers the batch rows (one permutation per
epoch), so its overhead stays far below the layers' math. Where parts of a batch keep
Keras's semantics, ``fit`` splits each step over processes (see ``_data_parallel``); how many
CPUs it uses, and how, is ``_parallelism``'s business.
"""

import functools
import math

from compiler.keras import _data_parallel as data_parallel
from compiler.keras import _parallelism as parallelism
from compiler.keras import ops, random
from compiler.keras._data_adapter import (
    check_lengths,
    class_weights_to_sample,
    num_samples,
    take_rows,
    to_arrays,
    train_validation_split,
)
from compiler.keras.backend import floatx, xp
from compiler.keras.ops import no_grad

__all__ = ["Trainer"]


def _regularized(model):
    """Whether the model has losses or constraints beyond the compiled loss (the helper
    process of ``_data_parallel`` computes the compiled loss only)."""
    from compiler.keras.layers.layer import _all_sublayers

    layers = [model, *_all_sublayers(model)]
    if any(layer.activity_regularizer is not None or layer._losses for layer in layers):
        return True
    return any(v.regularizer is not None or v.constraint is not None for v in model.weights)


def _training_loop(method):
    """Runs ``method`` inside ``_parallelism.training_call()``: BLAS on the calling thread while
    the ops split batches themselves, restored when it returns."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with parallelism.training_call():
            return method(*args, **kwargs)

    return wrapper


class Trainer:
    """compile / fit / evaluate / predict for ``Model``."""

    def _init_training_state(self):
        self.optimizer = None
        self.compiled = False
        self.loss = None
        self.stop_training = False
        self.history = None
        self.steps_per_execution = 1
        self._compile_loss = None
        self._compile_metrics = None
        self._loss_tracker = None
        self._compile_config = None

    # ----------------------------------------------------------------- compile
    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        loss_weights=None,
        metrics=None,
        weighted_metrics=None,
        run_eagerly=False,
        steps_per_execution=1,
        jit_compile="auto",
        auto_scale_loss=True,
    ):
        """Configures the model for training.

        Args:
            optimizer: name (``"adam"``), class or ``keras.optimizers.Optimizer`` instance.
            loss: name, function or ``keras.losses.Loss``; for several outputs a list (output
                order) or a dict keyed by output name.
            loss_weights: float, or list / dict of per-output weights.
            metrics: list of names, functions or ``keras.metrics.Metric``s (per output: list
                of lists or dict keyed by output name). ``"accuracy"`` picks the binary,
                sparse or categorical variant from the label and output shapes.
            weighted_metrics: metrics that take ``sample_weight`` / ``class_weight`` into
                account.
            run_eagerly, steps_per_execution, jit_compile, auto_scale_loss: accepted for
                Keras compatibility (numpy always runs eagerly, one step at a time).
        """
        # Imported here: loading a model for inference (the compile command) needs none of them.
        from compiler.keras import metrics as metrics_module
        from compiler.keras import optimizers as optimizers_module
        from compiler.keras._compile_utils import CompileLoss, CompileMetrics

        optimizer = optimizers_module.get(optimizer)
        output_names = self._known_output_names()
        self.optimizer = optimizer
        self._compile_loss = (
            CompileLoss(loss, loss_weights, output_names) if loss is not None else None
        )
        self._compile_metrics = None
        if metrics is not None or weighted_metrics is not None:
            self._compile_metrics = CompileMetrics(metrics, weighted_metrics, output_names)
        self.loss = loss
        self._loss_tracker = metrics_module.Mean(name="loss")
        self.run_eagerly = run_eagerly
        self.jit_compile = False if jit_compile == "auto" else bool(jit_compile)
        self.steps_per_execution = steps_per_execution
        self.stop_training = False
        self.compiled = True
        self._compile_config = {
            "optimizer": optimizer,
            "loss": loss,
            "loss_weights": loss_weights,
            "metrics": metrics,
            "weighted_metrics": weighted_metrics,
            "run_eagerly": run_eagerly,
            "steps_per_execution": steps_per_execution,
            "jit_compile": self.jit_compile,
        }

    def get_compile_config(self):
        """Keras 3's ``compile_config``: what ``compile`` received, serialized (for .keras)."""
        if not self.compiled or self._compile_config is None:
            return {}
        from compiler.keras import losses as losses_module
        from compiler.keras import metrics as metrics_module
        from compiler.keras import optimizers as optimizers_module

        c = self._compile_config
        return {
            "optimizer": optimizers_module.serialize(c["optimizer"]),
            "loss": _map_leaves(c["loss"], losses_module.serialize),
            "loss_weights": c["loss_weights"],
            "metrics": metrics_module.serialize(c["metrics"]),
            "weighted_metrics": metrics_module.serialize(c["weighted_metrics"]),
            "run_eagerly": c["run_eagerly"],
            "steps_per_execution": c["steps_per_execution"],
            "jit_compile": c["jit_compile"],
        }

    def compile_from_config(self, config):
        """Compiles from a ``get_compile_config()`` dict and builds the optimizer's variables."""
        from compiler.keras import losses as losses_module
        from compiler.keras import metrics as metrics_module
        from compiler.keras import optimizers as optimizers_module

        config = dict(config)
        if isinstance(config.get("optimizer"), (dict, str)):
            config["optimizer"] = optimizers_module.deserialize(config["optimizer"])
        # Names stay names (Keras keeps "mse" a string); serialized objects are rebuilt.
        config["loss"] = _map_leaves(
            config.get("loss"),
            lambda v: v if v is None or isinstance(v, str) else losses_module.deserialize(v),
        )
        for key in ("metrics", "weighted_metrics"):
            config[key] = metrics_module.deserialize(config.get(key))
        known = (
            "optimizer",
            "loss",
            "loss_weights",
            "metrics",
            "weighted_metrics",
            "run_eagerly",
            "steps_per_execution",
            "jit_compile",
            "auto_scale_loss",
        )
        self.compile(**{k: v for k, v in config.items() if k in known})
        if self.built:
            self.optimizer.build(self.trainable_weights)

    def _known_output_names(self):
        try:
            return list(self.output_names)
        except (AttributeError, IndexError, TypeError):
            return None

    def _known_input_names(self):
        try:
            return list(self.input_names)
        except (AttributeError, IndexError, TypeError):
            return None

    # ----------------------------------------------------------------- metrics
    @property
    def metrics(self):
        """Loss tracker, compiled metrics, per-output loss trackers (Keras 3's order)."""
        if not self.compiled:
            return []
        out = [self._loss_tracker]
        if self._compile_metrics is not None:
            out += self._compile_metrics.metrics
        if self._compile_loss is not None:
            out += self._compile_loss.metrics
        return out

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for metric in self.metrics:
            metric.reset_state()

    def get_metrics_result(self):
        """``{name: value}`` of every metric, sorted by name as Keras's logs are."""
        results = {"loss": self._loss_tracker.result()}
        if self._compile_metrics is not None and self._compile_metrics.built:
            results.update(self._compile_metrics.result())
        if self._compile_loss is not None:
            for tracker in self._compile_loss.metrics:
                results[tracker.name] = tracker.result()
        return {k: float(results[k]) for k in sorted(results)}

    def _assert_compile_called(self, method):
        if not self.compiled:
            raise ValueError(f"You must call `compile()` before calling `{method}()`.")

    # ----------------------------------------------------------------- data
    def _standardize(self, x, y=None, sample_weight=None, what="fit"):
        if x is None:
            raise ValueError(f"`{what}()` needs input data `x`. Received: x=None")
        input_names = self._known_input_names() or ["input"]
        if not self.built and isinstance(x, (list, tuple, dict)) and len(input_names) == 1:
            input_names = ["input"]
        xs = to_arrays(x, input_names, "x")
        if len(xs) != len(input_names) and self.built:
            raise ValueError(
                f"Model expects {len(input_names)} inputs {input_names}; received "
                f"{len(xs)} arrays in `x`."
            )
        output_names = self._known_output_names() or ["output"]
        ys = to_arrays(y, output_names, "y")
        sws = to_arrays(sample_weight, output_names, "sample_weight")
        if sws is not None and len(sws) == 1 and len(output_names) > 1:
            sws = sws * len(output_names)
        check_lengths({"x": xs, "y": ys, "sample_weight": sws})
        xs = [self._cast_input(a, i) for i, a in enumerate(xs)]
        return xs, ys, sws

    def _cast_input(self, array, index):
        # One cast of the whole input array up front (float64 data into a float32 model), not
        # one per batch.
        try:
            dtype = xp.dtype(self.inputs[index].dtype)
        except (AttributeError, IndexError, TypeError):
            return array
        if array.dtype.kind == "f" and dtype.kind == "f" and array.dtype != dtype:
            return array.astype(dtype)
        return array

    def _forward(self, xs, training):
        out = self(xs[0] if len(xs) == 1 else list(xs), training=training)
        if isinstance(out, dict):
            names = self._known_output_names()
            return (
                [out[n] for n in names] if names and set(names) == set(out) else list(out.values())
            )
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def _preflight(self, xs, ys, sws):
        """Runs model, loss and metrics once on two samples, so that shape and name errors
        surface before any callback or training step; metric state is reset afterwards."""
        head = slice(0, min(2, num_samples(xs)))
        with no_grad():
            preds = self._forward([a[head] for a in xs], training=False)
            if ys is not None:
                if len(ys) != len(preds):
                    raise ValueError(
                        f"The model has {len(preds)} outputs but `y` holds {len(ys)} arrays."
                    )
                y_head = [None if a is None else a[head] for a in ys]
                sw_head = None if sws is None else [None if a is None else a[head] for a in sws]
                if self._compile_loss is not None:
                    self._compile_loss(y_head, preds, sw_head)
                if self._compile_metrics is not None:
                    self._compile_metrics.update_state(y_head, preds, sw_head)
        self.reset_metrics()

    # ----------------------------------------------------------------- steps
    def _gradients(self, xs, ys, sws, variables):
        """Forward, loss and backward on one batch: ``(loss, preds, grads)``."""
        preds = self._forward(xs, training=True)
        compiled = self._compile_loss(ys, preds, sws) if self._compile_loss is not None else None
        # As Keras 3's compute_loss: with no compiled loss, the model's own losses (add_loss,
        # regularizers) are trained on alone; with neither there is nothing to minimize.
        loss = self._with_added_losses(compiled)
        if loss is None:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        for v in variables:
            v.grad = None
        self.optimizer.scale_loss(loss).backward()
        grads = [v.grad for v in variables]
        for v in variables:
            v.grad = None
        return loss, preds, grads

    def _train_batch(self, xs, ys, sws, variables):
        loss, preds, grads = self._gradients(xs, ys, sws, variables)
        self.optimizer.apply(grads, variables)
        self._update_trackers(loss, preds, ys, sws)

    def _test_batch(self, xs, ys, sws):
        preds = self._forward(xs, training=False)
        loss = self._compile_loss(ys, preds, sws) if self._compile_loss is not None else None
        self._update_trackers(self._with_added_losses(loss), preds, ys, sws)

    def _with_added_losses(self, loss):
        """The compiled loss plus the sum of ``self.losses`` (regularizers, ``add_loss``), as
        Keras 3's ``compute_loss`` adds them, in training and in evaluation."""
        added = self.losses
        if not added:
            return loss
        dtype = loss.dtype if loss is not None else xp.dtype(floatx())
        for extra in added:
            extra = ops.sum(ops.cast(extra, dtype))
            loss = extra if loss is None else loss + extra
        return loss

    def _update_trackers(self, loss, preds, ys, sws):
        batch = int(preds[0].shape[0])
        if loss is not None:
            self._loss_tracker.update_state(loss.data, sample_weight=batch)
        if self._compile_metrics is not None:
            # Tensors, not arrays: metrics read the outputs' Keras masks.
            self._compile_metrics.update_state(ys, preds, sws)

    # ----------------------------------------------------------------- fit
    @_training_loop
    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
    ):
        """Trains the model for ``epochs`` epochs; returns a ``History``.

        Args:
            x: inputs: an array, a list of arrays or a dict keyed by input name.
            y: targets: an array, a list of arrays or a dict keyed by output name.
            batch_size: samples per gradient update, default 32.
            epochs: index of the last epoch (training runs from ``initial_epoch``).
            verbose: ``"auto"`` (1 when stdout is a terminal, else 2), 0 (silent), 1 (a
                progress bar, redrawn only on a terminal) or 2 (one line per epoch).
            callbacks: list of ``keras.callbacks.Callback``.
            validation_split: fraction in [0, 1) of the data, taken from the end before
                shuffling, used for validation.
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``;
                overrides ``validation_split``.
            shuffle: reshuffle the training samples every epoch.
            class_weight: dict class index -> weight applied to the loss (single output).
            sample_weight: per-sample weights of the loss.
            initial_epoch: epoch to start from (to resume training).
            steps_per_epoch: batches per epoch (default: all the data).
            validation_steps, validation_batch_size, validation_freq: as in Keras.
        """
        self._assert_compile_called("fit")
        batch_size = _check_batch_size(batch_size)
        if not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"`epochs` must be a non-negative integer. Received: epochs={epochs}")
        xs, ys, sws = self._standardize(x, y, sample_weight, "fit")
        if ys is None and self._compile_loss is not None:
            raise ValueError("`fit()` needs targets `y` for the compiled loss. Received: y=None")
        if class_weight is not None:
            if ys is None:
                raise ValueError("`class_weight` needs targets `y`. Received: y=None")
            if len(ys) > 1:
                raise ValueError("`class_weight` is only supported for models with one output.")
            weights = class_weights_to_sample(class_weight, ys[0])
            sws = [weights if sws is None or sws[0] is None else sws[0] * weights]
        val = None
        if validation_data is not None:
            val = self._unpack_validation(validation_data)
        elif validation_split:
            (xs, ys, sws), (vx, vy, vsw) = train_validation_split([xs, ys, sws], validation_split)
            val = (vx, vy, vsw)
        elif isinstance(validation_split, bool) or not 0 <= validation_split < 1:
            train_validation_split([xs, ys, sws], validation_split)
        self._preflight(xs, ys, sws)
        if val is not None:
            self._preflight(*val)

        n = num_samples(xs)
        batches = math.ceil(n / batch_size)
        steps = steps_per_epoch or batches
        from compiler.keras.callbacks import CallbackList, History

        if verbose == "auto":
            from compiler.keras.utils.progbar import dynamic_display

            # In a log (CI, a pipe) one line per epoch, as Keras's verbose=2.
            verbose = 1 if dynamic_display() else 2
        callback_list = CallbackList(
            callbacks,
            add_history=True,
            add_progbar=verbose != 0,
            model=self,
            verbose=verbose,
            epochs=epochs,
            steps=steps,
        )
        history = next(cb for cb in callback_list.callbacks if isinstance(cb, History))
        variables = self.trainable_weights
        self.stop_training = False
        callback_list.on_train_begin()
        training_logs = None
        cursor = _Cursor(n, batch_size, shuffle)
        parallel = None
        if (
            epochs > initial_epoch
            and not _regularized(self)
            and data_parallel.eligible(self, batch_size, ys)
        ):
            processes = data_parallel.process_count(batch_size)
            parallel = data_parallel.DataParallel(self, xs, ys, sws, variables, processes)
        try:
            for epoch in range(initial_epoch, epochs):
                self.reset_metrics()
                callback_list.on_epoch_begin(epoch)
                if steps_per_epoch is None:
                    cursor.new_epoch()
                for step in range(steps):
                    callback_list.on_train_batch_begin(step)
                    rows = cursor.next_batch()
                    batch = (take_rows(xs, rows), take_rows(ys, rows), take_rows(sws, rows))
                    if parallel is None:
                        self._train_batch(*batch, variables)
                    else:
                        self._update_trackers(*parallel.step(rows), *batch[1:])
                    logs = self.get_metrics_result() if callback_list.wants_batch_logs else None
                    callback_list.on_train_batch_end(step, logs)
                    if self.stop_training:
                        break
                epoch_logs = self.get_metrics_result()
                if val is not None and _should_validate(epoch, validation_freq):
                    val_logs = self._evaluate_arrays(
                        *val,
                        batch_size=validation_batch_size or batch_size,
                        steps=validation_steps,
                        callback_list=callback_list,
                    )
                    epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
                callback_list.on_epoch_end(epoch, epoch_logs)
                training_logs = epoch_logs
                if self.stop_training:
                    break
        finally:
            if parallel is not None:
                parallel.close()
        if epochs > initial_epoch:
            self.optimizer.finalize_variable_values(variables)
        callback_list.on_train_end(training_logs)
        self.history = history
        return history

    def _unpack_validation(self, data):
        if not isinstance(data, (list, tuple)) or len(data) not in (2, 3):
            raise ValueError(
                "`validation_data` must be a tuple `(x_val, y_val)` or "
                f"`(x_val, y_val, val_sample_weight)`. Received: {type(data).__name__}"
                f"{'' if not isinstance(data, (list, tuple)) else f' of length {len(data)}'}"
            )
        vx, vy = data[0], data[1]
        vsw = data[2] if len(data) == 3 else None
        return self._standardize(vx, vy, vsw, "fit")

    # ----------------------------------------------------------------- evaluate / predict
    @_training_loop
    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict=False,
        **kwargs,
    ):
        """Returns the loss and metrics on the data: ``[loss, *metrics]``, a scalar loss when
        there are no metrics, or a dict with ``return_dict=True``."""
        self._assert_compile_called("evaluate")
        batch_size = _check_batch_size(batch_size)
        xs, ys, sws = self._standardize(x, y, sample_weight, "evaluate")
        self._preflight(xs, ys, sws)
        from compiler.keras.callbacks import CallbackList

        verbose = 1 if verbose == "auto" else verbose
        total = steps or math.ceil(num_samples(xs) / batch_size)
        callback_list = CallbackList(
            callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1, steps=total
        )
        logs = self._evaluate_arrays(xs, ys, sws, batch_size, steps, callback_list)
        if return_dict:
            return logs
        return self._flatten_in_order(logs)

    def _evaluate_arrays(self, xs, ys, sws, batch_size, steps, callback_list):
        n = num_samples(xs)
        total = min(steps or math.inf, math.ceil(n / batch_size))
        self.reset_metrics()
        callback_list.on_test_begin()
        logs = {}
        with no_grad():
            for step in range(total):
                callback_list.on_test_batch_begin(step)
                rows = slice(step * batch_size, (step + 1) * batch_size)
                self._test_batch(take_rows(xs, rows), take_rows(ys, rows), take_rows(sws, rows))
                logs = self.get_metrics_result()
                callback_list.on_test_batch_end(step, logs)
        logs = self.get_metrics_result()
        callback_list.on_test_end(logs)
        return logs

    def _flatten_in_order(self, logs):
        names = [m.name for m in [self._loss_tracker]]
        if self._compile_metrics is not None and self._compile_metrics.built:
            names += list(self._compile_metrics.result())
        if self._compile_loss is not None:
            names += [m.name for m in self._compile_loss.metrics]
        values = [logs[n] for n in names if n in logs]
        values += [logs[k] for k in sorted(logs) if k not in names]
        return values[0] if len(values) == 1 else values

    @_training_loop
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Returns the model's outputs on ``x`` as numpy (a list for several outputs)."""
        batch_size = _check_batch_size(batch_size)
        xs, _, _ = self._standardize(x, None, None, "predict")
        from compiler.keras.callbacks import CallbackList

        verbose = 1 if verbose == "auto" else verbose
        n = num_samples(xs)
        total = min(steps or math.inf, math.ceil(n / batch_size))
        callback_list = CallbackList(
            callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1, steps=total
        )
        callback_list.on_predict_begin()
        chunks = []
        with no_grad():
            for step in range(total):
                callback_list.on_predict_batch_begin(step)
                rows = slice(step * batch_size, (step + 1) * batch_size)
                outputs = [o.data for o in self._forward(take_rows(xs, rows), training=False)]
                chunks.append(outputs)
                callback_list.on_predict_batch_end(step, {"outputs": outputs})
        callback_list.on_predict_end()
        merged = [xp.concatenate([c[i] for c in chunks]) for i in range(len(chunks[0]))]
        return merged[0] if len(merged) == 1 else merged

    # ----------------------------------------------------------------- single batches
    @_training_loop
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient update on one batch; returns the running loss and metrics."""
        self._assert_compile_called("train_on_batch")
        xs, ys, sws = self._standardize(x, y, sample_weight, "train_on_batch")
        if class_weight is not None:
            weights = class_weights_to_sample(class_weight, ys[0])
            sws = [weights if sws is None or sws[0] is None else sws[0] * weights]
        if not self.built or self._compile_loss is None or not self._compile_loss.built:
            self._preflight(xs, ys, sws)
        self._train_batch(xs, ys, sws, self.trainable_weights)
        logs = self.get_metrics_result()
        return logs if return_dict else self._flatten_in_order(logs)

    @_training_loop
    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics on one batch (metrics accumulate across calls, as in Keras)."""
        self._assert_compile_called("test_on_batch")
        xs, ys, sws = self._standardize(x, y, sample_weight, "test_on_batch")
        with no_grad():
            self._test_batch(xs, ys, sws)
        logs = self.get_metrics_result()
        return logs if return_dict else self._flatten_in_order(logs)

    @_training_loop
    def predict_on_batch(self, x):
        """The model's outputs on one batch, as numpy."""
        xs, _, _ = self._standardize(x, None, None, "predict_on_batch")
        with no_grad():
            outputs = [o.data for o in self._forward(xs, training=False)]
        return outputs[0] if len(outputs) == 1 else outputs


class _Cursor:
    """Batch row indices: one shuffled permutation per epoch, or plain slices."""

    def __init__(self, n, batch_size, shuffle):
        self.n = n
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.order = None
        self.position = n

    def new_epoch(self):
        self.order = random.generator().permutation(self.n) if self.shuffle else None
        self.position = 0

    def next_batch(self):
        if self.position >= self.n:
            self.new_epoch()
        start = self.position
        self.position = min(start + self.batch_size, self.n)
        if self.order is None:
            return slice(start, self.position)
        return self.order[start : self.position]


def _check_batch_size(batch_size):
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(
            f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}"
        )
    return batch_size


def _should_validate(epoch, frequency):
    if isinstance(frequency, int):
        return (epoch + 1) % frequency == 0
    if isinstance(frequency, (list, tuple)):
        return epoch + 1 in frequency
    raise ValueError(
        f"Expected `validation_freq` to be a list or int. Received: "
        f"validation_freq={frequency} of the type {type(frequency)}."
    )


def _map_leaves(value, fn):
    if isinstance(value, dict) and "class_name" not in value:
        return {k: _map_leaves(v, fn) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_map_leaves(v, fn) for v in value]
    return fn(value)
