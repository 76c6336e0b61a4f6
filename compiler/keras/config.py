"""``keras.config``: process-wide settings (Keras 3's ``keras.config``), plus this package's
settings for parallel training.

``floatx``, ``epsilon`` (and their setters) and ``image_data_format`` are Keras's. The
training settings are this package's own (see ``compiler.keras._parallelism`` for what
each controls):

- ``set_training_workers(n)`` / ``training_workers()``: CPUs used by ``fit``, ``evaluate`` and
  ``predict`` (default ``$KESTREL_TRAINING_WORKERS``, else the CPUs this process may use).
- ``set_training_processes(mode)`` / ``training_processes()``: whether ``fit`` may split
  training steps over helper processes (``"auto"``, ``"always"``, ``"never"``; default
  ``$KESTREL_TRAINING_PROCESSES``, else ``"auto"``).
- ``set_malloc_tuning(enabled)`` / ``malloc_tuning()``: opt-in glibc malloc tuning, which lasts
  for the rest of the process (default ``$KESTREL_MALLOC_TUNING=1``, else off).
"""

from compiler.keras._parallelism import (
    malloc_tuning,
    set_malloc_tuning,
    set_training_processes,
    set_training_workers,
    training_processes,
    training_workers,
)
from compiler.keras.backend import epsilon, floatx, image_data_format, set_epsilon, set_floatx

__all__ = [
    "epsilon",
    "floatx",
    "image_data_format",
    "malloc_tuning",
    "set_epsilon",
    "set_floatx",
    "set_malloc_tuning",
    "set_training_processes",
    "set_training_workers",
    "training_processes",
    "training_workers",
]
