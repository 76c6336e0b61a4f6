"""The ``.tflite`` writer: our own serialization with the ``flatbuffers`` runtime library."""

from compiler.export.tflite.writer import DESCRIPTION, SIGNATURE_KEY, write_tflite

__all__ = ["write_tflite", "DESCRIPTION", "SIGNATURE_KEY"]
