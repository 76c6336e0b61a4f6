"""Layers that ``keras.applications`` models use in saved files (``keras.src.applications``)."""

from compiler.keras.applications.convnext import LayerScale, StochasticDepth

__all__ = ["LayerScale", "StochasticDepth"]
