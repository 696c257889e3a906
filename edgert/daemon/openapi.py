"""The daemon's OpenAPI 3.0 document (served at ``GET /openapi.json``; the same document is
published in ``docs/daemon-openapi.json``, and a test keeps both equal to the routes).

The Studio-compatible responses are Edge Impulse API models; their schemas here name the
model of the official client (``x-edgeimpulse-model``) and the fields it declares required,
rather than repeating Edge Impulse's whole schema.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional

from .._version import __version__

_JSON = "application/json"


def _ref(name: str) -> Dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Dict[str, Any], description: str) -> Dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _err(description: str) -> Dict[str, Any]:
    return _json(_ref("Error"), description)


def _param(name: str, where: str, schema: Dict[str, Any], description: str,
           required: bool = False) -> Dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "schema": schema, "description": description}


_INT = {"type": "integer"}
_STR = {"type": "string"}
_NUM = {"type": "number"}
_BOOL = {"type": "boolean"}
_VARIANT = {"type": "string", "enum": ["float32", "int8"]}
_PROJECT = _param("projectId", "path", _INT, "The bundle's project id")
_IMPULSE = _param("impulseId", "query", _INT, "The bundle's impulse id (default: it)")
_COMMON_STUDIO_ERRORS = {"400": _err("A bad parameter (named in the message)"),
                         "403": _json(_ref("Forbidden"), "Missing or wrong x-api-key"),
                         "404": _err("No such project, sample, job or learn block")}

_FILTERS = [
    ("labels", _STR, "Only samples whose label is in this JSON list, e.g. [\"idle\"]"),
    ("filename", _STR, "Only samples whose file name includes this text"),
    ("minLength", _NUM, "Only samples longer than this (ms)"),
    ("maxLength", _NUM, "Only samples shorter than this (ms)"),
    ("minFrequency", _NUM, "Only samples with a higher frequency (Hz)"),
    ("maxFrequency", _NUM, "Only samples with a lower frequency (Hz)"),
    ("signatureValidity", {"type": "string", "enum": ["both", "valid", "invalid"]},
     "Samples with valid or invalid signatures"),
    ("minLabel", _NUM, "Only samples whose label, as a number, is >= this"),
    ("maxLabel", _NUM, "Only samples whose label, as a number, is < this"),
    ("search", _STR, "Whitespace-separated terms matched against id, name and label"),
    ("dataType", {"type": "string", "enum": ["audio", "image"]}, "Only this kind of data"),
    ("minId", _INT, "Only samples with id >= this"),
    ("maxId", _INT, "Only samples with id < this"),
    ("metadata", _STR, "Metadata filter (JSON list of {key, op, values} and options)"),
    ("minDate", {"type": "string", "format": "date-time"}, "Only samples added after this"),
    ("maxDate", {"type": "string", "format": "date-time"}, "Only samples added before this"),
]


def _filters() -> List[Dict[str, Any]]:
    return [_param(n, "query", s, d) for n, s, d in _FILTERS]


def _studio_model(name: str, required: List[str], description: str) -> Dict[str, Any]:
    return {"type": "object", "description": description, "x-edgeimpulse-model": name,
            "required": required, "additionalProperties": True}


def _ingestion_paths() -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    headers = [
        _param("x-file-name", "header", _STR, "File name (/data: required, else 421)"),
        _param("x-label", "header", _STR, "Label, URI-encoded; else inferred from the name"),
        _param("x-no-label", "header", _STR, "1: neither assign nor infer a label"),
        _param("x-disallow-duplicates", "header", _STR, "1: refuse content already stored"),
        _param("x-add-date-id", "header", _STR, "1: append a unique id to the file name"),
    ]
    text = {"text/plain": {"schema": _STR}}
    for cat in ("training", "testing", "anomaly"):
        out[f"/api/{cat}/data"] = {"post": {
            "tags": ["ingestion"], "summary": f"Store one {cat} sample (ingestion API)",
            "description": "A data-acquisition document; its HS256 signature is checked "
                           "against the project HMAC key. Stored in the gateway's dataset and "
                           "scanned for anomaly events, which are queued upstream.",
            "parameters": copy.deepcopy(headers),
            "requestBody": {"required": True, "content": {
                _JSON: {"schema": _ref("DataAcquisitionDocument")},
                "application/cbor": {"schema": {"type": "string", "format": "binary"}},
                "application/octet-stream": {"schema": {"type": "string",
                                                        "format": "binary"}}}},
            "responses": {
                "200": {"description": "Stored; the body is the file name", "content": text},
                "400": {"description": "Invalid message, duplicate, bad label",
                        "content": text},
                "401": {"description": "Missing or invalid API key", "content": text},
                "408": {"description": "The body did not arrive in time", "content": text},
                "413": {"description": "Over the per-file or document limit",
                        "content": text},
                "421": {"description": "Missing x-file-name", "content": text},
                "503": {"description": "Too many connections; see Retry-After",
                        "content": text}}}}
        out[f"/api/{cat}/files"] = {"post": {
            "tags": ["ingestion"], "summary": f"Store {cat} samples (multipart)",
            "parameters": copy.deepcopy(headers[1:]),
            "requestBody": {"required": True, "content": {"multipart/form-data": {
                "schema": {"type": "object", "properties": {"data": {
                    "type": "array", "items": {"type": "string", "format": "binary"}}}}}}},
            "responses": {
                "200": _json(_ref("FilesResult"), "Per-file results (a file may fail)"),
                "400": _err("Not multipart, no 'data' file, too many files"),
                "401": _err("Missing or invalid API key"),
                "408": _err("The body did not arrive in time"),
                "413": _err("Over the request limit"),
                "503": _err("Too many connections; see Retry-After")}}}
    return out


def document(gw: Any = None) -> Dict[str, Any]:
    """The OpenAPI document (``gw``: a running gateway adds its project and impulse)."""
    studio_p = "/v1/api/{projectId}"
    paths: Dict[str, Any] = {
        f"{studio_p}/classify/v2/{{sampleId}}": {"post": {
            "tags": ["studio"], "summary": "Classify a stored sample (ClassifyApi."
                                           "classify_sample_v2)",
            "description": "The result, or a job for a sample longer than "
                           "limits.classify_sync_max_ms: call again until the result is "
                           "there.",
            "parameters": [_PROJECT, _param("sampleId", "path", _INT, "Sample id"),
                           _param("variant", "query", _VARIANT, "Model variant"), _IMPULSE,
                           _param("includeDebugInfo", "query", _BOOL, "Accepted, no effect"),
                           _param("truncateStructuredLabels", "query", _BOOL,
                                  "Accepted, no effect")],
            "responses": {"200": _json({"oneOf": [_ref("ClassifySampleResponse"),
                                                  _ref("StartJobResponse")]},
                                       "The classification, or the job computing it"),
                          **_COMMON_STUDIO_ERRORS}}},
        f"{studio_p}/jobs/classify": {"post": {
            "tags": ["studio"], "summary": "Start classify-all (JobsApi.start_classify_job)",
            "parameters": [_PROJECT, _IMPULSE,
                           _param("category", "query", _STR, "Samples to classify "
                                  "(default testing; 'all' for every category)")],
            "requestBody": {"required": False, "content": {_JSON: {
                "schema": _ref("StartClassifyJobRequest")}}},
            "responses": {"200": _json(_ref("StartJobResponse"), "The job"),
                          "413": _err("Body over 64 KiB"), **_COMMON_STUDIO_ERRORS}}},
        f"{studio_p}/jobs/{{jobId}}/status": {"get": {
            "tags": ["studio"], "summary": "Job status (JobsApi.get_job_status)",
            "parameters": [_PROJECT, _param("jobId", "path", _INT, "Job id")],
            "responses": {"200": _json(_ref("GetJobResponse"), "The job"),
                          **_COMMON_STUDIO_ERRORS}}},
        f"{studio_p}/classify/all/result/page": {"get": {
            "tags": ["studio"], "summary": "A classify-all result page (ClassifyApi."
                                           "get_classify_job_result_page)",
            "parameters": [_PROJECT, _IMPULSE,
                           _param("limit", "query", _INT, "Samples per page"),
                           _param("offset", "query", _INT, "Samples to skip"),
                           _param("variant", "query", _VARIANT, "Model variant"),
                           _param("category", "query", _STR, "Category (default testing)"),
                           _param("truncateStructuredLabels", "query", _BOOL,
                                  "Accepted, no effect")] + _filters(),
            "responses": {"200": _json(_ref("ClassifyJobResponsePage"), "The page"),
                          **_COMMON_STUDIO_ERRORS}}},
        f"{studio_p}/training/anomaly/{{learnId}}/metadata": {"get": {
            "tags": ["studio"], "summary": "Anomaly block metadata (LearnApi."
                                           "get_anomaly_metadata)",
            "parameters": [_PROJECT, _param("learnId", "path", _INT, "Learn block id")],
            "responses": {"200": _json(_ref("AnomalyModelMetadataResponse"), "Metadata"),
                          **_COMMON_STUDIO_ERRORS}}},
        f"{studio_p}/raw-data": {"get": {
            "tags": ["studio"], "summary": "List stored samples (RawDataApi.list_samples)",
            "parameters": [_PROJECT,
                           _param("category", "query", _STR, "training, testing, validation, "
                                  "post-processing, anomaly or all", True),
                           _param("limit", "query", _INT, "Samples per page"),
                           _param("offset", "query", _INT, "Samples to skip"),
                           _param("sortBy", "query", {"type": "string",
                                                      "enum": ["id-desc", "id-asc"]},
                                  "Order (default id-desc)"),
                           _param("excludeSensors", "query", _BOOL, "Leave sensors out")]
            + _filters(),
            "responses": {"200": _json(_ref("ListSamplesResponse"), "The samples"),
                          **_COMMON_STUDIO_ERRORS}}},
        f"{studio_p}/raw-data/{{sampleId}}": {"get": {
            "tags": ["studio"], "summary": "One stored sample with its values (RawDataApi."
                                           "get_sample)",
            "parameters": [_PROJECT, _param("sampleId", "path", _INT, "Sample id"),
                           _param("limitPayloadValues", "query", _INT,
                                  "At most this many rows of values")],
            "responses": {"200": _json(_ref("GetSampleResponse"), "The sample"),
                          **_COMMON_STUDIO_ERRORS}}},
        "/api/classify": {"post": {
            "tags": ["live"], "summary": "Classify a recording now (sync) or later (async)",
            "parameters": [_param("sync", "query", _BOOL, "true (default): answer with the "
                                  "result; false: 202 with an id, classified in the "
                                  "background (also after a restart)"),
                           _param("x-metadata", "header", _STR, "Metadata: a JSON object "
                                  "of strings")],
            "requestBody": {"required": True, "content": {
                _JSON: {"schema": {"oneOf": [_ref("LiveShortForm"),
                                             _ref("DataAcquisitionDocument")]}},
                "application/cbor": {"schema": {"type": "string", "format": "binary"}}}},
            "responses": {
                "200": _json(_ref("LiveResult"), "The result (sync)"),
                "202": _json(_ref("AsyncAccepted"), "Accepted (async)"),
                "400": _err("A body that cannot be classified (the message says why)"),
                "403": _json(_ref("Forbidden"), "Missing or wrong x-api-key"),
                "408": _err("The body did not arrive in time"),
                "413": _err("Over limits.max_classify_bytes"),
                "415": _err("Not JSON or CBOR")}}},
        "/api/result/{id}": {"get": {
            "tags": ["live"], "summary": "A classification result",
            "parameters": [_param("id", "path", _STR, "The result id")],
            "responses": {"200": _json(_ref("LiveResult"), "The result object"),
                          "403": _json(_ref("Forbidden"), "Missing or wrong x-api-key"),
                          "404": _err("No such result (or pruned)")}}},
        "/api/outbox": {"get": {
            "tags": ["operations"], "summary": "The upload queue of anomaly events",
            "responses": {"200": _json(_ref("OutboxStatus"), "Queue state"),
                          "403": _json(_ref("Forbidden"), "Missing or wrong x-api-key")}}},
        "/healthz": {"get": {
            "tags": ["operations"], "summary": "Liveness",
            "responses": {"200": _json(_ref("Health"), "Alive"),
                          "403": _json(_ref("Forbidden"), "Missing or wrong x-api-key")}}},
        "/metrics": {"get": {
            "tags": ["operations"], "summary": "Prometheus metrics (text format 0.0.4)",
            "responses": {"200": {"description": "Metrics", "content": {
                "text/plain": {"schema": _STR}}},
                "403": _json(_ref("Forbidden"), "Missing or wrong x-api-key")}}},
        "/openapi.json": {"get": {
            "tags": ["operations"], "summary": "This document",
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.0 document"),
                          "403": _json(_ref("Forbidden"), "Missing or wrong x-api-key")}}},
    }
    paths.update(_ingestion_paths())
    window = {"type": "object", "required": ["start_ms", "end_ms", "label", "scores"],
              "properties": {"start_ms": _NUM, "end_ms": _NUM, "label": _STR,
                             "scores": {"type": "object", "additionalProperties": _NUM},
                             "anomaly": _NUM}}
    schemas: Dict[str, Any] = {
        "Error": {"type": "object", "required": ["success", "error"],
                  "properties": {"success": {"type": "boolean", "enum": [False]},
                                 "error": {"type": "string"}}},
        "Forbidden": {"type": "object", "required": ["success", "error"], "properties": {
            "success": {"type": "boolean", "enum": [False]},
            "error": {"type": "string", "enum": [
                "no access to current endpoint, make sure you are using correct API key"]}}},
        "DataAcquisitionDocument": {
            "type": "object", "required": ["protected", "signature", "payload"],
            "description": "Edge Impulse's data acquisition format (JSON or CBOR, HS256)",
            "properties": {"protected": {"type": "object"}, "signature": _STR,
                           "payload": {"type": "object"}}},
        "LiveShortForm": {
            "type": "object", "required": ["values"],
            "properties": {
                "values": {"type": "array", "description": "One array of numbers per time "
                           "step (numbers for one axis)"},
                "interval_ms": _NUM, "frequency": _NUM,
                "sensors": {"type": "array", "items": {"oneOf": [_STR, {
                    "type": "object", "properties": {"name": _STR, "units": _STR}}]}},
                "device_id": _STR, "device_name": _STR, "device_type": _STR, "tenant": _STR,
                "filename": _STR,
                "metadata": {"type": "object", "additionalProperties": _STR}}},
        "AsyncAccepted": {"type": "object", "required": ["id", "accepted_at"],
                          "properties": {"id": _STR, "accepted_at": _STR}},
        "LiveResult": {
            "type": "object",
            "required": ["id", "status", "device_id", "tenant", "duration",
                         "duration_seconds", "model", "version", "error_code", "error_msg",
                         "labels", "scores", "windows", "sample", "metadata", "created_at",
                         "started_at"],
            "properties": {
                "id": _STR,
                "status": {"type": "object", "properties": {"classify": {
                    "type": "string", "enum": ["accepted", "in-progress", "done", "error",
                                               "timeout"]}}},
                "device_id": _STR, "tenant": _STR, "duration": _INT, "duration_seconds": _INT,
                "model": _STR, "version": _STR, "variant": {"type": "string",
                                                            "nullable": True},
                "error_code": _INT, "error_msg": _STR,
                "labels": {"type": "array", "items": _STR},
                "scores": {"type": "object", "additionalProperties": _NUM},
                "windows": {"type": "array", "items": window},
                "anomaly_events": {"type": "array", "items": {"type": "object"}},
                "sample": {"type": "object", "properties": {
                    "filename": _STR, "filesize": _INT, "interval_ms": _NUM,
                    "sensors": {"type": "array", "items": {"type": "object"}},
                    "values_count": _INT}},
                "metadata": {"type": "object", "additionalProperties": _STR},
                "created_at": _STR, "started_at": {"type": "string", "nullable": True}}},
        "OutboxStatus": {
            "type": "object",
            "required": ["success", "depth", "oldest_age_s", "sent", "dead_lettered",
                         "last_error"],
            "properties": {"success": _BOOL, "upstream": {"type": "string", "nullable": True},
                           "depth": _INT, "pending": _INT, "inflight": _INT,
                           "oldest_age_s": {"type": "number", "nullable": True},
                           "sent": _INT, "dead_lettered": _INT,
                           "last_error": {"type": "string", "nullable": True},
                           "retries": _INT, "duplicates": _INT, "bytes": _INT,
                           "max_bytes": _INT, "rejected": _INT}},
        "Health": {"type": "object", "required": ["success", "status"],
                   "properties": {"success": _BOOL, "status": _STR, "version": _STR,
                                  "uptime_s": _NUM, "project": _INT, "impulse": _INT}},
        "FilesResult": {"type": "object", "required": ["success", "files"],
                        "properties": {"success": _BOOL, "error": _STR,
                                       "files": {"type": "array", "items": {
                                           "type": "object", "properties": {
                                               "success": _BOOL, "error": _STR,
                                               "fileName": _STR, "id": _INT}}}}},
        "StartClassifyJobRequest": {"type": "object", "properties": {
            "modelVariants": {"type": "array", "items": _VARIANT},
            "skipFeatureGeneration": _BOOL}},
        "ClassifySampleResponse": _studio_model(
            "ClassifySampleResponse", ["success", "classifications", "sample", "windowSizeMs",
                                       "windowIncreaseMs", "alreadyInDatabase"],
            "Seed 000: one classification per learn block, the sample and its payload"),
        "StartJobResponse": _studio_model("StartJobResponse", ["success", "id"], "A job id"),
        "GetJobResponse": _studio_model("GetJobResponse", ["success", "job"], "The job"),
        "ClassifyJobResponsePage": _studio_model(
            "ClassifyJobResponsePage", ["success", "result", "predictions", "totalCount"],
            "Seed 001: result[], predictions[] (per window), totalCount"),
        "AnomalyModelMetadataResponse": _studio_model(
            "AnomalyModelMetadataResponse", ["success", "created", "scale", "mean",
                                             "clusters", "axes",
                                             "defaultMinimumConfidenceRating", "thresholds"],
            "Seed 003: the K-means block's scale, mean, clusters, axes and thresholds"),
        "ListSamplesResponse": _studio_model("ListSamplesResponse",
                                             ["success", "samples", "totalCount"],
                                             "The samples of a page"),
        "GetSampleResponse": _studio_model(
            "GetSampleResponse", ["success", "sample", "payload", "totalPayloadLength",
                                  "datastreamPayloads"], "One sample with its values"),
    }
    info: Dict[str, Any] = {
        "title": "edgert gateway daemon", "version": __version__,
        "description": "A Studio-compatible subset of the Edge Impulse API over the "
                       "gateway's samples, the ingestion API, and live classification with "
                       "webhooks. Every error is {\"success\": false, \"error\": ...}."}
    if gw is not None:
        info["x-edgert-project"] = {"id": gw.project_id, "name": gw.project_name,
                                    "impulse": gw.impulse_id}
    return {"openapi": "3.0.3", "info": info,
            "security": [{"ApiKeyAuthentication": []}],
            "paths": paths,
            "components": {"securitySchemes": {"ApiKeyAuthentication": {
                "type": "apiKey", "in": "header", "name": "x-api-key"}},
                "schemas": schemas}}


def route_table(doc: Optional[Dict[str, Any]] = None) -> List[tuple]:
    """(method, path template) of every operation in the document."""
    doc = doc or document()
    return sorted((m.upper(), p) for p, ops in doc["paths"].items() for m in ops)


__all__ = ["document", "route_table"]
