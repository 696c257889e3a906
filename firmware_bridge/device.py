"""The typed description of a board, parsed from its ``AT+CONFIG?`` dump.

The firmware prints sections headed by lines such as ``===== Device info =====`` (the ST
board's sensor header is literally ``===== Sensors ======``) and, inside them, ``key: value``
lines. As the official host does, a key is lower-cased and its value is everything after the
*first* colon, trimmed - so a MAC address such as ``c4:7f:51:01:02:03`` survives. Sensor lines
have their own shape (``Name: ..., Max sample length: 300s, Frequencies: [62.50Hz, 100.00Hz]``).

Parsing never raises on odd lines: a line it cannot place is kept in
:attr:`DeviceConfig.unparsed` so the caller can count and log it (a garbled byte on the wire
must not stop the bridge).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

__all__ = ["DeviceConfig", "SensorInfo", "SamplingSettings", "UploadSettings",
           "parse_config", "parse_sensor_line"]

#: The sensor line, as the official host matches it (serial-protocol.md).
_SENSOR = re.compile(r"^Name\:\s?([^,]+),\s?Max sample length\:\s?([^,]+)s\s?,\s?"
                     r"Frequencies\:\s?\[(.*)\]\s?$")
_HZ = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*Hz\s*$")
_NUMBER = re.compile(r"[-+]?[0-9]*\.?[0-9]+")

#: Section names as they appear between the ``=`` signs, mapped to our names.
_SECTIONS = {
    "device info": "device",
    "sensors": "sensors",
    "wifi": "wifi",
    "sampling parameters": "sampling",
    "upload settings": "upload",
    "remote management": "management",
}


@dataclass(frozen=True)
class SensorInfo:
    """One sensor the firmware can sample (``AT+SAMPLESTART=<name>``)."""

    name: str
    max_sample_length_s: float
    frequencies: tuple[float, ...]


@dataclass(frozen=True)
class SamplingSettings:
    """What ``AT+SAMPLESETTINGS`` holds: label, interval, length and the HMAC key."""

    label: Optional[str] = None
    interval_ms: Optional[float] = None
    length_ms: Optional[int] = None
    hmac_key: Optional[str] = None


@dataclass(frozen=True)
class UploadSettings:
    api_key: Optional[str] = None
    host: Optional[str] = None
    path: Optional[str] = None


@dataclass
class DeviceConfig:
    """A board as ``AT+CONFIG?`` describes it."""

    device_id: Optional[str] = None
    device_type: Optional[str] = None
    at_version: Optional[str] = None
    sensors: List[SensorInfo] = field(default_factory=list)
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    upload: UploadSettings = field(default_factory=UploadSettings)
    #: every ``key: value`` line by section (``{"wifi": {"ssid": ...}, ...}``)
    sections: Dict[str, Dict[str, str]] = field(default_factory=dict)
    #: lines that fit nowhere (garbled or unknown)
    unparsed: List[str] = field(default_factory=list)

    def sensor(self, name: str) -> SensorInfo:
        """The sensor called ``name`` (exact, then case-insensitive, then a unique prefix:
        ``accelerometer`` finds ``Built-in accelerometer``)."""
        for s in self.sensors:
            if s.name == name:
                return s
        low = name.lower()
        found = [s for s in self.sensors if s.name.lower() == low
                 or s.name.lower().endswith(" " + low) or s.name.lower().startswith(low)]
        if len(found) == 1:
            return found[0]
        known = ", ".join(repr(s.name) for s in self.sensors) or "none"
        raise KeyError(f"the board has no sensor {name!r} (it has {known})")

    def to_dict(self) -> dict:
        return {
            "id": self.device_id, "type": self.device_type, "at_version": self.at_version,
            "sensors": [{"name": s.name, "max_sample_length_s": s.max_sample_length_s,
                         "frequencies": list(s.frequencies)} for s in self.sensors],
            "sampling": {"label": self.sampling.label, "interval_ms": self.sampling.interval_ms,
                         "length_ms": self.sampling.length_ms},
            "upload": {"host": self.upload.host, "path": self.upload.path},
        }


def parse_sensor_line(line: str) -> Optional[SensorInfo]:
    """A ``Name: ..., Max sample length: ..s, Frequencies: [..]`` line, or None."""
    m = _SENSOR.match(line.strip())
    if not m:
        return None
    try:
        max_len = float(m.group(2).strip())
    except ValueError:
        return None
    freqs = []
    for part in m.group(3).split(","):
        if not part.strip():
            continue
        hz = _HZ.match(part)
        if not hz:
            return None
        freqs.append(float(hz.group(1)))
    return SensorInfo(m.group(1).strip(), max_len, tuple(freqs))


def _section_of(line: str) -> Optional[str]:
    if "=" not in line or not line.strip().startswith("="):
        return None
    name = line.strip().strip("=").strip().lower()
    return _SECTIONS.get(name, name or None)


def _first_number(text: Optional[str]) -> Optional[float]:
    if text is None:
        return None
    m = _NUMBER.search(text)
    return float(m.group(0)) if m else None


def parse_config(lines: Sequence[str]) -> DeviceConfig:
    """Build a :class:`DeviceConfig` from the response lines of ``AT+CONFIG?``."""
    cfg = DeviceConfig()
    section = None
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        sec = _section_of(line)
        if sec is not None:
            section = sec
            cfg.sections.setdefault(section, {})
            continue
        if section == "sensors":
            s = parse_sensor_line(line)
            if s is not None:
                cfg.sensors.append(s)
            else:
                cfg.unparsed.append(raw)
            continue
        if section is None or ":" not in line:
            cfg.unparsed.append(raw)
            continue
        key, value = line.split(":", 1)
        cfg.sections[section][key.strip().lower()] = value.strip()
    dev = cfg.sections.get("device", {})
    cfg.device_id = dev.get("id")
    cfg.device_type = dev.get("type")
    cfg.at_version = dev.get("at version")
    smp = cfg.sections.get("sampling", {})
    length = _first_number(smp.get("length"))
    cfg.sampling = SamplingSettings(
        label=smp.get("label"), interval_ms=_first_number(smp.get("interval")),
        length_ms=None if length is None else int(length), hmac_key=smp.get("hmac key"))
    up = cfg.sections.get("upload", {})
    cfg.upload = UploadSettings(api_key=up.get("api key"), host=up.get("host"),
                                path=up.get("path"))
    return cfg
