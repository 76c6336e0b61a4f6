"""``keras.datasets``: MNIST-like datasets read from local IDX files (never downloaded)."""

from compiler.keras.datasets import fashion_mnist, mnist

__all__ = ["fashion_mnist", "mnist"]
