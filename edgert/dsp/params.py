"""Parsing of DSP block parameters as Edge Impulse Studio sends them.

Studio's DSP config API and exported bundles carry values in several spellings: booleans as
``true``/``"true"``/``1``, numbers as numbers or numeric strings (``"16"``), and the v1 power
edges as a comma separated string (``"0.1, 0.5, 1.0"``). These helpers accept all of those and
raise :class:`~edgert.errors.ConfigurationError` naming the key and the accepted values.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from ..errors import ConfigurationError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def normalize_keys(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Studio keys use dashes (``filter-type``); accept underscores too."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise ConfigurationError(
            f"DSP params must be a mapping of Studio keys to values, got {type(params).__name__}"
        )
    return {str(k).strip().replace("_", "-"): v for k, v in params.items()}


def as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigurationError(f"{key} must be a boolean (true/false), got {value!r}")


def as_float(key: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ConfigurationError(f"{key} must be a number, got {value!r}")
    try:
        out = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{key} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise ConfigurationError(f"{key} must be a finite number, got {value!r}")
    return out


def as_int(key: str, value: Any) -> int:
    f = as_float(key, value)
    if f != int(f):
        raise ConfigurationError(f"{key} must be a whole number, got {value!r}")
    if abs(f) > 2**31 - 1:
        raise ConfigurationError(f"{key} is out of range: {value!r}")
    return int(f)


def as_choice(key: str, value: Any, choices: Mapping[str, Any]) -> Any:
    """Case-insensitive choice among ``choices`` (lower-case name -> result)."""
    if isinstance(value, str) and value.strip().lower() in choices:
        return choices[value.strip().lower()]
    names = ", ".join(repr(c) for c in choices)
    raise ConfigurationError(f"{key} must be one of {names}, got {value!r}")


def as_float_list(key: str, value: Any) -> list[float]:
    """A list of numbers, or a comma separated string of them (Studio's power edges)."""
    if isinstance(value, str):
        items = [s for s in (p.strip() for p in value.split(",")) if s]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ConfigurationError(
            f"{key} must be a comma separated list of numbers such as \"0.1, 0.5, 1.0\", "
            f"got {value!r}"
        )
    return [as_float(key, v) for v in items]
