"""``InferenceSession``: onnxruntime's Python API over this runtime's ONNX interpreter."""

from dataclasses import dataclass, field

import numpy as np

from runtime._budget import Budget, Limits, activate, deactivate, running
from runtime._fperrors import quiet
from runtime._parallel import hold_blas, release_blas, threads
from runtime.errors import InvalidInputError
from runtime.onnx._evaluator import run_graph, types_follow_feeds
from runtime.onnx._graph import ValueInfo, compile_graph
from runtime.onnx._plan import plan
from runtime.onnx._reader import opsets, parse_model, read_model_bytes
from runtime.onnx._types import dtype_type_name, elem_type_name, numpy_dtype

__all__ = ["InferenceSession", "ModelMetadata", "NodeArg"]

PROVIDERS = ["CPUExecutionProvider"]

# Feed signatures remembered as accepted, per session (one per distinct input shape in use).
_MAX_ACCEPTED = 16
_ABSENT = object()


@dataclass(frozen=True)
class NodeArg:
    """A model input or output, as onnxruntime describes it.

    Attributes:
        name: the value's name in the graph.
        shape: one entry per dim: an int, the symbolic name (str), or None when unknown;
            None when even the rank is unknown.
        type: onnxruntime's type string, e.g. ``'tensor(float)'``.
    """

    name: str
    shape: list | None
    type: str


@dataclass(frozen=True)
class ModelMetadata:
    """The model's metadata fields, as onnxruntime's ``ModelMetadata``."""

    producer_name: str
    graph_name: str
    domain: str
    description: str
    graph_description: str
    version: int
    custom_metadata_map: dict = field(default_factory=dict)


class InferenceSession:
    """Runs an ``.onnx`` model with onnxruntime's Python API, in numpy.

    Args:
        path_or_bytes: a path to an ``.onnx`` file, or its bytes.
        sess_options: accepted for onnxruntime compatibility and ignored.
        providers: accepted for compatibility; this runtime is always ``CPUExecutionProvider``.
        keep_intermediates: keep every value computed by the last ``run`` in
            ``self.intermediates`` (name -> array), for op-by-op comparisons.
        limits: the budget of each ``run`` and of loading (``runtime.Limits``: loop
            iterations, nodes run, bytes per tensor, bytes held at once); None for the
            defaults.

    ``run`` may be called from several threads at once, as onnxruntime's: each call has its
    own values and its own budget (with ``keep_intermediates``, ``intermediates`` holds the
    values of whichever call finished last).

    Raises:
        InvalidModelError: the file is corrupt, truncated, hostile or inconsistent.
        UnsupportedOpError: it uses an op, opset or type this runtime does not implement.
        BudgetExceededError: loading it needs more than ``limits`` allow (too many nodes).
    """

    def __init__(
        self,
        path_or_bytes,
        sess_options=None,
        providers=None,
        *,
        keep_intermediates: bool = False,
        limits: Limits | None = None,
        **kwargs,
    ):
        if limits is not None and not isinstance(limits, Limits):
            raise TypeError(f"limits must be a runtime.Limits. Received: {type(limits).__name__}")
        self._limits = limits or Limits()
        model = parse_model(read_model_bytes(path_or_bytes))
        self._model_opsets = opsets(model)
        # Kernels compute what onnxruntime's C++ computes: an overflow or a NaN gives inf or
        # NaN silently there, so numpy's error state (a caller's ``np.seterr(all="raise")``)
        # must not turn them into warnings or FloatingPointError here (``quiet``, also around
        # every run below; branches run in worker threads inherit it with the context).
        with running(Budget(self._limits)), quiet():
            self._graph = compile_graph(model.graph, self._model_opsets)
        # Constant nodes folded and constant Conv weights packed, once (its own budget).
        with running(Budget(self._limits)), quiet():
            self._planned = plan(self._graph)
        initializers = self._graph.initializers
        # Since IR 4 an initializer may also be listed as an input (a default that feeds can
        # override); onnxruntime does not report those as inputs.
        self._inputs = [v for v in self._graph.inputs if v.name not in initializers]
        self._overridable = {v.name: v for v in self._graph.inputs if v.name in initializers}
        self._outputs = self._graph.outputs
        self._meta = ModelMetadata(
            producer_name=model.producer_name,
            graph_name=model.graph.name,
            domain=model.domain,
            description=model.doc_string,
            graph_description=model.graph.doc_string,
            version=model.model_version,
            custom_metadata_map={p.key: p.value for p in model.metadata_props},
        )
        # (the subgraphs' too: an If branch may give its own constant as the output)
        self._weight_roots = {
            _root(a) for g in (self._graph, self._planned) for a in _constants(g) if a is not None
        }
        self.keep_intermediates = keep_intermediates
        self.intermediates: dict[str, np.ndarray] = {}
        self._output_names = [v.name for v in self._outputs]
        # Feed signatures (name, dtype, shape of each array) whose arrays passed the checks as
        # they are -> whether one overrides an initializer.
        self._accepted: dict[tuple, bool] = {}
        # Those of them whose run of the planned graph passed every check -> (the bytes of
        # the feeds charged, whether the nodes' type checks may be skipped): ``run``'s short
        # path.
        self._fast: dict[tuple, tuple[int, bool]] = {}
        self._types_follow = types_follow_feeds(self._planned)
        self._produced = frozenset(self._output_names)

    def get_inputs(self) -> list[NodeArg]:
        """The model's inputs (initializers excluded)."""
        return [_node_arg(v) for v in self._inputs]

    def get_outputs(self) -> list[NodeArg]:
        """The model's outputs."""
        return [_node_arg(v) for v in self._outputs]

    def get_overridable_initializers(self) -> list[NodeArg]:
        """Initializers that are also listed as graph inputs, and so may be fed."""
        return [_node_arg(v) for v in self._overridable.values()]

    def get_modelmeta(self) -> ModelMetadata:
        """The model's metadata."""
        return self._meta

    def get_providers(self) -> list[str]:
        """Execution providers: always ``['CPUExecutionProvider']``."""
        return list(PROVIDERS)

    def get_session_options(self):
        """Not modelled; returns None."""
        return None

    def run(self, output_names, input_feed: dict, run_options=None) -> list[np.ndarray]:
        """Compute outputs.

        Args:
            output_names: names to return, in order; None for all the model's outputs. With
                ``keep_intermediates`` any value of the main graph may be named.
            input_feed: {input name: numpy array}; a list of arrays for a sequence input,
                None for an empty optional one (as onnxruntime's Python API).
            run_options: accepted for onnxruntime compatibility and ignored.

        Raises:
            InvalidInputError: an unknown or missing input, or one of the wrong type or shape;
                an unknown output name.
            BudgetExceededError: the run needs more work or memory than ``limits`` allow.
            InvalidModelError: a node fails on the values it receives.
        """
        # Feeds of a signature (names, dtypes, shapes) that an earlier run accepted as they
        # are and ran through the planned graph: what that run checked depends on these alone.
        known = None
        if type(input_feed) is dict and not self.keep_intermediates:
            key = []
            for name, value in input_feed.items():
                if type(value) is not np.ndarray:
                    break
                key.append((name, value.dtype, value.shape))
            else:
                known = self._fast.get(tuple(key))
        if known is None:
            return self._run_checked(output_names, input_feed)
        if output_names is None:
            output_names = self._output_names
        elif output_names is not self._output_names:
            self._check_output_names(output_names)
        nbytes, typed = known
        # (the feeds' bytes: within the limits, as the run that remembered them charged them)
        budget = Budget(self._limits, nbytes)
        # (``running(budget)`` and BLAS held to one thread, as plain calls: see _run_checked)
        token = activate(budget)
        try:
            blas_held = hold_blas()
            try:
                with quiet():
                    values = run_graph(
                        self._planned, input_feed, typed=typed, budget=budget, prove=True
                    )
            finally:
                if blas_held:
                    release_blas()
        finally:
            deactivate(token)
        return self._results(values, output_names, input_feed)

    def _run_checked(self, output_names, input_feed) -> list[np.ndarray]:
        """``run`` with every check: the first run of a feed signature, any other feed."""
        feeds, as_written, key = self._checked_feed(input_feed)
        if output_names is None:
            output_names = self._output_names
        elif output_names is not self._output_names:
            self._check_output_names(output_names)
        keep = {} if self.keep_intermediates else None
        budget = Budget(self._limits)
        # The graph as written when a feed overrides an initializer (the planned one folded
        # it) or every intermediate is wanted; else the planned one.
        if keep is not None or as_written:
            graph = self._graph
            for name, value in feeds.items():
                budget.hold(sum(a.nbytes for a in _tensors(value)), f"input {name!r}")
        else:
            graph = self._planned
            for name, value in feeds.items():
                nbytes = value.nbytes if type(value) is np.ndarray else _nbytes(value)
                budget.hold(nbytes, lambda name=name: f"input {name!r}")
        fed = budget.held_bytes
        # BLAS held to one thread meanwhile: on a busy machine its spinning workers can make
        # a run several times slower (restored when the last concurrent run ends).
        with running(budget), threads(1), quiet():
            values = run_graph(graph, feeds, keep=keep, budget=budget, prove=True)
        if key is not None and graph is self._planned:
            # This run passed every check; its signature's runs take ``run``'s short path,
            # which skips the nodes' type checks too when the graph's types follow from the
            # feeds' dtypes alone (``types_follow_feeds``).
            self._fast[key] = (fed, self._types_follow)
        if keep is not None:
            self.intermediates = {**feeds, **keep}
        return self._results(values, output_names, feeds)

    def _results(self, values: dict, output_names, feeds: dict) -> list:
        """The outputs named, each an array the caller may modify freely (see ``_own``)."""
        result = []
        feed_roots = None
        weights = self._weight_roots
        for name in output_names:
            value = values.get(name, _ABSENT)
            if value is _ABSENT:
                raise InvalidInputError(f"Invalid output name: {name!r}; no such value")
            if (
                type(value) is np.ndarray
                and value.base is None
                and id(value) not in weights
                and value.flags.c_contiguous
            ):
                for a in feeds.values():
                    if a is value:
                        break
                else:
                    result.append(value)  # a fresh array of this run, the common case
                    continue
            if feed_roots is None:
                feed_roots = {_root(a) for value in feeds.values() for a in _tensors(value)}
            result.append(self._export(value, feed_roots))
        return result

    def _check_output_names(self, output_names) -> None:
        produced = self._produced
        for name in output_names:
            if name not in produced and not self.keep_intermediates:
                raise InvalidInputError(
                    f"Invalid output name: {name!r}; the model's outputs are {sorted(produced)}"
                )

    def _checked_feed(self, input_feed) -> tuple[dict, bool, tuple | None]:
        """The checked feeds, whether one overrides an initializer, and the feeds' signature
        when it is remembered (else None).

        A feed of arrays whose names, dtypes and shapes were all accepted as they are by an
        earlier run is accepted again without its checks (each check depends on these alone).
        """
        key = None
        if type(input_feed) is dict:
            key = []
            for name, value in input_feed.items():
                if type(value) is not np.ndarray:
                    key = None
                    break
                key.append((name, value.dtype, value.shape))
            if key is not None:
                key = tuple(key)
                as_written = self._accepted.get(key)
                if as_written is not None:
                    return input_feed, as_written, key
        feeds = self._check_feed(input_feed)
        as_written = any(name in self._overridable for name in feeds)
        unchanged = all(feeds[name] is value for name, value in input_feed.items())
        if key is not None and unchanged and len(self._accepted) < _MAX_ACCEPTED:
            self._accepted[key] = as_written
            return feeds, as_written, key
        return feeds, as_written, None

    def _export(self, value, feed_roots: set):
        """An output as onnxruntime's Python API gives it: an array, a list of arrays for a
        sequence, None for an empty optional."""
        if value is None:
            return None
        if isinstance(value, list):
            return [self._export(v, feed_roots) for v in value]
        return self._own(np.asarray(value), feed_roots)

    def _own(self, value: np.ndarray, feed_roots: set) -> np.ndarray:
        """A C-contiguous array that aliases neither a feed nor the model's weights (an
        Identity or Reshape output is a view), so the caller may modify it freely."""
        shared = _root(value) in feed_roots or _root(value) in self._weight_roots
        # (not np.ascontiguousarray: it turns a 0-d array into a 1-d one)
        return value.copy() if shared or not value.flags.c_contiguous else value

    def _check_feed(self, input_feed: dict) -> dict:
        if not isinstance(input_feed, dict):
            raise InvalidInputError(
                f"input_feed must be a dict of name -> array; received {type(input_feed).__name__}"
            )
        known = {v.name: v for v in self._inputs} | self._overridable
        unknown = [k for k in input_feed if k not in known]
        if unknown:
            raise InvalidInputError(
                f"Invalid input name: {unknown[0]!r}; the model's inputs are {sorted(known)}"
            )
        missing = [v.name for v in self._inputs if v.name not in input_feed]
        if missing:
            raise InvalidInputError(
                f"Required inputs ({missing}) are missing from input feed ({list(input_feed)})."
            )
        feeds = {}
        for name, value in input_feed.items():
            feeds[name] = _check_value(known[name], value)
        return feeds


def _root(array: np.ndarray) -> int:
    """Identity of the array that owns ``array``'s memory (views chain to it via ``.base``)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return id(array)


def _constants(graph) -> list:
    """The initializers of ``graph`` and of every subgraph in it."""
    found = list(graph.initializers.values())
    for node in graph.nodes:
        for key in node.graph_attrs:
            sub = node.attrs[key]
            for g in sub if isinstance(sub, list) else [sub]:
                found.extend(_constants(g))
    return found


def _node_arg(v: ValueInfo) -> NodeArg:
    elem = elem_type_name(v.elem_type) if v.elem_type else "tensor(undefined)"
    for kind in reversed(v.container):  # onnxruntime's spelling: seq(...), optional(...)
        elem = f"seq({elem})" if kind == "sequence" else f"optional({elem})"
    # onnxruntime shows [] as a sequence's shape, and an optional tensor's own shape.
    shape = [] if "sequence" in v.container else None if v.shape is None else list(v.shape)
    return NodeArg(v.name, shape, elem)


def _nbytes(value) -> int:
    return sum(a.nbytes for a in _tensors(value))


def _tensors(value) -> list:
    """The arrays of a fed or computed value: a tensor, a sequence (list) or an empty
    optional (None)."""
    if value is None:
        return []
    if isinstance(value, list):
        return [a for v in value for a in _tensors(v)]
    return [value]


def _check_value(info: ValueInfo, value, depth: int = 0):
    """A feed checked against its input's type: a tensor; a sequence as a list (or tuple) of
    tensors; an optional as its content, or None when empty (onnxruntime's Python API)."""
    if depth == len(info.container):
        return _check_input(info, value)
    if info.container[depth] == "optional":
        return None if value is None else _check_value(info, value, depth + 1)
    if not isinstance(value, (list, tuple)):
        raise InvalidInputError(
            f"input {info.name!r} is a sequence: feed a list of arrays; received "
            f"{type(value).__name__}"
        )
    return [_check_value(info, v, depth + 1) for v in value]


def _check_input(info: ValueInfo, value) -> np.ndarray:
    array = value if isinstance(value, np.ndarray) else np.asarray(value)
    if info.elem_type is not None:
        expected = elem_type_name(info.elem_type)
        received = dtype_type_name(array.dtype)
        if expected != received:
            raise InvalidInputError(
                f"Unexpected input data type for input {info.name!r}. Actual: ({received}), "
                f"expected: ({expected})"
            )
        if array.dtype.kind in "US":
            array = array.astype(object)
        elif array.dtype != numpy_dtype(info.elem_type):
            array = array.astype(numpy_dtype(info.elem_type))
    if info.shape is not None:
        if array.ndim != len(info.shape):
            raise InvalidInputError(
                f"Invalid rank for input: {info.name!r} Got: {array.ndim} "
                f"Expected: {len(info.shape)} (expected shape {list(info.shape)}, "
                f"received {list(array.shape)})"
            )
        bad = [
            f"index: {i} Got: {got} Expected: {want}"
            for i, (got, want) in enumerate(zip(array.shape, info.shape, strict=True))
            if isinstance(want, int) and got != want
        ]
        if bad:
            raise InvalidInputError(
                f"Got invalid dimensions for input: {info.name!r} for the following indices: "
                + "; ".join(bad)
            )
    return array
