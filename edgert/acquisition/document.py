"""The data-acquisition document as one typed object, and the validation both codecs share.

JSON and CBOR decode to the same plain tree of dicts/lists/numbers; :func:`document_from_tree`
turns that tree into a :class:`DataAcquisition` (or raises :class:`AcquisitionFormatError` naming
the field), and :func:`check_document` validates an object before it is encoded, so a document
we write is always one we would read back.
"""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import AcquisitionFormatError

#: The signature placeholder written before signing: 64 ASCII '0'.
PLACEHOLDER = b"0" * 64
#: Algorithms the format knows.
ALGORITHMS = ("HS256", "none")
#: The only protected-header version there is.
VERSION = "v1"
#: The text that marks a binary (raw int16) payload, e.g. audio from the firmware.
BINARY_I16_REF = "Ref-BINARY-i16"
#: Largest document we read (the ingestion service's per-file limit is 100 MB).
MAX_DOCUMENT_BYTES = 100 * 1024 * 1024
#: Deepest container nesting we accept (a real document needs 4).
MAX_NESTING = 16

_HEX64 = re.compile(r"[0-9a-fA-F]{64}\Z")
_HEX_SHORT = re.compile(r"[0-9a-fA-F]{0,64}\Z")


@dataclass
class Sensor:
    """One axis of the recording: its name (``accX``) and SenML-ish units (``m/s2``)."""

    name: str
    units: str


@dataclass
class DataAcquisition:
    """A decoded data-acquisition document.

    ``values`` is ``(n_samples, n_axes)`` float64 for numeric payloads, or ``(n_samples,)`` int16
    for the binary ``Ref-BINARY-i16`` variant (firmware audio). ``signature`` is the text as found
    in the document (64 hex chars; the '0' placeholder when unsigned). ``extra_payload`` and
    ``extra_protected`` keep keys this class does not model, so re-encoding loses nothing.
    """

    device_name: str | None
    device_type: str | None
    interval_ms: float
    sensors: list[Sensor]
    values: np.ndarray
    alg: str = "none"
    iat: int | None = None
    signature: str | None = None
    extra_payload: dict = field(default_factory=dict)
    extra_protected: dict = field(default_factory=dict)

    @property
    def frequency(self) -> float:
        """Sampling frequency in Hz (1000 / interval_ms)."""
        return 1000.0 / self.interval_ms

    @property
    def is_binary(self) -> bool:
        """True for the raw-int16 (``Ref-BINARY-i16``) variant."""
        return self.values.dtype == np.int16 and self.values.ndim == 1

    @property
    def n_samples(self) -> int:
        return int(self.values.shape[0])

    @property
    def axis_names(self) -> list[str]:
        return [s.name for s in self.sensors]


def _err(msg: str) -> AcquisitionFormatError:
    return AcquisitionFormatError(msg)


def _is_number(x: Any) -> bool:
    return type(x) in (int, float)  # bool is an int subclass: excluded on purpose


def check_plain_tree(value: Any, where: str, depth: int = 0) -> None:
    """Check a value kept verbatim (extra keys): JSON-representable, finite, not too deep."""
    if depth > MAX_NESTING:
        raise _err(f"{where}: nested deeper than {MAX_NESTING} levels")
    if value is None or type(value) in (bool, int, str):
        return
    if type(value) is float:
        if not math.isfinite(value):
            raise _err(f"{where}: NaN/Infinity is not allowed")
        return
    if isinstance(value, list):
        for i, v in enumerate(value):
            check_plain_tree(v, f"{where}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise _err(f"{where}: map keys must be text, got {type(k).__name__}")
            check_plain_tree(v, f"{where}.{k}", depth + 1)
        return
    raise _err(f"{where}: unsupported value type {type(value).__name__}")


def check_signature_text(sig: Any, alg: str = "HS256") -> str:
    """HS256: exactly 64 hex characters (the HMAC, or 64 '0' while unsigned). ``none``: any
    hex text up to 64 characters - the firmware's "none" signer reserves a 1-byte signature
    and writes 2 characters ("30")."""
    if not isinstance(sig, str):
        raise _err(f"'signature' must be text, got {type(sig).__name__}")
    if alg == "HS256" and not _HEX64.match(sig):
        raise _err(
            f"'signature' must be exactly 64 hex characters (HMAC-SHA256, or 64 '0' when "
            f"unsigned), got {len(sig)} characters: {sig[:70]!r}")
    if alg != "HS256" and not _HEX_SHORT.match(sig):
        raise _err(f"'signature' must be hex text of at most 64 characters, got {sig[:70]!r}")
    return sig


def _check_alg(alg: Any) -> str:
    if alg not in ALGORITHMS:
        raise _err(f"protected.alg must be one of {ALGORITHMS}, got {alg!r}")
    return alg


def _check_iat(iat: Any) -> int | None:
    if iat is None:
        return None
    if type(iat) is not int:
        raise _err(f"protected.iat must be an integer (seconds since the epoch), got {iat!r}")
    if not -(2 ** 63) <= iat < 2 ** 63:
        raise _err(f"protected.iat {iat} does not fit a 64-bit integer")
    return iat


def _check_interval(iv: Any) -> float:
    if not _is_number(iv):
        raise _err(f"payload.interval_ms must be a number, got {iv!r}")
    try:
        v = float(iv)
    except OverflowError:
        raise _err(f"payload.interval_ms is out of range: {iv!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise _err(f"payload.interval_ms must be a finite number > 0, got {iv!r}")
    return v


def _check_optional_text(v: Any, name: str) -> str | None:
    if v is None or isinstance(v, str):
        return v
    raise _err(f"payload.{name} must be text, got {type(v).__name__}")


def _sensors_from_tree(raw: Any) -> list[Sensor]:
    if not isinstance(raw, list) or not raw:
        raise _err("payload.sensors must be a non-empty array of {name, units} objects")
    out = []
    for i, s in enumerate(raw):
        if not isinstance(s, dict):
            raise _err(f"payload.sensors[{i}] must be an object with 'name' and 'units'")
        unknown = set(s) - {"name", "units"}
        if unknown:
            raise _err(f"payload.sensors[{i}] has unknown keys {sorted(map(str, unknown))}; "
                       f"only 'name' and 'units' are allowed")
        name, units = s.get("name"), s.get("units")
        if not isinstance(name, str) or not name:
            raise _err(f"payload.sensors[{i}].name must be non-empty text, got {name!r}")
        if not isinstance(units, str):
            raise _err(f"payload.sensors[{i}].units must be text, got {units!r}")
        out.append(Sensor(name, units))
    return out


def binary_ref_kind(values: Any) -> str | None:
    """If ``values`` is the binary marker (``["Ref-BINARY-i16"]``, any case, padded with spaces
    as the firmware pads it for alignment), return the sample type (``"i16"``), else None."""
    if isinstance(values, list) and len(values) == 1 and isinstance(values[0], str):
        text = values[0].rstrip(" ")
        if text.upper().startswith("REF-BINARY-"):
            return text[len("Ref-BINARY-"):].lower()
    return None


def numeric_values_from_tree(raw: Any, n_axes: int, row_offset: int = 0) -> np.ndarray:
    """Rows -> (n, n_axes) float64. A row is an array of n_axes numbers, or (one axis only) a
    bare number. Rejects ragged rows, wrong lengths, non-numbers, NaN/Infinity. ``row_offset``
    is added to row numbers in messages (when decoding a long array in chunks)."""
    if not isinstance(raw, list):
        raise _err(f"payload.values must be an array, got {type(raw).__name__}")
    if not raw:
        raise _err("payload.values is empty: a recording needs at least one sample")
    rows = raw
    if n_axes == 1 and any(not isinstance(r, list) for r in raw):
        rows = [r if isinstance(r, list) else [r] for r in raw]
    # fast whole-document checks (C-level iteration); the slow loop only runs to name the
    # offending element
    if not (set(map(type, rows)) == {list} and set(map(len, rows)) == {n_axes}
            and set(map(type, itertools.chain.from_iterable(rows))) <= {int, float}):
        for i, row in enumerate(rows):
            if not isinstance(row, list):
                raise _err(f"payload.values[{i + row_offset}] must be an array of {n_axes} "
                           f"numbers (one per sensor); bare numbers are only allowed with a "
                           f"single sensor")
            if len(row) != n_axes:
                raise _err(f"payload.values[{i + row_offset}] has {len(row)} values but there "
                           f"are {n_axes} sensors; every row needs one value per sensor")
            for j, x in enumerate(row):
                if not _is_number(x):
                    raise _err(f"payload.values[{i + row_offset}][{j}] is not a number: "
                               f"{x!r}")
    try:
        arr = np.array(rows, dtype=np.float64).reshape(len(rows), n_axes)
    except (OverflowError, ValueError) as e:
        raise _err(f"payload.values: a value is out of the float64 range ({e})") from None
    if not np.isfinite(arr).all():
        i, j = np.argwhere(~np.isfinite(arr))[0]
        raise _err(f"payload.values[{i + row_offset}][{j}] is {arr[i, j]}: NaN/Infinity "
                   f"samples are not allowed (drop or interpolate them before recording)")
    return arr


def document_from_tree(tree: Any, binary_tail: bytes | None = None,
                       numeric_values: np.ndarray | None = None) -> DataAcquisition:
    """Validate a decoded JSON/CBOR tree and build the document.

    ``binary_tail`` is the bytes after the CBOR item (raw int16 of the binary variant); None for
    JSON. ``numeric_values`` are samples the caller already decoded and validated (then
    ``payload.values`` in the tree is ignored).
    """
    if not isinstance(tree, dict):
        raise _err(f"a data-acquisition document is an object/map, got {type(tree).__name__}")
    for key in ("protected", "signature", "payload"):
        if key not in tree:
            raise _err(f"missing top-level key {key!r} (need protected, signature, payload)")
    unknown = set(tree) - {"protected", "signature", "payload"}
    if unknown:
        raise _err(f"unknown top-level keys {sorted(map(str, unknown))}; only protected, "
                   f"signature and payload are allowed")
    prot = tree["protected"]
    if not isinstance(prot, dict):
        raise _err("'protected' must be an object with 'ver' and 'alg'")
    if prot.get("ver") != VERSION:
        raise _err(f"protected.ver must be {VERSION!r}, got {prot.get('ver')!r}")
    if "alg" not in prot:
        raise _err("protected.alg is missing (HS256 or none)")
    alg = _check_alg(prot["alg"])
    iat = _check_iat(prot.get("iat"))
    extra_protected = {k: v for k, v in prot.items() if k not in ("ver", "alg", "iat")}
    check_plain_tree(extra_protected, "protected")
    sig = check_signature_text(tree["signature"], alg)

    pay = tree["payload"]
    if not isinstance(pay, dict):
        raise _err("'payload' must be an object")
    for key in ("interval_ms", "sensors", "values"):
        if key not in pay:
            raise _err(f"payload.{key} is missing")
    device_name = _check_optional_text(pay.get("device_name"), "device_name")
    device_type = _check_optional_text(pay.get("device_type"), "device_type")
    interval = _check_interval(pay["interval_ms"])
    sensors = _sensors_from_tree(pay["sensors"])
    modelled = ("device_name", "device_type", "interval_ms", "sensors", "values")
    extra_payload = {k: v for k, v in pay.items() if k not in modelled}
    check_plain_tree(extra_payload, "payload")

    kind = None if numeric_values is not None else binary_ref_kind(pay["values"])
    if kind is not None:
        if kind != "i16":
            raise _err(f"binary payload type {pay['values'][0]!r} is not supported; only "
                       f"{BINARY_I16_REF!r} (little-endian int16) is")
        if binary_tail is None:
            raise _err(f"{BINARY_I16_REF!r} payloads exist only in CBOR (raw samples follow "
                       f"the CBOR header); this JSON document has no samples")
        if len(sensors) != 1:
            raise _err(f"a {BINARY_I16_REF} payload must have exactly one sensor, "
                       f"has {len(sensors)}")
        if not binary_tail:
            raise _err(f"{BINARY_I16_REF} payload has no sample bytes after the CBOR header")
        if len(binary_tail) % 2:
            raise _err(f"{BINARY_I16_REF} payload has an odd number of sample bytes "
                       f"({len(binary_tail)}); int16 samples are 2 bytes each")
        values = np.frombuffer(binary_tail, dtype="<i2").astype(np.int16)
    else:
        if binary_tail:
            raise _err(f"{len(binary_tail)} trailing bytes after the CBOR document "
                       f"(only a {BINARY_I16_REF} payload may be followed by raw bytes)")
        values = (numeric_values if numeric_values is not None
                  else numeric_values_from_tree(pay["values"], len(sensors)))
    return DataAcquisition(device_name=device_name, device_type=device_type,
                           interval_ms=interval, sensors=sensors, values=values, alg=alg,
                           iat=iat, signature=sig, extra_payload=extra_payload,
                           extra_protected=extra_protected)


def check_document(doc: DataAcquisition) -> np.ndarray:
    """Validate a document before encoding; returns its values as the array to write
    ((n, n_axes) float64, or (n,) int16 for binary)."""
    if not isinstance(doc, DataAcquisition):
        raise TypeError(f"expected a DataAcquisition, got {type(doc).__name__}")
    _check_alg(doc.alg)
    _check_iat(doc.iat.item() if isinstance(doc.iat, np.integer) else doc.iat)
    iv = doc.interval_ms
    _check_interval(iv.item() if isinstance(iv, (np.floating, np.integer)) else iv)
    _check_optional_text(doc.device_name, "device_name")
    _check_optional_text(doc.device_type, "device_type")
    if doc.signature is not None:
        check_signature_text(doc.signature, doc.alg)
    if not isinstance(doc.sensors, list) or not doc.sensors:
        raise _err("sensors must be a non-empty list of Sensor")
    for i, s in enumerate(doc.sensors):
        if not isinstance(s, Sensor) or not isinstance(s.name, str) or not s.name \
                or not isinstance(s.units, str):
            raise _err(f"sensors[{i}] must be a Sensor with non-empty text name and text units")
    for name, extra, taken in (("payload", doc.extra_payload,
                                ("device_name", "device_type", "interval_ms", "sensors",
                                 "values")),
                               ("protected", doc.extra_protected, ("ver", "alg", "iat"))):
        if not isinstance(extra, dict):
            raise _err(f"extra_{name} must be a dict")
        clash = set(extra) & set(taken)
        if clash:
            raise _err(f"extra_{name} may not hold modelled keys {sorted(clash)}")
        check_plain_tree(extra, name)
    v = np.asarray(doc.values)
    if v.dtype == np.int16 and v.ndim == 1:
        if len(doc.sensors) != 1:
            raise _err("int16 (binary) values need exactly one sensor")
        if v.size == 0:
            raise _err("values is empty: a recording needs at least one sample")
        return v
    if v.ndim == 1 and len(doc.sensors) == 1:
        v = v.reshape(-1, 1)
    if v.ndim != 2 or v.shape[1] != len(doc.sensors):
        raise _err(f"values must have shape (n_samples, {len(doc.sensors)}) (one column per "
                   f"sensor), got {v.shape}")
    if v.shape[0] == 0:
        raise _err("values is empty: a recording needs at least one sample")
    if v.dtype.kind not in "fiu" or v.dtype == np.bool_:
        raise _err(f"values must be numeric, got dtype {v.dtype}")
    v = v.astype(np.float64)
    if not np.isfinite(v).all():
        raise _err("values contain NaN/Infinity, which the format does not allow")
    return v
