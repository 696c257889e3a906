"""Smoke tests: the installed package imports, its C core is the matching version, and
status codes map to messages. Also run against the built wheel in a fresh venv."""
import edgert
from edgert import _ffi


def test_native_version_matches_package():
    assert _ffi.ffi.string(_ffi.lib.edgert_version()).decode() == edgert.__version__


def test_strerror_names_statuses():
    assert _ffi.strerror(0) == "ok"
    assert "masked all FFT bins" in _ffi.strerror(_ffi.lib.EDGERT_ERR_MASKED_ALL)
    assert _ffi.strerror(-12345) == "unknown status code"
