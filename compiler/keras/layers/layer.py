"""``Layer``: the base class of every layer and model.

A layer stores and validates its config in ``__init__``, creates weights in ``build(input_shape)``
with ``add_weight``, computes in ``call(inputs, training=None)`` using only ``compiler.keras.ops``
and reports ``get_config()``. Calling a layer on symbolic ``KerasTensor``s (from ``keras.Input``)
records a node of a functional graph instead of computing.
"""

import inspect
import re
import threading

from compiler.keras import constraints as constraints_mod
from compiler.keras import initializers as initializers_mod
from compiler.keras import regularizers as regularizers_mod
from compiler.keras.backend import floatx, xp
from compiler.keras.ops import Tensor, as_tensor, cast, no_grad
from compiler.keras.ops._operators import OperatorMethods
from compiler.keras.ops._symbolic import register_symbolic_type
from compiler.keras.variables import Variable

__all__ = ["Layer", "KerasTensor", "Node", "InputSpec", "auto_name", "clear_session"]

_NAME_COUNTS: dict[str, int] = {}
_CONTEXT = threading.local()


def auto_name(prefix: str) -> str:
    """``dense``, then ``dense_1``, ``dense_2``... as Keras names layers in a session."""
    count = _NAME_COUNTS.get(prefix, 0)
    _NAME_COUNTS[prefix] = count + 1
    return prefix if count == 0 else f"{prefix}_{count}"


def clear_session() -> None:
    """Resets automatic layer names (``keras.backend.clear_session``)."""
    _NAME_COUNTS.clear()


def _snake(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return (
        re.sub(r"([a-z])([A-Z])", r"\1_\2", name)
        .lower()
        .replace("2_d", "2d")
        .replace("1_d", "1d")
        .replace("3_d", "3d")
    )


class KerasTensor(OperatorMethods):
    """A symbolic tensor: shape and dtype, and the layer call that produced it."""

    def __init__(self, shape, dtype="float32", name=None, history=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = str(xp.dtype(dtype))
        self.name = name
        self._keras_history = history

    ndim = property(lambda self: len(self.shape))

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


register_symbolic_type(KerasTensor)


class Node:
    """One call of a layer on symbolic inputs: the edge structure of a functional graph."""

    def __init__(self, layer, args, kwargs, outputs):
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs
        self.input_tensors = [t for t in _flatten((args, kwargs)) if isinstance(t, KerasTensor)]
        self.output_tensors = [t for t in _flatten(outputs) if isinstance(t, KerasTensor)]


class InputSpec:
    """What a layer accepts: rank bounds and fixed sizes of some axes (Keras's InputSpec)."""

    def __init__(
        self,
        ndim=None,
        min_ndim=None,
        max_ndim=None,
        axes=None,
        dtype=None,
        shape=None,
        allow_last_axis_squeeze=False,
        name=None,
    ):
        self.ndim = len(shape) if shape is not None else ndim
        self.min_ndim, self.max_ndim = min_ndim, max_ndim
        self.axes = dict(axes or {})
        self.shape = shape
        self.dtype = dtype
        self.name = name

    def check(self, layer_name, index, shape):
        problem = None
        rank = len(shape)
        if self.ndim is not None and rank != self.ndim:
            problem = f"expected ndim={self.ndim}, found ndim={rank}"
        elif self.min_ndim is not None and rank < self.min_ndim:
            problem = f"expected min_ndim={self.min_ndim}, found ndim={rank}"
        elif self.max_ndim is not None and rank > self.max_ndim:
            problem = f"expected max_ndim={self.max_ndim}, found ndim={rank}"
        else:
            for axis, size in self.axes.items():
                got = shape[axis] if -rank <= axis < rank else None
                if size is not None and got is not None and got != size:
                    problem = (
                        f"expected axis {axis} of input shape to have value {size}, "
                        f"but received input with shape {_fmt(shape)}"
                    )
                    break
        if problem:
            raise ValueError(
                f'Input {index} of layer "{layer_name}" is incompatible with the layer: '
                f"{problem}. Full shape received: {_fmt(shape)}"
            )


def _fmt(shape):
    return (
        "("
        + ", ".join("None" if d is None else str(d) for d in shape)
        + (",)" if len(shape) == 1 else ")")
    )


def _flatten(structure):
    if isinstance(structure, (list, tuple)):
        return [x for item in structure for x in _flatten(item)]
    if isinstance(structure, dict):
        return [x for key in structure for x in _flatten(structure[key])]
    return [structure]


def map_structure(fn, structure):
    if isinstance(structure, list):
        return [map_structure(fn, x) for x in structure]
    if isinstance(structure, tuple):
        return tuple(map_structure(fn, x) for x in structure)
    if isinstance(structure, dict):
        return {k: map_structure(fn, v) for k, v in structure.items()}
    return fn(structure)


def current_training():
    """The ``training`` flag of the enclosing layer call (``None`` outside any call)."""
    return getattr(_CONTEXT, "training", None)


class Layer:
    """Base class of layers (Keras 3's ``keras.layers.Layer``).

    Args:
        name: unique name; default is the snake-case class name made unique (``dense_1``).
        trainable: whether the layer's weights are updated by training.
        dtype: dtype of the weights and computations, default ``floatx()``.
        input_shape: for the first layer of a ``Sequential``, the shape of one sample.
        activity_regularizer: regularizer of the layer's outputs; its penalty, divided by the
            batch size, joins ``losses`` on each call (Keras 3).
    """

    def __init__(
        self,
        *,
        name=None,
        trainable=True,
        dtype=None,
        autocast=True,
        activity_regularizer=None,
        input_shape=None,
        batch_input_shape=None,
        input_dim=None,
        **kwargs,
    ):
        if kwargs:
            raise TypeError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}"
            )
        object.__setattr__(self, "_layers", [])
        object.__setattr__(self, "_variables", [])
        object.__setattr__(self, "_losses", [])
        if isinstance(dtype, dict):  # a serialized DTypePolicy
            dtype = dtype.get("config", {}).get("name", None)
        if name is not None and (not isinstance(name, str) or "/" in name):
            # Keras 3's rule: names become weight paths and file stems.
            raise ValueError(
                "Argument `name` must be a string and cannot contain character `/`. "
                f"Received: name={name!r} (of type {type(name).__name__})"
            )
        self.name = name or auto_name(_snake(type(self).__name__))
        self._trainable = trainable
        self._dtype = str(xp.dtype(dtype or floatx()))
        self.autocast = autocast
        try:
            self.activity_regularizer = regularizers_mod.get(activity_regularizer)
        except ValueError as error:
            raise type(error)(
                f"Layer {self.name}: invalid `activity_regularizer`. {error}"
            ) from None
        self.built = False
        self.input_spec = None
        self.supports_masking = False
        self._inbound_nodes = []
        self._build_shape = None
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            self._batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self._batch_input_shape = (None, *tuple(input_shape))
        else:
            self._batch_input_shape = None

    def __setattr__(self, name, value):
        # Sublayers assigned as attributes are tracked, so their weights belong to this layer.
        if isinstance(value, Layer) and not name.startswith("_"):
            if all(value is not layer for layer in self._layers):
                self._layers.append(value)
        object.__setattr__(self, name, value)

    # ----------------------------------------------------------------- properties
    @property
    def dtype(self):
        return self._dtype

    @property
    def compute_dtype(self):
        return self._dtype

    @property
    def variable_dtype(self):
        return self._dtype

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for layer in self._layers:
            layer.trainable = value

    @property
    def weights(self):
        """Trainable then non-trainable weights, own first, then sublayers' (Keras 3 order)."""
        return self.trainable_weights + self.non_trainable_weights

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        own = [v for v in self._variables if v.trainable]
        return _unique(own + [w for layer in self._layers for w in layer.trainable_weights])

    @property
    def non_trainable_weights(self):
        own = [v for v in self._variables if not v.trainable or not self.trainable]
        nested = [w for layer in self._layers for w in layer.non_trainable_weights]
        if not self.trainable:
            nested = [w for layer in self._layers for w in layer.weights]
        return _unique(own + nested)

    trainable_variables = property(lambda self: self.trainable_weights)
    non_trainable_variables = property(lambda self: self.non_trainable_weights)
    variables = property(lambda self: self.weights)

    @property
    def input(self):
        return self._node_tensor("input_tensors")

    @property
    def output(self):
        return self._node_tensor("output_tensors")

    def _node_tensor(self, attr):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name} has never been called and thus has no {attr}")
        tensors = getattr(self._inbound_nodes[0], attr)
        return tensors[0] if len(tensors) == 1 else tensors

    def count_params(self):
        return int(sum(w.size for w in self.weights))

    # ----------------------------------------------------------------- weights
    def add_weight(
        self,
        shape=None,
        initializer=None,
        dtype=None,
        trainable=True,
        name=None,
        regularizer=None,
        constraint=None,
        **kwargs,
    ):
        """Creates a weight owned by this layer (Keras's ``add_weight``).

        ``regularizer`` (a name, config or callable) adds its penalty of the weight to
        ``losses``; ``constraint`` is applied by the optimizer after each update.
        """
        shape = tuple(int(d) for d in (shape or ()))
        if initializer is None:
            is_float = xp.dtype(dtype or self._dtype).kind == "f"
            initializer = "glorot_uniform" if is_float else "zeros"
        variable = Variable(
            initializers_mod.get(initializer),
            shape=shape,
            dtype=dtype or self._dtype,
            trainable=trainable,
            name=name or f"variable_{len(self._variables)}",
            regularizer=regularizers_mod.get(regularizer),
            constraint=constraints_mod.get(constraint),
        )
        variable.path = f"{self.name}/{variable.name}"
        self._variables.append(variable)
        return variable

    def get_weights(self):
        return [w.data.copy() for w in self.weights]

    # ----------------------------------------------------------------- losses
    def add_loss(self, loss):
        """Adds a scalar loss to ``losses``; training adds ``losses`` to the compiled loss."""
        self._losses.append(loss if isinstance(loss, Tensor) else as_tensor(loss))

    @property
    def losses(self):
        """Losses of the last call (``add_loss``, activity regularizers, this layer's and its
        sublayers'), then the weight regularizers' penalties of the current weights."""
        losses = list(self._losses)
        for layer in _all_sublayers(self):
            losses.extend(layer._losses)
        for variable in self.trainable_weights:
            if getattr(variable, "regularizer", None) is not None:
                losses.append(variable.regularizer(variable))
        return losses

    def _clear_losses(self):
        self._losses.clear()
        for layer in _all_sublayers(self):
            layer._losses.clear()

    def set_weights(self, weights):
        """Sets weights from numpy arrays, in the order of ``weights``; shapes must match."""
        targets = self.weights
        if len(weights) != len(targets):
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' with a weight list of "
                f"length {len(weights)}, but the layer was expecting {len(targets)} weights."
            )
        for variable, value in zip(targets, weights, strict=True):
            value = xp.asarray(value)
            if value.shape != variable.shape:
                raise ValueError(
                    f"Layer {self.name} weight shape {variable.shape} is not compatible with "
                    f"provided weight shape {value.shape}."
                )
        for variable, value in zip(targets, weights, strict=True):
            variable.assign(value)

    # ----------------------------------------------------------------- building
    def build(self, input_shape=None):
        self.built = True

    def _maybe_build(self, input_shape):
        if not self.built:
            self._build_shape = input_shape
            self.build(input_shape)
            self.built = True

    def build_from_config(self, config):
        """Rebuilds weights from a ``get_build_config()`` dict (used by model loading)."""
        if config and "input_shape" in config:
            shape = config["input_shape"]
            self._maybe_build(_to_shape_structure(shape))

    def get_build_config(self):
        if self._build_shape is None:
            return None
        return {"input_shape": _to_lists(self._build_shape)}

    # ----------------------------------------------------------------- calling
    def call(self, inputs, *args, **kwargs):
        return inputs

    def compute_mask(self, inputs, mask=None):
        return mask if self.supports_masking else None

    def compute_output_shape(self, input_shape):
        raise NotImplementedError  # the default compute_output_spec probes instead

    def __call__(self, *args, **kwargs):
        if any(isinstance(t, KerasTensor) for t in _flatten((args, kwargs))):
            return self._symbolic_call(args, kwargs)
        return self._eager_call(args, kwargs)

    def _signature(self):
        cached = type(self).__dict__.get("_call_params")
        if cached is None:
            cached = frozenset(inspect.signature(self.call).parameters)
            type.__setattr__(type(self), "_call_params", cached)
        return cached

    def _eager_call(self, args, kwargs):
        inputs = map_structure(self._convert_input, args[0])
        args = (inputs, *args[1:])
        self._check_input_spec(map_structure(lambda t: t.shape, inputs))
        self._maybe_build(map_structure(lambda t: (None, *t.shape[1:]), inputs))
        params = self._signature()
        mask = kwargs.get("mask")
        if mask is None:
            # The inputs' masks reach compute_mask (Keras passes them through layers such as
            # Dense or Dropout) and call, when call takes a mask.
            masks = map_structure(lambda t: None if t is None else t._keras_mask, inputs)
            if any(m is not None for m in _flatten(masks)):
                mask = masks
                if "mask" in params:
                    kwargs["mask"] = masks
        training = kwargs.get("training")
        if training is None:
            training = current_training()
        if "training" in params:
            kwargs["training"] = bool(training) if training is not None else False
        else:
            kwargs.pop("training", None)
        if "mask" not in params:
            kwargs.pop("mask", None)
        previous = current_training()
        depth = getattr(_CONTEXT, "depth", 0)
        if depth == 0:
            # Keras 3 keeps the losses of the latest outermost call only.
            self._clear_losses()
        _CONTEXT.training = training
        _CONTEXT.depth = depth + 1
        try:
            outputs = self.call(*args, **kwargs)
        finally:
            _CONTEXT.training = previous
            _CONTEXT.depth = depth
        if self.activity_regularizer is not None:
            self._add_activity_losses(outputs)
        out_mask = self.compute_mask(inputs, mask)
        if out_mask is not None:
            if isinstance(outputs, Tensor):
                outputs._keras_mask = out_mask
            elif isinstance(outputs, (list, tuple)):
                masks = (
                    out_mask if isinstance(out_mask, (list, tuple)) else [out_mask] * len(outputs)
                )
                for out, m in zip(outputs, masks, strict=False):
                    if isinstance(out, Tensor):
                        out._keras_mask = m
        return outputs

    def _add_activity_losses(self, outputs):
        # Divided by the batch size (0 for an empty batch, Keras's divide_no_nan), so that its
        # weight against the weight penalties does not depend on the batch size.
        for output in _flatten(outputs):
            if isinstance(output, Tensor):
                loss = self.activity_regularizer(output)
                if output.ndim > 0:
                    batch = output.shape[0]
                    loss = loss / batch if batch else loss * 0.0
                self.add_loss(loss)

    def _convert_input(self, value):
        if value is None:
            return None
        tensor = as_tensor(value)
        if self.autocast and tensor.dtype.kind == "f" and str(tensor.dtype) != self._dtype:
            mask = tensor._keras_mask
            tensor = cast(tensor, self._dtype)
            tensor._keras_mask = mask
        return tensor

    def _check_input_spec(self, shapes):
        if self.input_spec is None:
            return
        specs = self.input_spec if isinstance(self.input_spec, (list, tuple)) else [self.input_spec]
        flat = [s for s in _flatten_shapes(shapes)]
        for i, (spec, shape) in enumerate(zip(specs, flat, strict=False)):
            if spec is not None:
                spec.check(self.name, i, shape)

    def _symbolic_call(self, args, kwargs):
        first = args[0]
        shapes = map_structure(lambda t: t.shape if isinstance(t, KerasTensor) else None, first)
        self._check_input_spec(shapes)
        self._maybe_build(shapes)
        outputs = self.compute_output_spec(*args, **kwargs)
        node = Node(self, args, kwargs, outputs)
        self._inbound_nodes.append(node)
        for i, tensor in enumerate(node.output_tensors):
            tensor._keras_history = (self, len(self._inbound_nodes) - 1, i)
            tensor.name = tensor.name or self.name
        return outputs

    def compute_output_spec(self, *args, **kwargs):
        """Output ``KerasTensor``s for symbolic inputs.

        Uses ``compute_output_shape`` where a layer defines it; otherwise runs the layer on
        zeros twice, with unknown dimensions set to 2 and then to 3: an output dimension that
        changes between the runs is unknown (``None``).
        """
        first = args[0]
        if type(self).compute_output_shape is not Layer.compute_output_shape:
            shapes = map_structure(lambda t: t.shape, first)
            out_shapes = self.compute_output_shape(shapes)
            dtype = self._output_dtype(first)
            if _is_shape(out_shapes):
                return KerasTensor(out_shapes, dtype)
            return map_structure_shapes(lambda s: KerasTensor(s, dtype), out_shapes)
        probes = [self._probe(args, kwargs, fill) for fill in (2, 3)]
        return _merge_probes(*probes)

    def _output_dtype(self, first):
        dtypes = [t.dtype for t in _flatten(first) if isinstance(t, KerasTensor)]
        if dtypes and xp.dtype(dtypes[0]).kind != "f":
            return self._dtype
        return self._dtype

    def _probe(self, args, kwargs, fill):
        def concrete(t):
            if not isinstance(t, KerasTensor):
                return t
            shape = tuple(fill if d is None else d for d in t.shape)
            return Tensor(xp.zeros(shape, dtype=t.dtype))

        with no_grad():
            c_args = map_structure(concrete, args)
            c_kwargs = {k: map_structure(concrete, v) for k, v in kwargs.items()}
            c_kwargs.setdefault("training", False)
            outputs = self._eager_call(c_args, c_kwargs)
            if getattr(_CONTEXT, "depth", 0) == 0:
                self._clear_losses()  # a shape probe is not a call whose losses count
            return outputs

    # ----------------------------------------------------------------- config
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": _dtype_policy(self)}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers_mod.serialize(self.activity_regularizer)
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _dtype_policy(layer):
    return {
        "module": "keras",
        "class_name": "DTypePolicy",
        "config": {"name": layer.dtype},
        "registered_name": None,
    }


def _all_sublayers(layer):
    """Every layer nested in ``layer`` (depth first, each once), ``layer`` excluded."""
    out, seen, stack = [], {id(layer)}, list(reversed(layer._layers))
    while stack:
        sub = stack.pop()
        if id(sub) in seen:
            continue
        seen.add(id(sub))
        out.append(sub)
        stack.extend(reversed(sub._layers))
    return out


def _unique(items):
    seen, out = set(), []
    for item in items:
        if id(item) not in seen:
            seen.add(id(item))
            out.append(item)
    return out


def _is_shape(value):
    return isinstance(value, tuple) and all(d is None or isinstance(d, int) for d in value)


def map_structure_shapes(fn, structure):
    if _is_shape(structure):
        return fn(structure)
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure_shapes(fn, s) for s in structure)
    if isinstance(structure, dict):
        return {k: map_structure_shapes(fn, v) for k, v in structure.items()}
    return fn(structure)


def _flatten_shapes(shapes):
    if _is_shape(shapes) or shapes is None:
        return [shapes]
    out = []
    for s in shapes:
        out.extend(_flatten_shapes(s))
    return out


def _to_lists(shape):
    if _is_shape(shape):
        return list(shape)
    if isinstance(shape, (list, tuple)):
        return [_to_lists(s) for s in shape]
    if isinstance(shape, dict):
        return {k: _to_lists(v) for k, v in shape.items()}
    return shape


def _to_shape_structure(shape):
    if isinstance(shape, list) and all(d is None or isinstance(d, int) for d in shape):
        return tuple(shape)
    if isinstance(shape, (list, tuple)):
        return [_to_shape_structure(s) for s in shape]
    if isinstance(shape, dict):
        return {k: _to_shape_structure(v) for k, v in shape.items()}
    return shape


def _merge_probes(a, b):
    if isinstance(a, Tensor):
        shape = tuple(x if x == y else None for x, y in zip(a.shape, b.shape, strict=True))
        return KerasTensor(shape, str(a.dtype))
    if isinstance(a, (list, tuple)):
        return type(a)(_merge_probes(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return {k: _merge_probes(a[k], b[k]) for k in a}
    return a
