"""Exception classes of edgert.

Every error edgert raises derives from :class:`EdgertError`. Classes that correspond to
Python's built-in categories also derive from them (a bad configuration *is* a ValueError), so
callers can catch either. Messages say what is wrong and what to change.
"""
from __future__ import annotations


class EdgertError(Exception):
    """Base class of every error raised by edgert."""


class ConfigurationError(EdgertError, ValueError):
    """An invalid DSP/learn block configuration. The Edge Impulse reference processing blocks
    raise their own ``ConfigurationError`` for the same configurations."""


class ConfigurationAssertionError(ConfigurationError, AssertionError):
    """A configuration the Edge Impulse reference blocks reject with an ``assert`` (the audio
    blocks' frequency range and normalisation-window checks): catchable as the reference's
    ``AssertionError`` and as :class:`ConfigurationError`."""


class InputError(EdgertError, ValueError):
    """Bad input data: NaN/inf, wrong length or axis count, a window too short."""


class ModelError(EdgertError, ValueError):
    """A corrupt, inconsistent or unsupported model file."""


class UnsupportedOperatorError(ModelError):
    """The model uses an operator/type the native engine does not implement."""


class BundleError(EdgertError, ValueError):
    """An impulse bundle that cannot be loaded; the message names the file and the field."""


class DatasetError(EdgertError, ValueError):
    """A dataset file that cannot be read; other files of the dataset are unaffected."""


class AcquisitionFormatError(EdgertError, ValueError):
    """A malformed data-acquisition document (JSON/CBOR) or a bad signature."""


class NativeError(EdgertError, RuntimeError):
    """The C core returned an error status that has no more specific class."""
