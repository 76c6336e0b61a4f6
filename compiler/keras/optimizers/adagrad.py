"""Adagrad, Keras 3's update rule: ``acc += g^2``; ``w -= lr * g / sqrt(acc + eps)``."""

from compiler.keras.backend import xp
from compiler.keras.optimizers.base_optimizer import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad optimizer (Duchi et al., 2011).

    Args:
        learning_rate: default 0.001.
        initial_accumulator_value: starting value of the accumulators, default 0.1.
        epsilon: default 1e-7.
        **kwargs: the base ``Optimizer`` arguments.
    """

    def __init__(
        self,
        learning_rate=0.001,
        initial_accumulator_value=0.1,
        epsilon=1e-7,
        name="adagrad",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulators = self.add_optimizer_variables(
            var_list, "accumulator", initializer=self.initial_accumulator_value
        )

    def update_step(self, gradient, variable, learning_rate):
        lr = learning_rate.astype(variable.dtype)
        accumulator = self._slot(self._accumulators, variable)
        accumulator.assign(accumulator.data + gradient * gradient)
        eps = variable.dtype.type(self.epsilon)
        variable.assign(variable.data - lr * gradient / xp.sqrt(accumulator.data + eps))

    def get_config(self):
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }
