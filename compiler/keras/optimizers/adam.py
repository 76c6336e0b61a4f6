"""Adam, Keras 3's update rule.

``t = iterations + 1``; ``alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)``;
``m += (g - m) * (1 - beta_1)``; ``v += (g^2 - v) * (1 - beta_2)``;
(AMSGrad: ``v_hat = max(v_hat, v)``, used instead of ``v``); ``w -= m * alpha / (sqrt(v) + eps)``.
"""

from compiler.keras.backend import xp
from compiler.keras.optimizers.base_optimizer import Optimizer

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam optimizer (Kingma and Ba, 2014).

    Args:
        learning_rate: default 0.001.
        beta_1: decay of the first moment, default 0.9.
        beta_2: decay of the second moment, default 0.999.
        epsilon: the "epsilon hat" added to ``sqrt(v)``, default 1e-7.
        amsgrad: use the AMSGrad variant.
        **kwargs: the base ``Optimizer`` arguments (clipnorm, weight_decay, name, ...).
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        name="adam",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )
        if self.amsgrad:
            self._velocity_hats = self.add_optimizer_variables(var_list, "velocity_hat")

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype.type
        lr = learning_rate.astype(variable.dtype)
        step = dtype(int(self._iterations.data) + 1)
        beta_1, beta_2 = dtype(self.beta_1), dtype(self.beta_2)
        alpha = lr * xp.sqrt(1 - beta_2**step) / (1 - beta_1**step)
        m = self._slot(self._momentums, variable)
        v = self._slot(self._velocities, variable)
        m.assign(m.data + (gradient - m.data) * (1 - beta_1))
        v.assign(v.data + (gradient * gradient - v.data) * (1 - beta_2))
        v_value = v.data
        if self.amsgrad:
            v_hat = self._slot(self._velocity_hats, variable)
            v_hat.assign(xp.maximum(v_hat.data, v.data))
            v_value = v_hat.data
        variable.assign(variable.data - (m.data * alpha) / (xp.sqrt(v_value) + dtype(self.epsilon)))

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }
