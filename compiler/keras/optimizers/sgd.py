"""SGD with optional (Nesterov) momentum, Keras 3's update rule.

``m = momentum * m - lr * g``; ``w += m`` (Nesterov: ``w += momentum * m - lr * g``);
without momentum ``w -= lr * g``.
"""

from compiler.keras.optimizers.base_optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """Gradient descent (with momentum) optimizer.

    Args:
        learning_rate: default 0.01.
        momentum: float in [0, 1], default 0.0.
        nesterov: whether to apply Nesterov momentum.
        **kwargs: the base ``Optimizer`` arguments (clipnorm, weight_decay, name, ...).
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if (
            isinstance(momentum, bool)
            or not isinstance(momentum, (int, float))
            or not (0 <= momentum <= 1)
        ):
            raise ValueError(f"`momentum` must be a float between [0, 1]. Received: {momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = nesterov

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.momentums = []
        if self.momentum != 0:
            self.momentums = self.add_optimizer_variables(var_list, "momentum")

    def update_step(self, gradient, variable, learning_rate):
        lr = learning_rate.astype(variable.dtype)
        if self.momentum == 0:
            variable.assign(variable.data - gradient * lr)
            return
        m = self._slot(self.momentums, variable)
        momentum = variable.dtype.type(self.momentum)
        m.assign(m.data * momentum - gradient * lr)
        if self.nesterov:
            variable.assign(variable.data + (m.data * momentum - gradient * lr))
        else:
            variable.assign(variable.data + m.data)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
