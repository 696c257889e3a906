"""Anomalous windows -> the uploader's durable outbox (``/api/anomaly/data``).

Two sources: a board that runs the impulse itself stores each window's raw data in a file,
which the bridge reads back (already a signed CBOR data-acquisition document, queued as it was
read); in data-forwarder mode the bridge has the window's readings and builds a JSON document
(``device_type: "DATA_FORWARDER"``, signed with the HMAC key when one is given), as the data
forwarder uploads. Every upload's file name carries the port and the device id.
"""
from __future__ import annotations

import logging
import os
import re
from typing import Optional, Sequence

import numpy as np

from edgert.acquisition import DataAcquisition, Sensor, encode_json, media_type

from .forwarder import units_for

log = logging.getLogger("firmware_bridge.capture")

__all__ = ["AnomalyUploader", "CATEGORY"]

CATEGORY = "anomaly"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _safe(text: str) -> str:
    return _UNSAFE.sub("", text.replace(":", "")) or "board"


class AnomalyUploader:
    """Queues anomalous windows in an :class:`edgert.ingestion.Outbox` (which owns delivery,
    retries and durability); ``threshold`` is the anomaly score above which a window goes."""

    def __init__(self, outbox, threshold: float = 0.3, hmac_key: Optional[str] = None,
                 label: Optional[str] = None):
        self.outbox = outbox
        self.threshold = float(threshold)
        self.hmac_key = hmac_key
        self.label = label

    def is_anomalous(self, score: Optional[float]) -> bool:
        return score is not None and score > self.threshold

    def file_name(self, port: str, device: Optional[str], what: str, ext: str) -> str:
        """``<device>.<port>.<what>.<ext>`` with characters the API dislikes removed."""
        return ".".join((_safe(device or "unknown"), _safe(os.path.basename(port)),
                         _safe(what), ext))

    def queue_board_file(self, data: bytes, port: str, device: Optional[str],
                         board_file: str) -> int:
        """A document read back from the board, queued byte for byte."""
        name = self.file_name(port, device, os.path.basename(board_file), "cbor")
        sample_id = self.outbox.enqueue(data, CATEGORY, name, label=self.label,
                                        content_type=media_type(data))
        log.info("%s: queued %s (%d bytes) for /api/anomaly/data as #%d", port, board_file,
                 len(data), sample_id)
        return sample_id

    def queue_window(self, rows: np.ndarray, axes: Sequence[str], frequency: float, port: str,
                     device: Optional[str], window: int) -> int:
        """A data-forwarder window, as a JSON data-acquisition document."""
        doc = DataAcquisition(device_name=device, device_type="DATA_FORWARDER",
                              interval_ms=1000.0 / float(frequency),
                              sensors=[Sensor(a, units_for(a)) for a in axes],
                              values=np.asarray(rows, dtype=np.float64),
                              alg="HS256" if self.hmac_key else "none")
        body = encode_json(doc, self.hmac_key)
        name = self.file_name(port, device, f"window{window}", "json")
        sample_id = self.outbox.enqueue(body, CATEGORY, name, label=self.label,
                                        content_type="application/json")
        log.info("%s: queued window %d (%d readings) for /api/anomaly/data as #%d", port,
                 window, len(rows), sample_id)
        return sample_id
