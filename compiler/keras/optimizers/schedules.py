"""Learning-rate schedules (``keras.optimizers.schedules``): functions of the step number."""

import math

__all__ = ["LearningRateSchedule", "ExponentialDecay", "serialize", "deserialize"]


class LearningRateSchedule:
    """Base class: ``schedule(step) -> learning rate``."""

    def __call__(self, step):
        raise NotImplementedError(f"{type(self).__name__} must implement `__call__`.")

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} must implement `get_config`.")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (floored if staircase).

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: steps per decay period (positive).
        decay_rate: the factor per period.
        staircase: decay in discrete steps.
        name: the schedule's name.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        if decay_steps <= 0:
            raise ValueError(
                f"Argument `decay_steps` must be > 0. Received: decay_steps={decay_steps}"
            )
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        p = float(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate**p

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


_BY_NAME = {"ExponentialDecay": ExponentialDecay}


def serialize(schedule):
    return {"module": "keras.optimizers.schedules", "class_name": type(schedule).__name__,
            "config": schedule.get_config(), "registered_name": None}


def deserialize(config):
    cls = _BY_NAME.get(config.get("class_name"))
    if cls is None:
        raise ValueError(
            f"Unknown learning rate schedule: {config.get('class_name')!r}. "
            f"Valid: {sorted(_BY_NAME)}"
        )
    return cls.from_config(config.get("config", {}))
