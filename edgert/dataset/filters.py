"""Sample filters of Studio's "classify all" result page (``GET .../classify/all/result/page``).

Every query parameter of that endpoint is a field of :class:`SampleFilter`, with the semantics
its OpenAPI description gives, read literally (the descriptions are the contract):

=====================  ======================================================================
parameter              a sample is kept when
=====================  ======================================================================
``category``           its category equals it (``training``, ``testing``, ``validation``,
                       ``post-processing``, or edgert's ``anomaly`` bucket; Studio's default for
                       this endpoint is ``testing``; ``all`` - an edgert extension - keeps every
                       category)
``labels``             its label is in the list (a list or the JSON string ``'["idle"]'``)
``filename``           its file name *includes* the text (case-insensitive substring)
``min_length``         it is *longer than* the length: ``totalLengthMs > min_length``
``max_length``         it is *shorter than* the length: ``totalLengthMs < max_length``
``min_frequency``      it has a *higher* frequency: ``frequency > min_frequency``
``max_frequency``      it has a *lower* frequency: ``frequency < max_frequency``
``signature_validity`` ``both`` (default) keeps all; ``valid`` / ``invalid`` keep samples
                       whose ``signatureValidate`` is true / false
``min_label``          its label, read as a number, is ``>= min_label`` (regression)
``max_label``          its label, read as a number, is ``< max_label`` (non-numeric labels
                       never pass a label bound)
``search``             every whitespace-separated term is a case-insensitive substring of the
                       file name or the label, or equals the sample id (``"12 idle"``)
``data_type``          ``audio``: a sensor has the SenML unit ``wav``; ``image``: an image
                       sample (edgert only holds time series, so none)
``min_id``             ``id >= min_id``
``max_id``             ``id < max_id``
``metadata``           see below
``min_date``           it was *added after* the date: ``added > min_date``
``max_date``           it was *added before* the date: ``added < max_date``
=====================  ======================================================================

Metadata filter (a list, or its JSON string): filter items ``{"key", "op": "eq"|"neq",
"values": [...]}`` plus option items ``{"no_metadata": bool}`` and
``{"filters_combinator": "and"|"or"}`` (default ``and``):

* A sample without any metadata is kept exactly when ``no_metadata`` is true (default false);
  the filter items are not evaluated for it.
* ``eq`` matches when the key is present and its value is one of ``values`` (any value when
  ``values`` is omitted or empty); ``neq`` matches when the key is absent or its value is not one
  of ``values`` (when ``values`` is omitted or empty: when the key is absent).
* ``and``: every filter item must match.
* ``or``: the sample is kept when any filter item whose key it has matches, and - as the
  description says, "samples with metadata keys not present in the filters are included" - when
  it has none of the filtered keys at all.

Why strict comparisons for length/frequency/date: the descriptions say "longer than", "higher
frequency than", "added after", while the id and label bounds say ">=" and "<" explicitly.

The filter compiles to an SQL ``WHERE`` clause over the index of :mod:`edgert.dataset.index`
(metadata and label bounds through SQL functions registered on the connection), so counting and
paging happen in SQLite.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
import sqlite3
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..errors import DatasetError

__all__ = ["SampleFilter", "MetadataFilter", "CATEGORIES", "format_date", "parse_date"]

#: Sample categories: Studio's (``RawDataCategory``) plus ``anomaly``, the ingestion API's third
#: bucket (reported to Studio clients as ``testing``, see ``SampleRow.to_studio``).
CATEGORIES = ("training", "testing", "validation", "post-processing", "anomaly")
SIGNATURE_VALIDITY = ("both", "valid", "invalid")
DATA_TYPES = ("audio", "image")

DateLike = Union[str, datetime]
_LOST_PLUS = re.compile(r"^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")


class FilterError(DatasetError):
    """A filter parameter that cannot be used; the message names the parameter."""


def parse_date(value: DateLike, what: str = "date") -> datetime:
    """An ISO-8601 date (``2023-01-01T00:00:00.000Z``, ``2023-01-01``) or datetime, as an aware
    UTC datetime (naive values are taken as UTC, like Studio's dates)."""
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip()
        # The official Python client puts `datetime.isoformat()` into the query string without
        # percent-encoding '+', so "...T00:00:00+00:00" arrives as "...T00:00:00 00:00".
        text = _LOST_PLUS.sub(r"\1+\2", text)
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise FilterError(f"{what}: {value!r} is not an ISO-8601 date; use e.g. "
                              "2023-01-01T00:00:00.000Z") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def format_date(dt: datetime) -> str:
    """The index's (and Studio's) date text: UTC, millisecond precision, ``Z`` suffix. All dates
    in the index use this fixed-width form, so text comparison orders them by time."""
    dt = parse_date(dt)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _json_list(value: Any, what: str) -> list:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise FilterError(f"{what}: not valid JSON ({exc}); give a JSON array, e.g. "
                              "'[\"idle\", \"snake\"]'") from None
    if not isinstance(value, (list, tuple)):
        raise FilterError(f"{what}: expected a JSON array, got {type(value).__name__}")
    return list(value)


@dataclasses.dataclass(frozen=True)
class MetadataFilter:
    """The parsed ``metadata`` parameter (see the module docstring for the semantics)."""

    items: Tuple[Tuple[str, str, Tuple[str, ...]], ...]
    no_metadata: bool = False
    combinator: str = "and"

    @classmethod
    def parse(cls, value: Any) -> "MetadataFilter":
        items: List[Tuple[str, str, Tuple[str, ...]]] = []
        no_metadata = False
        combinator = "and"
        for i, entry in enumerate(_json_list(value, "metadata")):
            where = f"metadata[{i}]"
            if not isinstance(entry, dict):
                raise FilterError(f"{where}: expected an object, got {entry!r}")
            if "no_metadata" in entry and "key" not in entry:
                if not isinstance(entry["no_metadata"], bool):
                    raise FilterError(f"{where}.no_metadata: expected true or false")
                no_metadata = entry["no_metadata"]
                continue
            if "filters_combinator" in entry and "key" not in entry:
                combinator = entry["filters_combinator"]
                if combinator not in ("and", "or"):
                    raise FilterError(f"{where}.filters_combinator: {combinator!r} is not "
                                      "'and' or 'or'")
                continue
            key = entry.get("key")
            if not isinstance(key, str) or not key:
                raise FilterError(f"{where}: a filter item needs a non-empty string 'key' "
                                  "(or use {\"no_metadata\": ...} / {\"filters_combinator\": ...})")
            op = entry.get("op", "eq")
            if op not in ("eq", "neq"):
                raise FilterError(f"{where}.op: {op!r} is not 'eq' or 'neq'")
            values = entry.get("values") or []
            if not isinstance(values, list):
                raise FilterError(f"{where}.values: expected an array of strings")
            items.append((key, op, tuple(str(v) for v in values)))
        return cls(tuple(items), no_metadata, combinator)

    @staticmethod
    def _item_matches(meta: Mapping[str, str], key: str, op: str,
                      values: Tuple[str, ...]) -> bool:
        present = key in meta
        hit = present and (not values or str(meta[key]) in values)
        return hit if op == "eq" else not hit

    def matches(self, meta: Optional[Mapping[str, str]]) -> bool:
        if not meta:
            return self.no_metadata
        if not self.items:
            return True
        if self.combinator == "and":
            return all(self._item_matches(meta, k, op, v) for k, op, v in self.items)
        relevant = [(k, op, v) for k, op, v in self.items if k in meta]
        if not relevant:
            return True
        return any(self._item_matches(meta, k, op, v) for k, op, v in relevant)


def _float_or_none(label: Optional[str]) -> Optional[float]:
    if label is None:
        return None
    try:
        x = float(label)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


@dataclasses.dataclass
class SampleFilter:
    """All filters of the classify-all result page; ``None`` means "not filtered"."""

    category: Optional[str] = None
    labels: Optional[Sequence[str]] = None
    filename: Optional[str] = None
    min_length: Optional[float] = None
    max_length: Optional[float] = None
    min_frequency: Optional[float] = None
    max_frequency: Optional[float] = None
    signature_validity: Optional[str] = None
    min_label: Optional[float] = None
    max_label: Optional[float] = None
    search: Optional[str] = None
    data_type: Optional[str] = None
    min_id: Optional[int] = None
    max_id: Optional[int] = None
    metadata: Optional[Any] = None
    min_date: Optional[DateLike] = None
    max_date: Optional[DateLike] = None

    # Studio's query parameter names, for servers that pass a query string straight through.
    QUERY_NAMES = {
        "category": "category", "labels": "labels", "filename": "filename",
        "minLength": "min_length", "maxLength": "max_length",
        "minFrequency": "min_frequency", "maxFrequency": "max_frequency",
        "signatureValidity": "signature_validity", "minLabel": "min_label",
        "maxLabel": "max_label", "search": "search", "dataType": "data_type",
        "minId": "min_id", "maxId": "max_id", "metadata": "metadata",
        "minDate": "min_date", "maxDate": "max_date",
    }

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> "SampleFilter":
        """Build from Studio's camelCase query parameters (string values are converted; unknown
        names are ignored so paging/variant parameters may be passed along)."""
        kwargs: Dict[str, Any] = {}
        for name, field in cls.QUERY_NAMES.items():
            if name in query and query[name] not in (None, ""):
                kwargs[field] = query[name]
        return cls(**kwargs).validated()

    def validated(self) -> "SampleFilter":
        """A copy with every parameter checked and converted (numbers, dates, lists); raises
        :class:`FilterError` naming the bad parameter."""
        f = dataclasses.replace(self)
        if f.category is not None and f.category != "all" and f.category not in CATEGORIES:
            raise FilterError(f"category: {f.category!r} is not one of "
                              f"{', '.join(CATEGORIES)} (or 'all')")
        if f.labels is not None:
            labels = _json_list(f.labels, "labels")
            if not all(isinstance(x, str) for x in labels):
                raise FilterError("labels: every entry must be a string")
            f.labels = tuple(labels)
        for name, conv in (("min_length", float), ("max_length", float),
                           ("min_frequency", float), ("max_frequency", float),
                           ("min_label", float), ("max_label", float),
                           ("min_id", int), ("max_id", int)):
            v = getattr(f, name)
            if v is None:
                continue
            try:
                cv = conv(v)
                if conv is int and isinstance(v, float) and not float(v).is_integer():
                    raise ValueError
            except (TypeError, ValueError):
                raise FilterError(f"{name}: {v!r} is not a {'whole ' if conv is int else ''}"
                                  "number") from None
            if conv is float and not math.isfinite(cv):
                raise FilterError(f"{name}: {v!r} is not a finite number")
            if conv is int:
                # SQLite integers are 64-bit; beyond that range a bound means the same as the
                # range's end (ids are never that large)
                cv = min(max(cv, -2**63), 2**63 - 1)
            setattr(f, name, cv)
        sv = f.signature_validity
        if sv is not None and sv not in SIGNATURE_VALIDITY:
            raise FilterError(f"signature_validity: {sv!r} is not one of both, valid, invalid")
        if f.data_type is not None and f.data_type not in DATA_TYPES:
            raise FilterError(f"data_type: {f.data_type!r} is not 'audio' or 'image'")
        if f.metadata is not None and not isinstance(f.metadata, MetadataFilter):
            f.metadata = MetadataFilter.parse(f.metadata)
        if f.min_date is not None:
            f.min_date = format_date(parse_date(f.min_date, "min_date"))
        if f.max_date is not None:
            f.max_date = format_date(parse_date(f.max_date, "max_date"))
        if f.search is not None and not str(f.search).strip():
            f.search = None
        return f

    def to_sql(self) -> Tuple[str, List[Any], Dict[str, Callable[..., Any]]]:
        """``(where_clause, params, sql_functions)`` over the ``samples`` table of the index;
        register ``sql_functions`` (name -> callable of one argument) on the connection
        before running the query."""
        f = self.validated()
        where: List[str] = []
        params: List[Any] = []
        funcs: Dict[str, Callable[..., Any]] = {}
        if f.category is not None and f.category != "all":
            where.append("category = ?")
            params.append(f.category)
        if f.labels is not None:
            if not f.labels:
                where.append("0")
            else:
                where.append(f"label IN ({', '.join('?' * len(f.labels))})")
                params.extend(f.labels)
        if f.filename:
            where.append("instr(lower(filename), lower(?)) > 0")
            params.append(f.filename)
        for col, op, v in (("total_length_ms", ">", f.min_length),
                           ("total_length_ms", "<", f.max_length),
                           ("frequency", ">", f.min_frequency),
                           ("frequency", "<", f.max_frequency),
                           ("id", ">=", f.min_id), ("id", "<", f.max_id),
                           ("added", ">", f.min_date), ("added", "<", f.max_date)):
            if v is not None:
                where.append(f"{col} IS NOT NULL AND {col} {op} ?")
                params.append(v)
        if f.signature_validity in ("valid", "invalid"):
            where.append("signature_valid = ?")
            params.append(1 if f.signature_validity == "valid" else 0)
        if f.min_label is not None or f.max_label is not None:
            lo, hi = f.min_label, f.max_label

            def label_in_range(label: Optional[str]) -> int:
                x = _float_or_none(label)
                if x is None:
                    return 0
                return int((lo is None or x >= lo) and (hi is None or x < hi))
            funcs["edgert_label_in_range"] = label_in_range
            where.append("edgert_label_in_range(label)")
        if f.search is not None:
            for term in str(f.search).split():
                clause = "(instr(lower(filename), lower(?)) > 0 OR " \
                         "instr(lower(coalesce(label, '')), lower(?)) > 0"
                params.extend([term, term])
                if term.isdigit():
                    clause += " OR id = ?"
                    params.append(int(term))
                where.append(clause + ")")
        if f.data_type == "audio":
            funcs["edgert_is_audio"] = _is_audio
            where.append("edgert_is_audio(sensors)")
        elif f.data_type == "image":
            where.append("0")
        if f.metadata is not None:
            mf: MetadataFilter = f.metadata

            def meta_ok(text: Optional[str]) -> int:
                meta = json.loads(text) if text else None
                return int(mf.matches(meta))
            funcs["edgert_metadata_ok"] = meta_ok
            where.append("edgert_metadata_ok(metadata)")
        return (" AND ".join(f"({w})" for w in where) or "1"), params, funcs

    def register(self, conn: sqlite3.Connection) -> Tuple[str, List[Any]]:
        """Register the filter's SQL functions on ``conn``; returns ``(where, params)``."""
        where, params, funcs = self.to_sql()
        for name, fn in funcs.items():
            conn.create_function(name, 1, fn, deterministic=True)
        return where, params


def _is_audio(sensors_json: Optional[str]) -> int:
    if not sensors_json:
        return 0
    try:
        sensors = json.loads(sensors_json)
    except ValueError:
        return 0
    return int(any(str(s.get("units", "")).lower() == "wav" for s in sensors))
