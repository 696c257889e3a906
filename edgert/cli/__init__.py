"""The ``edgert`` command line: :func:`main` (the console script), one module per command
family in :mod:`edgert.cli.commands`, stdout helpers in :mod:`edgert.cli.output`."""
from .main import build_parser, main

__all__ = ["build_parser", "main"]
