"""The JSON documents of ``edgert bench --json``, ``edgert bench-model --json`` and
``edgert profile --json``, as JSON Schemas (draft 2020-12). docs/bench.md prints the same
schemas (a test keeps them equal); :func:`validate` checks a document with the ``jsonschema``
package when it is installed (the test extra has it).

The documents are made to be diffed between runs and machines: keys are stable, figures are
numbers (microseconds, bytes, ratios), and every ratio names the two pipelines it divides.
"""
from __future__ import annotations

from typing import Any

BENCH_SCHEMA_ID = "edgert-bench/1"
PROFILE_SCHEMA_ID = "edgert-profile/1"

_NUM = {"type": "number"}
_NUM_OR_NULL = {"type": ["number", "null"]}
_INT_OR_NULL = {"type": ["integer", "null"]}
_STR_OR_NULL = {"type": ["string", "null"]}

_SPREAD = {
    "type": "object",
    "description": "microseconds per window (or per inference): minimum, median, 99th "
                   "percentile and mean over the samples",
    "required": ["min", "median", "p99", "mean"],
    "properties": {k: _NUM_OR_NULL for k in ("min", "median", "p99", "mean")},
    "additionalProperties": False,
}

_MACHINE = {
    "type": "object",
    "required": ["hostname", "platform", "arch", "cpu", "logical_cpus", "python", "numpy",
                 "load_average_before", "load_average_after"],
    "properties": {
        "hostname": {"type": "string"}, "platform": {"type": "string"},
        "arch": {"type": "string"}, "cpu": {"type": "string"},
        "logical_cpus": _INT_OR_NULL, "python": {"type": "string"},
        "numpy": {"type": "string"},
        "load_average_before": {"type": ["array", "null"], "items": _NUM},
        "load_average_after": {"type": ["array", "null"], "items": _NUM},
    },
    "additionalProperties": False,
}

_STAGE = {
    "type": "object",
    "required": ["stage", "pipeline", "reference", "path", "samples", "cpu_samples",
                 "wall_us", "cpu_us"],
    "properties": {
        "stage": {"enum": ["dsp", "classification", "anomaly", "impulse", "stream",
                           "inference"]},
        "pipeline": {"type": "string"},
        "reference": {"type": "boolean", "description": "a baseline, not edgert"},
        "path": {"type": "string", "description": "what exactly one call does"},
        "samples": {"type": "integer", "minimum": 0,
                    "description": "calls timed (wall time: one sample per call)"},
        "cpu_samples": {"type": "integer", "minimum": 0,
                        "description": "time slices (CPU time: one sample per slice, the "
                                       "slice's CPU time / its windows)"},
        "wall_us": _SPREAD,
        "cpu_us": _SPREAD,
    },
    "additionalProperties": False,
}

_RATIO = {
    "type": "object",
    "required": ["stage", "pipeline", "reference", "cpu", "wall", "same_run"],
    "properties": {
        "stage": {"type": "string"},
        "pipeline": {"type": "string", "description": "the edgert pipeline (denominator)"},
        "reference": {"type": "string", "description": "the reference pipeline (numerator)"},
        "cpu": _NUM_OR_NULL, "wall": _NUM_OR_NULL,
        "same_run": {"const": True},
    },
    "additionalProperties": False,
}

_MEMORY = {
    "type": "object",
    "required": ["pipeline", "what", "bytes", "method"],
    "properties": {
        "pipeline": {"type": "string"}, "what": {"type": "string"},
        "bytes": _INT_OR_NULL,
        "method": {"enum": ["arena", "file", "tracemalloc", "rss_delta", "peak_rss",
                            "plan"]},
    },
    "additionalProperties": False,
}

_THROUGHPUT_RUN = {
    "type": "object",
    "required": ["threads", "runs", "wall_s", "cpu_s", "windows_per_s", "cpu_us_per_window",
                 "speedup_vs_1_thread"],
    "properties": {
        "threads": {"type": "integer", "minimum": 1}, "runs": {"type": "integer"},
        "wall_s": _NUM_OR_NULL, "cpu_s": _NUM_OR_NULL, "windows_per_s": _NUM_OR_NULL,
        "cpu_us_per_window": _NUM_OR_NULL, "speedup_vs_1_thread": _NUM_OR_NULL,
    },
    "additionalProperties": False,
}

BENCH_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "edgert bench / bench-model result",
    "type": "object",
    "required": ["schema", "kind", "edgert_version", "date", "machine", "method", "subject",
                 "stages", "throughput", "memory", "ratios", "checks", "unavailable"],
    "properties": {
        "schema": {"const": BENCH_SCHEMA_ID},
        "kind": {"enum": ["bundle", "model"]},
        "edgert_version": {"type": "string"},
        "date": {"type": "string", "description": "UTC, ISO 8601"},
        "machine": _MACHINE,
        "method": {
            "type": "object",
            "required": ["seconds", "elapsed_seconds", "rounds", "slice_ms", "timer",
                         "timer_overhead_ns", "ratio"],
            "properties": {
                "seconds": _NUM, "elapsed_seconds": _NUM, "rounds": {"type": "integer"},
                "slice_ms": _NUM, "timer": {"type": "string"},
                "timer_overhead_ns": {"type": "object", "required": ["wall", "cpu"],
                                      "properties": {"wall": _NUM, "cpu": _NUM},
                                      "additionalProperties": False},
                "ratio": {"type": "string"},
            },
            "additionalProperties": False,
        },
        "subject": {"type": "object", "required": ["path"],
                    "properties": {"path": {"type": "string"}}},
        "stages": {"type": "array", "items": _STAGE},
        "throughput": {
            "type": ["object", "null"],
            "required": ["windows", "recording_seconds", "runs"],
            "properties": {"windows": {"type": "integer"}, "recording_seconds": _NUM,
                           "runs": {"type": "array", "items": _THROUGHPUT_RUN}},
            "additionalProperties": False,
        },
        "memory": {"type": "array", "items": _MEMORY},
        "ratios": {"type": "array", "items": _RATIO},
        "checks": {"type": "array", "items": {
            "type": "object", "required": ["what", "result", "ok"],
            "properties": {"what": {"type": "string"}, "result": {"type": "string"},
                           "ok": {"type": "boolean"}},
            "additionalProperties": False}},
        "unavailable": {"type": "array", "items": {
            "type": "object", "required": ["pipeline", "stage", "reason"],
            "properties": {"pipeline": {"type": "string"}, "stage": _STR_OR_NULL,
                           "reason": {"type": "string"}},
            "additionalProperties": False}},
    },
    "additionalProperties": False,
}

_SIZES = {
    "type": "object",
    "description": "bytes, as Edge Impulse's onDevicePerformance entries give them",
    "required": ["ramRequired", "romRequired", "arenaSize", "modelSize"],
    "properties": {k: {"type": "integer", "minimum": 0}
                   for k in ("ramRequired", "romRequired", "arenaSize", "modelSize")},
    "additionalProperties": False,
}

PROFILE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "edgert profile result",
    "type": "object",
    "required": ["schema", "edgert_version", "date", "bundle", "target", "variant",
                 "onDevicePerformance", "details"],
    "properties": {
        "schema": {"const": PROFILE_SCHEMA_ID},
        "edgert_version": {"type": "string"},
        "date": {"type": "string"},
        "bundle": {"type": "string"},
        "target": {"enum": ["host", "cortex-m4f"]},
        "variant": _STR_OR_NULL,
        "onDevicePerformance": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["mcu", "name", "isDefault", "latency", "eon", "hasPerformance"],
            "properties": {
                "mcu": {"type": "string"}, "name": {"type": "string"},
                "isDefault": {"type": "boolean"},
                "latency": {"type": "number", "description": "milliseconds per window"},
                "tflite": _SIZES, "eon": _SIZES,
                "customMetrics": {"type": "array", "items": {
                    "type": "object", "required": ["name", "value"],
                    "properties": {"name": {"type": "string"}, "value": {"type": "string"}},
                    "additionalProperties": False}},
                "hasPerformance": {"type": "boolean"},
                "profilingError": {"type": "string"},
            },
            "additionalProperties": False}},
        "details": {"type": "object"},
    },
    "additionalProperties": False,
}


def validate(doc: Any, schema: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` when ``doc`` does not match ``schema``."""
    import jsonschema
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)


__all__ = ["BENCH_SCHEMA", "PROFILE_SCHEMA", "BENCH_SCHEMA_ID", "PROFILE_SCHEMA_ID",
           "validate"]
