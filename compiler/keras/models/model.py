"""``Model``: a layer with training (``compile`` / ``fit`` / ``evaluate`` / ``predict``).

``keras.Model(inputs, outputs)`` builds a functional model; subclasses of ``Model`` that define
``call`` are subclassed models, as in Keras.
"""

from compiler.keras.layers.layer import Layer
from compiler.keras.models.summary import print_summary
from compiler.keras.trainer import Trainer

__all__ = ["Model"]


class Model(Trainer, Layer):
    """A layer that can be trained; see ``keras.Model``."""

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from compiler.keras.models.functional import Functional

            return Functional.__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        # Subclassed models: Functional has its own __init__ (Model.__new__ picks it).
        Layer.__init__(self, **kwargs)
        self._init_training_state()

    @property
    def layers(self):
        return list(self._layers)

    def get_layer(self, name=None, index=None):
        """Returns a layer by name or index (``index`` wins when both are given)."""
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(
                    f"Was asked to retrieve layer at index {index} but model only has "
                    f"{len(layers)} layers."
                )
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"No such layer: {name}. Existing layers are: {[layer.name for layer in layers]}."
        )

    def save(self, filepath, overwrite=True, **kwargs):
        """Saves the model as a Keras 3 ``.keras`` file (see ``keras.saving.save_model``)."""
        from compiler.keras.saving.saving_api import save_model

        save_model(self, filepath, overwrite=overwrite, **kwargs)

    def save_weights(self, filepath, overwrite=True):
        """Saves the weights as a Keras 3 ``.weights.h5`` file."""
        from compiler.keras.saving.saving_api import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False, *, max_bytes=None):
        """Loads weights from a ``.weights.h5`` or ``.keras`` file into this built model.

        ``max_bytes`` bounds the memory the load may use (see ``keras.saving.load_weights``).
        """
        from compiler.keras.saving.saving_api import load_weights

        load_weights(self, filepath, skip_mismatch=skip_mismatch, max_bytes=max_bytes)

    def summary(
        self,
        line_length=None,
        positions=None,
        print_fn=None,
        expand_nested=False,
        show_trainable=False,
        layer_range=None,
    ):
        """Prints a table of layers, output shapes and parameter counts, like Keras."""
        print_summary(
            self, line_length=line_length, print_fn=print_fn, show_trainable=show_trainable
        )
