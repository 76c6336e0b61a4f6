"""``keras.utils``: one-hot labels, padding, normalization, seeding and the progress bar."""

from compiler.keras.utils.numerical_utils import normalize, to_categorical
from compiler.keras.utils.progbar import Progbar
from compiler.keras.utils.rng_utils import set_random_seed
from compiler.keras.utils.sequence_utils import pad_sequences

__all__ = ["Progbar", "normalize", "pad_sequences", "set_random_seed", "to_categorical"]
