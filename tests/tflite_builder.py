"""The TFLite flatbuffer writer the tests build models with: the one `edgert import` uses to
write models rebuilt from EON tables (edgert/importer/tflite_writer.py)."""
from edgert.importer.tflite_writer import Op, Tensor, build_model

__all__ = ["Op", "Tensor", "build_model"]
