"""Errors of the acquisition package."""
from __future__ import annotations

from ..errors import AcquisitionFormatError


class SignatureError(AcquisitionFormatError):
    """A document that cannot be signed or verified: not signed (alg ``none`` or still the
    placeholder), signature not where the format puts it, or (from :func:`check_signature`)
    a signature that does not match."""
