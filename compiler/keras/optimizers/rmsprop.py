"""RMSprop, Keras 3's update rule.

``v = rho * v + (1 - rho) * g^2``; centered: ``a = rho * a + (1 - rho) * g`` and
``denominator = v - a^2 + eps``, else ``v + eps``; ``inc = lr * g / sqrt(denominator)``;
with momentum ``m = momentum * m + inc; w -= m``, else ``w -= inc``.
"""

from compiler.keras.backend import xp
from compiler.keras.optimizers.base_optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop optimizer (Hinton, 2012).

    Args:
        learning_rate: default 0.001.
        rho: discount of the squared-gradient average, default 0.9.
        momentum: default 0.0.
        epsilon: default 1e-7.
        centered: normalize by the estimated variance instead of the second moment.
        **kwargs: the base ``Optimizer`` arguments.
    """

    def __init__(
        self,
        learning_rate=0.001,
        rho=0.9,
        momentum=0.0,
        epsilon=1e-7,
        centered=False,
        name="rmsprop",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._velocities = self.add_optimizer_variables(var_list, "velocity")
        self._momentums = []
        if self.momentum > 0:
            self._momentums = self.add_optimizer_variables(var_list, "momentum")
        self._average_gradients = []
        if self.centered:
            self._average_gradients = self.add_optimizer_variables(var_list, "average_gradient")

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype.type
        lr = learning_rate.astype(variable.dtype)
        rho = dtype(self.rho)
        velocity = self._slot(self._velocities, variable)
        velocity.assign(rho * velocity.data + (1 - rho) * gradient * gradient)
        if self.centered:
            average = self._slot(self._average_gradients, variable)
            average.assign(rho * average.data + (1 - rho) * gradient)
            denominator = velocity.data - average.data * average.data + dtype(self.epsilon)
        else:
            denominator = velocity.data + dtype(self.epsilon)
        increment = lr * gradient / xp.sqrt(denominator)
        if self.momentum > 0:
            momentum = self._slot(self._momentums, variable)
            momentum.assign(dtype(self.momentum) * momentum.data + increment)
            variable.assign(variable.data - momentum.data)
        else:
            variable.assign(variable.data - increment)

    def get_config(self):
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }
