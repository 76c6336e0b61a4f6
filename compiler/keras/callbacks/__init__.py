"""``keras.callbacks``: hooks into ``fit`` / ``evaluate`` / ``predict``."""

from compiler.keras.callbacks.callback import Callback
from compiler.keras.callbacks.callback_list import CallbackList
from compiler.keras.callbacks.csv_logger import CSVLogger
from compiler.keras.callbacks.early_stopping import EarlyStopping
from compiler.keras.callbacks.history import History
from compiler.keras.callbacks.lambda_callback import LambdaCallback
from compiler.keras.callbacks.learning_rate_scheduler import LearningRateScheduler
from compiler.keras.callbacks.model_checkpoint import ModelCheckpoint
from compiler.keras.callbacks.progbar_logger import ProgbarLogger
from compiler.keras.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from compiler.keras.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
    "Callback",
    "CallbackList",
    "CSVLogger",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]
