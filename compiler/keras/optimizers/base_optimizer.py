"""``Optimizer``: Keras 3's optimizer base (variables, clipping, weight decay, EMA, config).

Variables are created in Keras's order so that ``.keras`` files line up with Keras's
``optimizer/vars/N``: ``iteration`` (int64), ``learning_rate`` (float32, unless a schedule),
then the slot variables each subclass adds in ``build`` (named ``<var path with _>_<slot>``).
Updates compute in numpy on whole arrays and write with ``Variable.assign`` (never in place).
"""

from compiler.keras.backend import floatx, xp
from compiler.keras.ops import no_grad
from compiler.keras.optimizers.schedules import LearningRateSchedule
from compiler.keras.optimizers.schedules import deserialize as deserialize_schedule
from compiler.keras.optimizers.schedules import serialize as serialize_schedule
from compiler.keras.variables import Variable

__all__ = ["Optimizer"]

_NAME_COUNTS: dict[str, int] = {}


def _auto_name(prefix):
    count = _NAME_COUNTS.get(prefix, 0)
    _NAME_COUNTS[prefix] = count + 1
    return prefix if count == 0 else f"{prefix}_{count}"


class Optimizer:
    """Base class of optimizers.

    Args:
        learning_rate: a float, a ``LearningRateSchedule`` or a callable returning a float.
        weight_decay: if set, decoupled weight decay ``var -= var * wd * lr`` each step.
        clipnorm: clip each gradient to this L2 norm.
        clipvalue: clip each gradient element to ``[-clipvalue, clipvalue]``.
        global_clipnorm: clip all gradients together to this global L2 norm.
        use_ema: keep an exponential moving average of the weights.
        ema_momentum: the EMA's momentum.
        ema_overwrite_frequency: every this many steps, copy the EMA into the weights.
        loss_scale_factor: the loss is multiplied by it before ``backward`` and the gradients
            divided by it.
        gradient_accumulation_steps: apply the mean gradient of this many steps at once.
        name: the optimizer's name.
    """

    def __init__(
        self,
        learning_rate,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
        **kwargs,
    ):
        kwargs.pop("decay", None)
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        self.name = name or _auto_name(type(self).__name__.lower())
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = use_ema
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        if gradient_accumulation_steps is not None and not (
            isinstance(gradient_accumulation_steps, int) and gradient_accumulation_steps >= 2
        ):
            raise ValueError(
                "`gradient_accumulation_steps` must be an integer >= 2. Received: "
                f"gradient_accumulation_steps={gradient_accumulation_steps}"
            )
        if use_ema and not 0 <= ema_momentum <= 1:
            raise ValueError(
                f"`ema_momentum` must be in the range [0, 1]. Received: ema_momentum={ema_momentum}"
            )
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}"
            )
        self.built = False
        self._variables = []
        self._trainable_variables = []
        self._index = {}
        self._iterations = self._make_variable(xp.zeros((), "int64"), "iteration")
        if isinstance(learning_rate, LearningRateSchedule) or callable(learning_rate):
            self._learning_rate = learning_rate
        else:
            if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)):
                raise ValueError(
                    "Argument `learning_rate` should be float, or an instance of "
                    "LearningRateSchedule, or a callable (that takes in the current iteration "
                    f"value and returns the corresponding learning rate value). Received "
                    f"instead: learning_rate={learning_rate!r}"
                )
            self._learning_rate = self._make_variable(
                xp.asarray(learning_rate, floatx()), "learning_rate"
            )

    # ----------------------------------------------------------------- variables
    def _make_variable(self, value, name):
        variable = Variable(value, dtype=value.dtype, trainable=False, name=name)
        variable.path = f"{self.name}/{name}"
        self._variables.append(variable)
        return variable

    @property
    def variables(self):
        return list(self._variables)

    @property
    def iterations(self):
        return self._iterations

    def add_variable(self, shape, initializer="zeros", dtype=None, name=None):
        """Adds a state variable of ``shape`` (zeros, or a constant ``initializer``)."""
        dtype = xp.dtype(dtype or floatx())
        fill = 0.0 if initializer == "zeros" else float(initializer)
        return self._make_variable(xp.full(tuple(shape), fill, dtype), name or "variable")

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        """A state variable shaped like a model variable, named ``<its path with _>_<name>``."""
        base = getattr(reference_variable, "path", None) or reference_variable.name
        full = f"{base.replace('/', '_')}_{name or 'var'}"
        return self.add_variable(
            reference_variable.shape, initializer, reference_variable.dtype, full
        )

    def add_optimizer_variables(self, trainable_variables, name, initializer="zeros"):
        """One slot per variable for each name, interleaved per variable as Keras adds them."""
        names = [name] if isinstance(name, str) else list(name)
        inits = [initializer] * len(names) if not isinstance(initializer, list) else initializer
        slots = tuple([] for _ in names)
        for variable in trainable_variables:
            for i, (slot_name, init) in enumerate(zip(names, inits, strict=True)):
                slots[i].append(self.add_variable_from_reference(variable, slot_name, init))
        return slots[0] if isinstance(name, str) else slots

    def build(self, var_list):
        """Creates the slot variables for ``var_list`` (the model's trainable variables)."""
        var_list = list(var_list)
        self._index = {id(v): i for i, v in enumerate(var_list)}
        if self.use_ema:
            self._averages = [self.add_variable_from_reference(v, "average") for v in var_list]
        if self.gradient_accumulation_steps:
            self._accumulators = [
                self.add_variable_from_reference(v, "gradient_accumulator") for v in var_list
            ]
        self._trainable_variables = var_list
        self.built = True

    def _slot(self, slots, variable):
        return slots[self._index[id(variable)]]

    # ----------------------------------------------------------------- learning rate
    @property
    def learning_rate(self):
        """The current learning rate as a float32 array (a schedule is evaluated here)."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            return xp.asarray(lr(self._iterations.data), floatx())
        if isinstance(lr, Variable):
            return lr.data
        return xp.asarray(lr(), floatx())

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, LearningRateSchedule) or callable(value):
            if isinstance(self._learning_rate, Variable):
                self._variables.remove(self._learning_rate)
            self._learning_rate = value
        elif isinstance(self._learning_rate, Variable):
            self._learning_rate.assign(xp.asarray(value, floatx()))
        else:
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` object as its "
                "`learning_rate` constructor argument, hence its learning rate is not settable."
            )

    # ----------------------------------------------------------------- applying
    def scale_loss(self, loss):
        return loss * self.loss_scale_factor if self.loss_scale_factor is not None else loss

    def apply_gradients(self, grads_and_vars):
        grads, variables = zip(*grads_and_vars, strict=True)
        self.apply(list(grads), list(variables))
        return self._iterations

    def apply(self, grads, trainable_variables=None):
        """Updates ``trainable_variables`` (default: those it was built with) from ``grads``."""
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer must already be "
                    "built on a list of variables. Call `optimizer.build(trainable_variables)` "
                    "first."
                )
            trainable_variables = self._trainable_variables
        trainable_variables = list(trainable_variables)
        if len(grads) != len(trainable_variables):
            raise ValueError(
                f"Received {len(grads)} gradients for {len(trainable_variables)} variables."
            )
        if not self.built:
            self.build(trainable_variables)
        unknown = [v.path for v in trainable_variables if id(v) not in self._index]
        if unknown:
            raise ValueError(
                f"Unknown variable(s): {unknown}. This optimizer can only be called for the "
                "variables it was originally built with. When working with a new set of "
                "variables, you should recreate a new optimizer instance."
            )
        pairs = [(g, v) for g, v in zip(grads, trainable_variables, strict=True) if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable.")
        grads = [xp.asarray(getattr(g, "data", g)) for g, _ in pairs]
        variables = [v for _, v in pairs]
        if self.loss_scale_factor is not None:
            grads = [g / self.loss_scale_factor for g in grads]
        if self.gradient_accumulation_steps:
            self._accumulate(grads, variables)
        else:
            self._update(grads, variables)
        if self.use_ema:
            self._update_ema()
        # As Keras 3: after the update (and the moving averages), each variable that had a
        # gradient is projected by its constraint.
        for variable in variables:
            if getattr(variable, "constraint", None) is not None:
                with no_grad():
                    variable.assign(variable.constraint(variable))
        self._iterations.assign(self._iterations.data + 1)

    def _update(self, grads, variables):
        grads = self._clip_gradients(grads)
        self._apply_weight_decay(variables)
        lr = self.learning_rate
        for grad, variable in zip(grads, variables, strict=True):
            self.update_step(grad.astype(variable.dtype, copy=False), variable, lr)

    def _accumulate(self, grads, variables):
        steps = self.gradient_accumulation_steps
        accumulators = [self._slot(self._accumulators, v) for v in variables]
        if (int(self._iterations.data) + 1) % steps == 0:
            mean = [(g + a.data) / steps for g, a in zip(grads, accumulators, strict=True)]
            self._update(mean, variables)
            for a in accumulators:
                a.assign(xp.zeros_like(a.data))
        else:
            for g, a in zip(grads, accumulators, strict=True):
                a.assign(a.data + g)

    def _update_ema(self):
        momentum = self.ema_momentum if int(self._iterations.data) != 0 else 0.0
        for variable, average in zip(self._trainable_variables, self._averages, strict=True):
            average.assign(momentum * average.data + (1 - momentum) * variable.data)
        frequency = self.ema_overwrite_frequency
        if frequency and (int(self._iterations.data) + 1) % frequency == 0:
            self.finalize_variable_values(self._trainable_variables)

    def update_step(self, gradient, variable, learning_rate):
        raise NotImplementedError(f"{type(self).__name__} must implement `update_step`.")

    def _clip_gradients(self, grads):
        if self.clipnorm and self.clipnorm > 0:
            out = []
            for g in grads:
                norm = float(xp.sqrt(xp.sum(xp.square(g))))
                out.append(g * (self.clipnorm / max(norm, self.clipnorm)) if norm > 0 else g)
            return out
        if self.global_clipnorm and self.global_clipnorm > 0:
            norm = xp.sqrt(sum(xp.sum(xp.square(g.astype("float64"))) for g in grads))
            # Keras: scale = clip * min(1/norm, 1/clip), NaN when the norm is not finite.
            scale = (
                self.global_clipnorm * min(1.0 / norm, 1.0 / self.global_clipnorm)
                if (xp.isfinite(norm))
                else float("nan")
            )
            return [(g * scale).astype(g.dtype) for g in grads]
        if self.clipvalue and self.clipvalue > 0:
            return [xp.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def _apply_weight_decay(self, variables):
        if self.weight_decay is None:
            return
        lr = self.learning_rate
        for variable in variables:
            if self._use_weight_decay(variable):
                decay = xp.asarray(self.weight_decay, variable.dtype) * lr.astype(variable.dtype)
                variable.assign(variable.data - variable.data * decay)

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Variables (or variables whose name contains one of ``var_names``) not decayed."""
        if self.built:
            raise ValueError(
                "`exclude_from_weight_decay()` can only be configured before the optimizer is "
                "built."
            )
        self._exclude_ids = {id(v) for v in var_list or []}
        self._exclude_names = list(var_names or [])

    def _use_weight_decay(self, variable):
        if id(variable) in getattr(self, "_exclude_ids", ()):
            return False
        return not any(n in variable.name for n in getattr(self, "_exclude_names", ()))

    def finalize_variable_values(self, var_list):
        """With ``use_ema``, replaces the model variables by their moving averages."""
        if self.use_ema:
            for variable, average in zip(var_list, self._averages, strict=True):
                variable.assign(average.data)

    # ----------------------------------------------------------------- state and config
    def set_weights(self, weights):
        if not self.built:
            raise ValueError(
                "You are calling `set_weights()` on an optimizer that has not yet been built. "
                "Please call `optimizer.build(trainable_variables)` to create the optimizer "
                "weights before calling `set_weights()`."
            )
        for variable, weight in zip(self._variables, weights, strict=True):
            weight = xp.asarray(weight)
            if variable.shape != weight.shape:
                raise ValueError(
                    f"Optimizer variable {variable.path} has shape {variable.shape} not "
                    f"compatible with provided weight shape {weight.shape}."
                )
            variable.assign(weight)

    def get_weights(self):
        return [v.data.copy() for v in self._variables]

    def save_own_variables(self, store):
        for i, variable in enumerate(self._variables):
            store[str(i)] = variable.data

    def load_own_variables(self, store):
        if len(store.keys()) != len(self._variables):
            raise ValueError(
                f"Optimizer '{self.name}' has {len(self._variables)} variables whereas the saved "
                f"optimizer has {len(store.keys())} variables."
            )
        for i, variable in enumerate(self._variables):
            variable.assign(xp.asarray(store[str(i)]))

    def get_config(self):
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            learning_rate = serialize_schedule(lr)
        elif isinstance(lr, Variable):
            learning_rate = float(lr.data)
        else:
            learning_rate = lr
        return {
            "name": self.name,
            "learning_rate": learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = deserialize_schedule(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"
