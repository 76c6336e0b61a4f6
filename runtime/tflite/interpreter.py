"""``Interpreter``: LiteRT's ``ai_edge_litert.interpreter.Interpreter`` Python API over numpy
kernels, so that code written for LiteRT runs unchanged.

All kernels follow TFLite's *reference* kernels (what LiteRT runs with
``experimental_op_resolver_type=OpResolverType.BUILTIN_REF``); int8 results are bit-exact with
them. Errors in the file are ``InvalidModelError`` / ``UnsupportedOpError``; errors in what the
caller feeds are ``InvalidInputError``; all are ``ValueError``s, as LiteRT raises. A model that
needs more work or memory than the interpreter's ``runtime.Limits`` allow raises
``BudgetExceededError`` (an ``InvalidModelError``).

Like LiteRT's, an ``Interpreter`` is not thread-safe: use one per thread. Calling it from a
second thread while a call is in progress raises ``RuntimeError`` instead of mixing the two
threads' tensors.
"""

from __future__ import annotations

import math
import os
import threading

import numpy as np

from runtime._budget import (
    DEFAULT_MAX_MEMORY_BYTES,
    DEFAULT_MAX_NODES,
    Budget,
    Limits,
    activate,
    deactivate,
    running,
)
from runtime._fperrors import quiet
from runtime._parallel import default_threads, threads
from runtime.errors import BudgetExceededError, InvalidInputError, InvalidModelError
from runtime.tflite import _sparse, _strings, schema
from runtime.tflite._batching import batch_carriers, run_sliced
from runtime.tflite._executor import SubgraphCaller
from runtime.tflite.model import MAX_ACTIVATION_BYTES, read_model

DEFAULT_MAX_LOOP_ITERATIONS = Limits().max_loop_iterations


class Interpreter:
    """Runs a ``.tflite`` model.

    Args:
        model_path: path of a ``.tflite`` file.
        model_content: the file's bytes (exactly one of the two).
        experimental_delegates: accepted for compatibility; delegates are not supported and
            must be empty.
        num_threads: threads for the heavy kernels (None: every core this process may use).
            BLAS runs single-threaded inside ``invoke`` and gets its setting back afterwards.
        experimental_op_resolver_type: accepted for compatibility; the kernels are always
            TFLite's reference kernels.
        experimental_preserve_all_tensors: keep every intermediate tensor after ``invoke`` so
            that ``get_tensor`` can read it.
        max_loop_iterations: cap on WHILE iterations of one ``invoke``, all loops together
            (nested ones included), and of any one loop.
        max_activation_bytes: largest tensor without constant data accepted from the file
            (and by ``resize_tensor_input``), and largest tensor computed while running.
        limits: the whole budget of each ``invoke`` and of loading (``runtime.Limits``); when
            given, its ``max_loop_iterations`` and ``max_tensor_bytes`` replace the two
            arguments above for running (the file's declared sizes are still checked against
            ``max_activation_bytes``).
        **kwargs: other LiteRT ``experimental_*`` flags, accepted and ignored.

    Raises:
        InvalidModelError: the file is not a valid model.
        UnsupportedOpError: the model uses an operator this runtime does not implement.
        BudgetExceededError: loading it (constant folding, operators listed) needs more than
            the limits allow.
    """

    def __init__(
        self,
        model_path=None,
        model_content=None,
        experimental_delegates=None,
        num_threads=None,
        experimental_op_resolver_type=None,
        experimental_preserve_all_tensors=False,
        max_loop_iterations=DEFAULT_MAX_LOOP_ITERATIONS,
        max_activation_bytes=MAX_ACTIVATION_BYTES,
        limits: Limits | None = None,
        **kwargs,
    ):
        unknown = [k for k in kwargs if not k.startswith("experimental_")]
        if unknown:
            raise TypeError(f"Interpreter() got unexpected keyword arguments {unknown}")
        if num_threads is not None and (not isinstance(num_threads, int) or num_threads < 1):
            raise ValueError("num_threads should >= 1")
        if experimental_delegates:
            raise ValueError("delegates are not supported by the reference runtime")
        if model_path is not None and model_content is not None:
            raise ValueError("Can't both provide `model_path` and `model_content`")
        if model_path is not None:
            try:
                with open(os.fspath(model_path), "rb") as f:
                    model_content = f.read()
            except OSError as e:
                raise ValueError(f"Failed to open {model_path}") from e
        elif model_content is None:
            raise ValueError("`model_path` or `model_content` must be specified.")
        if limits is None:
            limits = Limits(
                max_loop_iterations=int(max_loop_iterations),
                max_nodes=DEFAULT_MAX_NODES,
                max_tensor_bytes=int(max_activation_bytes),
                # a caller who allows larger activations than the default allows holding them
                max_memory_bytes=max(
                    DEFAULT_MAX_MEMORY_BYTES,
                    int(max_activation_bytes) if max_activation_bytes > MAX_ACTIVATION_BYTES else 0,
                ),
            )
        elif not isinstance(limits, Limits):
            raise TypeError(f"limits must be a runtime.Limits. Received: {type(limits).__name__}")
        self._limits = limits
        self._max_activation_bytes = int(max_activation_bytes)
        # Held while a call runs, so that a second thread's call fails instead of mixing in.
        self._busy = threading.Lock()
        with running(Budget(limits)):
            self._model = read_model(model_content, self._max_activation_bytes)
            self._preserve = bool(experimental_preserve_all_tensors)
            self._num_threads = num_threads or default_threads()
            self._caller = SubgraphCaller(
                self._model, limits.max_loop_iterations, limits.max_tensor_bytes
            )
            self._caller.preserve = self._preserve
            self._main = self._caller.executor(0)
        sg = self._model.subgraphs[0]
        self._shapes = {i: tuple(t.shape) for i, t in enumerate(sg.tensors)}
        self._inputs: dict[int, np.ndarray] = {}
        # Input shapes the other tensors' shapes were last worked out for (the file's at first).
        self._propagated = tuple(self._shapes[i] for i in sg.inputs)
        self._values: dict[int, np.ndarray] = {}
        self._allocated = False
        # Whether an invoke has recorded the shapes of the constants (see ``_invoke``).
        self._constant_shapes_read = False
        self._batched = False
        self._carriers = batch_carriers(sg, self._main.constants)
        self._sliceable = self._carriers is not None
        # Main-graph inputs and the tensors whose values ``get_tensor`` copies as they are
        # (all but STRING ones): the common calls skip the general checks' lookups (a
        # TFLite Micro-sized model's set_tensor / get_tensor cost as much as its invoke).
        self._plain_inputs = {
            i: schema.TENSOR_TYPE_TO_NUMPY[sg.tensors[i].type]
            for i in sg.inputs
            if sg.tensors[i].type != schema.TensorType.STRING
            and sg.tensors[i].data is None
            and i not in self._main.constants
        }
        self._plain = frozenset(
            i for i, t in enumerate(sg.tensors) if t.type != schema.TensorType.STRING
        )

    # -- details ------------------------------------------------------------------------------

    def _tensor(self, index, subgraph_index=0):
        try:
            index = int(index)
        except (TypeError, ValueError):
            raise InvalidInputError(f"tensor index must be an integer, got {index!r}") from None
        if not 0 <= subgraph_index < len(self._model.subgraphs):
            raise InvalidInputError(
                f"subgraph_index is out of range: {subgraph_index} for the model, which has "
                f"{len(self._model.subgraphs)} subgraphs."
            )
        tensors = self._model.subgraphs[subgraph_index].tensors
        if not 0 <= index < len(tensors):
            raise InvalidInputError(
                f"Invalid tensor index {index} exceeds max tensor index {len(tensors)}"
            )
        return index, tensors[index]

    def _details(self, index, subgraph_index=0):
        index, t = self._tensor(index, subgraph_index)
        dtype = schema.TENSOR_TYPE_TO_NUMPY.get(t.type)
        if t.type == schema.TensorType.STRING:
            dtype = np.dtype(np.bytes_)  # LiteRT's report; the values are object arrays
        shape = self._shapes[index] if subgraph_index == 0 else t.shape
        signature = t.shape_signature if t.shape_signature is not None else t.shape
        q = t.quantization
        scales = np.zeros(0, np.float32) if q is None else q.scale.astype(np.float32)
        zps = np.zeros(0, np.int32) if q is None else q.zero_point.astype(np.int32)
        qdim = 0 if q is None else q.quantized_dimension
        per_tensor = (float(scales[0]), int(zps[0])) if len(scales) == 1 else (0.0, 0)
        return {
            "name": t.name,
            "index": index,
            "shape": np.array(shape, dtype=np.int32),
            "shape_signature": np.array(signature, dtype=np.int32),
            "dtype": dtype.type if dtype is not None else None,
            "quantization": per_tensor,
            "quantization_parameters": {
                "scales": scales,
                "zero_points": zps,
                "quantized_dimension": int(qdim),
                "block_size": 0,
            },
            "sparsity_parameters": _sparse.details(t.sparsity) if t.sparse else {},
        }

    def get_input_details(self):
        """Details (name, index, shape, dtype, quantization...) of each main-graph input."""
        return [self._details(i) for i in self._model.subgraphs[0].inputs]

    def get_output_details(self):
        """Details of each main-graph output."""
        return [self._details(i) for i in self._model.subgraphs[0].outputs]

    def get_tensor_details(self, subgraph_index=0):
        """Details of every tensor of a subgraph."""
        if not 0 <= subgraph_index < len(self._model.subgraphs):
            raise InvalidInputError(
                f"subgraph_index is out of range: {subgraph_index} for the model, which has "
                f"{len(self._model.subgraphs)} subgraphs."
            )
        n = len(self._model.subgraphs[subgraph_index].tensors)
        return [self._details(i, subgraph_index) for i in range(n)]

    def _get_ops_details(self):
        """Operators of the main subgraph (LiteRT's experimental ``_get_ops_details``)."""
        sg = self._model.subgraphs[0]

        def dtypes(ids):
            return [schema.TENSOR_TYPE_TO_NUMPY[sg.tensors[t].type].type for t in ids if t >= 0]

        return [
            {
                "index": op.index,
                "op_name": op.name,
                "inputs": np.array(op.inputs, dtype=np.int32),
                "outputs": np.array(op.outputs, dtype=np.int32),
                "operand_types": dtypes(op.inputs),
                "result_types": dtypes(op.outputs),
            }
            for op in sg.operators
        ]

    def num_subgraphs(self):
        return len(self._model.subgraphs)

    # -- running ------------------------------------------------------------------------------

    def _exclusive(self, what: str) -> _Exclusive:
        """Run ``what`` with no other call of this interpreter in progress in another thread."""
        return _Exclusive(self._busy, what)

    def allocate_tensors(self):
        """Validate input shapes and propagate them (after ``resize_tensor_input``).

        Raises:
            BudgetExceededError: the inputs together exceed the ``max_memory_bytes`` limit
                (checked before anything is allocated), or shapes propagate beyond the limits.
        """
        with self._exclusive("allocate_tensors"):
            self._allocate_tensors()

    def _allocate_tensors(self):
        sg = self._model.subgraphs[0]
        input_shapes = tuple(self._shapes[i] for i in sg.inputs)
        resized = input_shapes != self._propagated
        budget = Budget(self._limits)
        for i in sg.inputs:
            dtype = schema.TENSOR_TYPE_TO_NUMPY[sg.tensors[i].type]
            nbytes = int(np.prod(self._shapes[i], dtype=object)) * dtype.itemsize
            budget.hold(nbytes, f"allocate_tensors: input {i} ({sg.tensors[i].name!r})")
        for i in sg.inputs:
            v = self._inputs.get(i)
            if v is None or v.shape != self._shapes[i]:
                dtype = schema.TENSOR_TYPE_TO_NUMPY[sg.tensors[i].type]
                try:
                    self._inputs[i] = np.zeros(self._shapes[i], dtype=dtype)
                except MemoryError as e:
                    raise BudgetExceededError(
                        f"allocate_tensors: input {i} ({sg.tensors[i].name!r}) of shape "
                        f"{list(self._shapes[i])}: out of memory ({e}); the machine has less "
                        "memory than the limits allow (lower max_memory_bytes)"
                    ) from e
        if resized:
            self._propagate_shapes()
        self._propagated = input_shapes
        self._allocated = True
        # Whether invoke may run the batch in slices (see _slice_rows): inputs of 2+ rows.
        self._batched = all(len(s) and s[0] >= 2 for s in input_shapes)

    def _propagate_shapes(self):
        """Shapes of everything downstream of the inputs: a run on zeros, as TFLite's Prepare
        pass works them out. When the batch rows are independent, one row is enough."""
        feeds = dict(self._inputs)
        batch = {v.shape[0] for v in feeds.values() if v.ndim}
        one_row = self._sliceable and len(batch) == 1 and batch != {0}
        if one_row:
            feeds = {t: v[:1] for t, v in feeds.items()}
        with threads(self._num_threads), running(Budget(self._limits)), quiet():
            values = self._main.run(feeds, keep_all=True)
        for t, v in values.items():
            shape = tuple(v.shape)
            if one_row and t in self._carriers and shape:
                shape = (next(iter(batch)),) + shape[1:]
            self._shapes[t] = shape

    def resize_tensor_input(self, input_index, tensor_size, strict=False):
        """Give an input a new shape; only dimensions that are -1 in the signature if strict."""
        index, t = self._tensor(input_index)
        if index not in self._model.subgraphs[0].inputs:
            raise InvalidInputError(f"tensor {index} ({t.name!r}) is not an input")
        size = tuple(int(d) for d in np.asarray(tensor_size, dtype=np.int64).ravel())
        if any(d < 0 for d in size):
            raise InvalidInputError(f"ResizeInputTensor: negative dimension in {list(size)}")
        sig = t.shape_signature if t.shape_signature is not None else t.shape
        if strict:
            if len(size) != len(sig) or any(s != -1 and s != d for s, d in zip(sig, size)):
                raise InvalidInputError(
                    f"ResizeInputTensorStrict only allows mutating unknown dimensions identified "
                    f"by -1: signature {list(sig)}, requested {list(size)}"
                )
        itemsize = schema.TENSOR_TYPE_TO_NUMPY[t.type].itemsize
        nbytes = int(np.prod(size, dtype=object)) * itemsize
        if nbytes > self._max_activation_bytes:
            raise InvalidInputError(
                f"input {index}: shape {list(size)} needs {nbytes} bytes, above the "
                f"max_activation_bytes limit of {self._max_activation_bytes}"
            )
        with self._exclusive("resize_tensor_input"):
            if self._shapes[index] != size:
                self._shapes[index] = size
                self._allocated = False

    def set_tensor(self, tensor_index, value):
        """Copy ``value`` into a tensor (LiteRT's dtype and shape checks and messages).

        Raises:
            InvalidInputError: wrong dtype or shape; or the tensor is a constant of the model.
                LiteRT accepts the latter and writes the value into the model's own buffer (the
                caller's ``model_content`` bytes, which every interpreter made from them then
                sees); this runtime refuses instead of changing a model constant.
        """
        fast = type(tensor_index) is int and type(value) is np.ndarray
        want = self._plain_inputs.get(tensor_index) if fast else None
        if want is not None and value.dtype == want:
            if value.shape == self._shapes[tensor_index]:
                # An input given an array of its dtype and shape: the checks below all pass.
                arr = np.array(value, copy=True)
                # (the lock taken inline: a ``with`` object costs as much as the store)
                if not self._busy.acquire(blocking=False):
                    raise _busy_error("set_tensor")
                self._inputs[tensor_index] = arr
                self._busy.release()
                return
        index, t = self._tensor(tensor_index)
        if index in self._main.constants or t.data is not None:
            raise InvalidInputError(
                f"Cannot set tensor: tensor {index} ({t.name!r}) is a constant of the model (its "
                "data is in the file); this runtime does not modify model constants"
            )
        want = schema.TENSOR_TYPE_TO_NUMPY.get(t.type)
        value = np.asarray(value)
        if t.type == schema.TensorType.STRING and _strings.is_string_array(value):
            value = _strings.from_user(value, f"input {index} ({t.name!r})")
        if value.dtype != want:
            # LiteRT names any object, bytes or unicode array STRING
            got = "STRING" if _strings.is_string_array(value) else _type_name(value.dtype)
            raise InvalidInputError(
                f"Cannot set tensor: Got value of type {got} but expected "
                f"type {schema.TensorType(t.type).name} for input {index}, name: {t.name} "
            )
        shape = self._shapes[index]
        if value.ndim != len(shape):
            raise InvalidInputError(
                f"Cannot set tensor: Dimension mismatch. Got {value.ndim} but expected "
                f"{len(shape)} for input {index}."
            )
        if value.shape != shape:  # (the message names the first dimension that differs)
            for k, (got, exp) in enumerate(zip(value.shape, shape)):
                if got != exp:
                    raise InvalidInputError(
                        f"Cannot set tensor: Dimension mismatch. Got {got} but expected {exp} "
                        f"for dimension {k} of input {index}."
                    )
        arr = np.array(value, dtype=want, copy=True)
        with self._exclusive("set_tensor"):
            if index in self._model.subgraphs[0].inputs:
                self._inputs[index] = arr
            elif index in self._main.variables:
                # A recurrent state: the next invoke starts from it, as LiteRT's does.
                self._main.variables[index] = arr
                self._values[index] = arr
            else:
                self._values[index] = arr

    def invoke(self):
        """Run the main subgraph on the inputs set so far.

        Raises:
            BudgetExceededError: the run needs more work or memory than the limits allow.
            RuntimeError: another call of this interpreter is in progress in another thread.
        """
        busy = self._busy
        if not busy.acquire(blocking=False):
            raise _busy_error("invoke")
        try:
            self._invoke()
        finally:
            busy.release()

    def _invoke(self):
        if not self._allocated:
            raise InvalidInputError(
                "Invoke called on model that is not ready (call allocate_tensors() first)."
            )
        feeds = dict(self._inputs)
        limits = self._limits
        total = 0
        for v in feeds.values():
            total += v.nbytes
        if total <= limits.max_tensor_bytes and total <= limits.max_memory_bytes:
            budget = Budget(limits, total)  # what the loop below holds, without its calls
        else:
            budget = Budget(limits)
            for t, v in feeds.items():
                budget.hold(v.nbytes, f"invoke: input {t}")  # raises, naming the input
        # numpy reports no float errors meanwhile: LiteRT's arithmetic gives inf and NaN
        # silently (the caller's setting is back afterwards). (``running(budget)`` as plain
        # calls: one object fewer per invoke)
        token = activate(budget)
        try:
            with threads(self._num_threads), quiet():
                # (a batch of one row, fixed since allocate_tensors, is never sliced)
                rows = self._slice_rows(feeds) if self._batched else 0
                if rows:
                    values = run_sliced(self._main, feeds, rows, self._num_threads)
                    values.update(feeds)
                else:
                    values = self._main.run(feeds, self._preserve, budget)
        finally:
            deactivate(token)
        self._values = values
        shapes = self._shapes
        if rows or self._preserve or not self._constant_shapes_read:
            for t, v in values.items():
                shapes[t] = tuple(v.shape)
            self._constant_shapes_read = True
        else:
            # Constants (folded ones included) were read above once and never change; inputs
            # keep the shapes set_tensor checked: only what the run made can have moved.
            for t in self._main.results:
                v = values.get(t)
                if v is not None:
                    shapes[t] = v.shape

    def _slice_rows(self, feeds) -> int:
        """Batch rows per slice when the batch may be run in slices (0: run it whole)."""
        if self._preserve or not self._sliceable:
            return 0
        batches = {v.shape[0] if v.ndim else None for v in feeds.values()}
        if len(batches) != 1 or None in batches:
            return 0
        batch = batches.pop()
        if batch < 2:
            return 0
        # Slices small enough that the largest activation stays in cache (about 2 MB).
        per_row = max((math.prod(s[1:]) * 4 for s in self._shapes.values() if s), default=1)
        rows = max(1, (2 << 20) // max(per_row, 1))
        return rows if rows * 2 <= batch else 0

    def get_tensor(self, tensor_index, subgraph_index=0):
        """A copy of a tensor's value (intermediates only with preserve_all_tensors)."""
        busy = self._busy
        if not busy.acquire(blocking=False):
            raise _busy_error("get_tensor")
        try:
            if type(tensor_index) is int and subgraph_index == 0 and tensor_index in self._plain:
                # (the order of ``_get_tensor``: an input, then the run's value)
                value = self._inputs.get(tensor_index)
                if value is None:
                    value = self._values.get(tensor_index)
                if value is not None:
                    return np.array(value, copy=True)
            return self._get_tensor(tensor_index, subgraph_index)
        finally:
            busy.release()

    def _get_tensor(self, tensor_index, subgraph_index=0):
        index, t = self._tensor(tensor_index, subgraph_index)
        if subgraph_index != 0:
            # Other subgraphs (WHILE bodies...): their latest run, kept with
            # experimental_preserve_all_tensors.
            value = self._caller.last_values.get(subgraph_index, {}).get(index)
            if value is None:
                raise InvalidInputError(
                    f"tensor {index} of subgraph {subgraph_index} has no value (subgraphs "
                    "other than 0 keep values only with experimental_preserve_all_tensors)"
                )
            return np.array(value, copy=True)
        if t.type == schema.TensorType.STRING and (index in self._inputs or index in self._values):
            # allocate_tensors' zeros: a STRING input never set reads as empty strings
            value = self._inputs.get(index, self._values.get(index))
            return np.array(_strings.as_bytes(value), copy=True)
        if index in self._inputs:
            return np.array(self._inputs[index], copy=True)
        # The run's value first: a variable is the same array there (updated in place), unless
        # an operator wrote it (a FILL that sizes a recurrent state to the batch).
        if index in self._values:
            return np.array(self._values[index], copy=True)
        if index in self._main.variables:
            return np.array(self._main.variables[index], copy=True)
        if index in self._main.constants:
            return np.array(self._main.constants[index], copy=True)
        dtype = schema.TENSOR_TYPE_TO_NUMPY.get(t.type)
        if dtype is None:
            raise InvalidInputError(f"tensor {index} ({t.name!r}) has no numpy dtype")
        # Like LiteRT, a tensor whose memory was reused reads as unspecified data: zeros here.
        return np.zeros(self._shapes[index], dtype=dtype)

    def tensor(self, tensor_index):
        """A function returning a writable view of the tensor's current value."""
        index, _ = self._tensor(tensor_index)

        def view():
            if index in self._inputs:
                return self._inputs[index]
            if index not in self._values:
                self._values[index] = self._get_tensor(index)
            return self._values[index]

        return view

    def reset_all_variables(self):
        """Give every variable tensor (recurrent state) its initial value again."""
        for i, v in self._main.variables.items():
            v[...] = self._main.initial_variables[i]

    # -- signatures ---------------------------------------------------------------------------

    def _get_full_signature_list(self):
        return {
            s.key: {"inputs": dict(s.inputs), "outputs": dict(s.outputs)}
            for s in self._model.signature_defs
        }

    def get_signature_list(self):
        """{signature_key: {"inputs": [names], "outputs": [names]}}."""
        return {
            k: {"inputs": list(v["inputs"]), "outputs": list(v["outputs"])}
            for k, v in self._get_full_signature_list().items()
        }

    def get_signature_runner(self, signature_key=None):
        """A callable running one SignatureDef with keyword inputs; returns a dict of outputs."""
        sigs = self._model.signature_defs
        if signature_key is None:
            if len(sigs) != 1:
                raise ValueError(
                    f"SignatureDef signature_key is None and model has {len(sigs)} Signatures. "
                    "None is only allowed when the model has 1 SignatureDef"
                )
            signature_key = sigs[0].key
        for s in sigs:
            if s.key == signature_key:
                return SignatureRunner(self, s)
        raise ValueError(f'Invalid signature_key provided: "{signature_key}".')


def _busy_error(what: str) -> RuntimeError:
    return RuntimeError(
        f"Interpreter.{what}() called while another call of the same Interpreter is in "
        "progress in another thread; an Interpreter is not thread-safe (as in LiteRT): use one "
        "Interpreter per thread"
    )


class _Exclusive:
    """``with``: holds ``lock`` or raises at once (a class rather than a generator context
    manager, whose machinery costs more than a TFLite Micro-sized model's kernels)."""

    __slots__ = ("_lock", "_what")

    def __init__(self, lock, what: str):
        self._lock = lock
        self._what = what

    def __enter__(self):
        if not self._lock.acquire(blocking=False):
            raise _busy_error(self._what)
        return self

    def __exit__(self, *exc) -> bool:
        self._lock.release()
        return False


class SignatureRunner:
    """Runs one SignatureDef: ``runner(x=array, ...)`` returns ``{output_name: array}``."""

    def __init__(self, interpreter: Interpreter, signature):
        self._interpreter = interpreter
        self._sig = signature
        if signature.subgraph_index != 0:
            raise InvalidModelError(
                f"signature {signature.key!r} runs subgraph {signature.subgraph_index}; only "
                "signatures of subgraph 0 are supported"
            )

    def __call__(self, **kwargs):
        it, sig = self._interpreter, self._sig
        if len(kwargs) != len(sig.inputs):
            raise ValueError(
                "Invalid number of inputs provided for running a SignatureDef, expected "
                f"{len(sig.inputs)} vs provided {len(kwargs)}"
            )
        for name, value in kwargs.items():
            if name not in sig.inputs:
                raise ValueError(f"Invalid Input name ({name}) for SignatureDef")
            it.resize_tensor_input(sig.inputs[name], np.shape(value))
        it.allocate_tensors()
        for name, value in kwargs.items():
            it.set_tensor(sig.inputs[name], value)
        it.invoke()
        return {name: it.get_tensor(index) for name, index in sig.outputs.items()}

    def get_input_details(self):
        return {n: self._interpreter._details(i) for n, i in self._sig.inputs.items()}

    def get_output_details(self):
        return {n: self._interpreter._details(i) for n, i in self._sig.outputs.items()}


def _type_name(dtype) -> str:
    try:
        return schema.NUMPY_TO_TENSOR_TYPE[np.dtype(dtype)].name
    except KeyError:
        return str(dtype).upper()
