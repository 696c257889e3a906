"""The one type for a recorded sample, whatever it was read from: every reader
(:mod:`edgert.recording.files` for CSV and data-acquisition documents, the dataset index, the
ingestion service, the serial bridge) returns a :class:`Recording`, and every consumer
(``Impulse.classify``, results, datasets, uploads) takes one."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping, Optional

import numpy as np


@dataclass(frozen=True)
class SensorAxis:
    """One column of a recording: its name (``accX``) and SenML units (``m/s2``)."""
    name: str
    units: str = "N/A"


@dataclass
class Recording:
    """A whole recording: ``values`` (rows, axes) float32 in the file's column order, at
    ``frequency`` Hz, with one :class:`SensorAxis` per column.

    ``label`` is the file's label (inferred from its name as the ingestion API does, unless the
    reader was told otherwise); ``signature_valid`` is None when nothing was verified (no key,
    ``alg: none``, CSV), else the HS256 check's answer; ``created`` is the document's ``iat``.
    """
    values: np.ndarray
    frequency: float
    sensors: tuple[SensorAxis, ...]
    filename: str = "recording"
    label: Optional[str] = None
    device_name: Optional[str] = None
    device_type: str = "unknown"
    signature_method: Optional[str] = None
    signature_valid: Optional[bool] = None
    sha256: str = ""
    created: Optional[datetime] = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def axes(self) -> tuple[str, ...]:
        """The column names, in the order of ``values``' columns."""
        return tuple(s.name for s in self.sensors)

    @property
    def interval_ms(self) -> float:
        return 1000.0 / self.frequency

    @property
    def length_ms(self) -> float:
        return self.values.shape[0] * 1000.0 / self.frequency

    def sensors_json(self) -> list[dict[str, str]]:
        """The sensors as the data-acquisition format writes them (``[{name, units}]``)."""
        return [{"name": s.name, "units": s.units} for s in self.sensors]


__all__ = ["Recording", "SensorAxis"]
