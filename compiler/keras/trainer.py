"""Training loop mixin of ``Model``: compile, fit, evaluate, predict."""

__all__ = ["Trainer"]


class Trainer:
    """compile / fit / evaluate / predict for ``Model``."""

    def _init_training_state(self):
        self.optimizer = None
        self.compiled = False
