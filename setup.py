"""Build shim: PEP 621 metadata lives in pyproject.toml; this file only wires the cffi
out-of-line API-mode extension (``edgert._native``) built from ``csrc/``."""
from setuptools import setup

setup(cffi_modules=["edgert/_build.py:ffibuilder"])
