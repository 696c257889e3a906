"""The Studio-compatible subset of the Edge Impulse API (``/v1/api/{projectId}/...``), over the
gateway's stored samples and its impulse, in the shapes the official ``edgeimpulse-api``
client parses (seeds 000, 001, 003):

===========================================================  ==================================
``POST /v1/api/{projectId}/classify/v2/{sampleId}``          ``ClassifyApi.classify_sample_v2``
``POST /v1/api/{projectId}/jobs/classify``                   ``JobsApi.start_classify_job``
``GET  /v1/api/{projectId}/jobs/{jobId}/status``             ``JobsApi.get_job_status``
``GET  /v1/api/{projectId}/classify/all/result/page``        ``ClassifyApi.get_classify_job_result_page``
``GET  /v1/api/{projectId}/training/anomaly/{learnId}/metadata``  ``LearnApi.get_anomaly_metadata``
``GET  /v1/api/{projectId}/raw-data``                        ``RawDataApi.list_samples``
``GET  /v1/api/{projectId}/raw-data/{sampleId}``             ``RawDataApi.get_sample``
===========================================================  ==================================

``projectId`` must be the bundle's project id; ``impulseId``, when given, its impulse id.
Classify v2 answers a sample longer than ``classify_sync_max_ms`` with a job
(``{"success": true, "id": N}``) and the result once the job is done (the client calls again,
as with Studio; ``alreadyInDatabase`` is then true). The result page classifies on demand
what a classify job has not classified yet (results are cached per sample content, variant
and impulse). Errors: ``{"success": false, "error": "..."}`` with 400 (a bad parameter,
naming it), 404 (no such project, sample, job or learn block).
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Callable, Dict, List, Optional

from ..dataset import SampleFilter, SampleRow
from ..dataset.schema import STUDIO_CATEGORY
from ..errors import DatasetError, EdgertError
from ..web.app import json_response, route
from .anomalies import document_values, shortest_float32
from .jobs import CLASSIFY_ALL, CLASSIFY_SAMPLE

log = logging.getLogger("edgert.daemon.studio")

PREFIX = "/v1/api/{projectId}"
SORTS = ("id-desc", "id-asc")


class ApiError(Exception):
    """An error answer: ``status`` and the message that says what to fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _int(value: Any, name: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(str(value))
    except (TypeError, ValueError):
        raise ApiError(400, f"{name}: {value!r} is not a whole number") from None


def _bool(value: Optional[str], name: str) -> bool:
    if value is None or value == "":
        return False
    v = value.strip().lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    raise ApiError(400, f"{name}: {value!r} is not true or false")


def _values(data: bytes, rec: Any, limit: Optional[int]) -> List[List[float]]:
    """A sample's values as the device sent them: a document's own numbers (a CSV's as the
    recording holds them)."""
    try:
        v = document_values(data)
    except EdgertError:
        v = shortest_float32(rec.values)
        v = v.reshape(-1, 1) if v.ndim == 1 else v
    if limit is not None:
        v = v[:limit]
    return v.tolist()


class StudioApi:
    def __init__(self, gw: Any) -> None:
        self.gw = gw

    # -- helpers ----------------------------------------------------------------------------
    def _project(self, request: Any) -> int:
        pid = _int(request.path_params["projectId"], "projectId")
        if pid != self.gw.project_id:
            raise ApiError(404, f"project {pid} is not served here: this gateway serves "
                           f"project {self.gw.project_id} ({self.gw.project_name})")
        imp = request.query_params.get("impulseId")
        if imp not in (None, "") and _int(imp, "impulseId") != self.gw.impulse_id:
            raise ApiError(404, f"impulseId {imp}: this gateway runs impulse "
                           f"{self.gw.impulse_id} of project {self.gw.project_id}")
        return pid

    def _variant(self, value: Optional[str]) -> Optional[str]:
        try:
            return self.gw.impulse.resolve_variant(value or None)
        except EdgertError as exc:
            raise ApiError(400, f"variant: {exc}") from None

    def _row(self, sample_id: int) -> SampleRow:
        try:
            return self.gw.dataset.get(sample_id)
        except DatasetError:
            raise ApiError(404, f"no sample with id {sample_id} on this gateway; list them "
                           f"with GET /v1/api/{self.gw.project_id}/raw-data?category=all") \
                from None

    async def _call(self, pool: Any, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    # -- classify v2 ---------------------------------------------------------------------------
    def classification_doc(self, row: SampleRow, variant: Optional[str]) -> Dict[str, Any]:
        """Studio's classify v2 document of a stored sample (thread-side)."""
        try:
            rec = self.gw.dataset.load(row)
            res = self.gw.classifier.classify(rec, variant, source="sample")
        except EdgertError as exc:
            raise ApiError(400, f"sample {row.id} ({row.path}) cannot be classified: "
                           f"{exc}") from None
        pid = self.gw.project_id
        doc = res.to_studio_json(sample=row, sample_id=row.id, project_id=pid,
                                 category=STUDIO_CATEGORY.get(row.category, row.category))
        doc["sample"]["sample"].update(row.to_studio(pid))
        return doc

    def _classify_v2(self, sample_id: int, variant: Optional[str]) -> Dict[str, Any]:
        gw = self.gw
        row = self._row(sample_id)
        if row.error is not None:
            raise ApiError(400, f"sample {sample_id} cannot be read: {row.error}")
        variant = self._variant(variant)
        key = f"{row.sha256}:{variant}:{row.label or ''}:{gw.fingerprint}"
        cached = gw.db.classification(key)
        if cached is not None:
            cached["alreadyInDatabase"] = True
            cached["sample"]["sample"].update(row.to_studio(gw.project_id))
            return cached
        if float(row.total_length_ms or 0.0) <= gw.cfg.limits.classify_sync_max_ms:
            return self.classification_doc(row, variant)
        running = gw.db.running_job(key)
        if running is not None:
            return {"success": True, "id": running}
        last = gw.db.last_job(key)
        if last is not None and last["finished"] is not None and not last["success"] \
                and not str(last["error"] or "").startswith("interrupted"):
            # the same content, variant and impulse fail the same way every time
            raise ApiError(400, f"sample {sample_id} cannot be classified (job {last['id']}): "
                           f"{last['error']}")
        job_id = gw.jobs.submit(CLASSIFY_SAMPLE, key, {"sampleId": sample_id,
                                                       "variant": variant},
                                self._sample_job(row, variant, key))
        return {"success": True, "id": job_id}

    def _sample_job(self, row: SampleRow, variant: Optional[str], key: str
                    ) -> Callable[[Callable[[int, int], None]], None]:
        def work(progress: Callable[[int, int], None]) -> None:
            progress(0, 1)
            try:
                doc = self.classification_doc(row, variant)
            except ApiError as exc:
                raise ValueError(exc.message) from None
            self.gw.db.put_classification(key, doc)
            progress(1, 1)
        return work

    async def classify_v2(self, request: Any) -> Any:
        self._project(request)
        sid = _int(request.path_params["sampleId"], "sampleId")
        doc = await self._call(self.gw.classify_pool, self._classify_v2, sid,
                               request.query_params.get("variant"))
        return json_response(doc)

    # -- jobs --------------------------------------------------------------------------------
    async def start_classify_job(self, request: Any) -> Any:
        self._project(request)
        category = request.query_params.get("category") or "testing"
        try:
            SampleFilter(category=category).validated()
        except DatasetError as exc:
            raise ApiError(400, str(exc)) from None
        body = await self.gw.read_small_body(request)
        requested: List[Optional[str]] = [None]
        if body.strip():
            try:
                doc = json.loads(body)
            except ValueError:
                raise ApiError(400, "the body must be JSON: a StartClassifyJobRequest such as "
                               '{"modelVariants": ["int8"]}, or empty') from None
            if not isinstance(doc, dict):
                raise ApiError(400, "the body must be a JSON object (StartClassifyJobRequest)")
            mv = doc.get("modelVariants")
            if mv is not None:
                if not isinstance(mv, list) or not all(isinstance(v, str) for v in mv):
                    raise ApiError(400, 'modelVariants must be a list such as ["int8"]')
                requested = mv or [None]
        variants = [self._variant(v) for v in requested]
        gw = self.gw

        def work(progress: Callable[[int, int], None]) -> None:
            from ..dataset.classify_all import classify_all
            for v in variants:
                classify_all(gw.impulse, gw.dataset, category=category, variant=v, limit=0,
                             threads=gw.cfg.limits.threads, progress=progress,
                             with_metrics=True)

        job_id = gw.jobs.submit(CLASSIFY_ALL, f"classify-{category}",
                                {"category": category, "variants": variants}, work)
        return json_response({"success": True, "id": job_id})

    async def job_status(self, request: Any) -> Any:
        self._project(request)
        job_id = _int(request.path_params["jobId"], "jobId")
        doc = await self._call(self.gw.io_pool, self.gw.jobs.job_document, job_id)
        if doc is None:
            raise ApiError(404, f"no job with id {job_id} on this gateway")
        return json_response({"success": True, "job": doc})

    # -- classify-all result page ------------------------------------------------------------
    async def result_page(self, request: Any) -> Any:
        self._project(request)
        query: Dict[str, List[str]] = {}
        for k, v in request.query_params.multi_items():
            query.setdefault(k, []).append(v)
        variant = self._variant((query.get("variant") or [None])[-1])
        if variant is not None:
            query["variant"] = [variant]
        gw = self.gw

        def page() -> Dict[str, Any]:
            from ..dataset.classify_all import classify_all_from_query
            try:
                return classify_all_from_query(gw.impulse, gw.dataset, query, progress=False,
                                               threads=gw.cfg.limits.threads)
            except DatasetError as exc:
                raise ApiError(400, str(exc)) from None

        return json_response(await self._call(gw.io_pool, page))

    # -- anomaly metadata --------------------------------------------------------------------
    async def anomaly_metadata(self, request: Any) -> Any:
        self._project(request)
        lid = _int(request.path_params["learnId"], "learnId")
        blocks = self.gw.impulse.bundle.learn
        block = next((b for b in blocks if b.id == lid), None)
        known = ", ".join(f"{b.id} ({b.type})" for b in blocks)
        if block is None:
            raise ApiError(404, f"learn block {lid} is not in this impulse; its learn blocks "
                           f"are {known}")
        if block.type != "anomaly" or not block.metadata:
            raise ApiError(400, f"learn block {lid} is a {block.type} block: anomaly metadata "
                           f"exists for K-means anomaly blocks (this impulse: {known})")
        doc = dict(block.metadata)
        doc["success"] = True
        doc.pop("error", None)
        return json_response(doc)

    # -- samples ------------------------------------------------------------------------------
    def _list(self, query: Dict[str, str]) -> Dict[str, Any]:
        category = query.get("category")
        if not category:
            raise ApiError(400, "category is required: training, testing, validation, "
                           "post-processing, anomaly or all")
        try:
            flt = SampleFilter.from_query(query)
        except DatasetError as exc:
            raise ApiError(400, str(exc)) from None
        sort = query.get("sortBy") or "id-desc"
        if sort not in SORTS:
            raise ApiError(400, f"sortBy: {sort!r}; this gateway sorts by "
                           f"{' or '.join(SORTS)}")
        limit = _int(query["limit"], "limit") if query.get("limit") else None
        offset = _int(query.get("offset") or 0, "offset")
        if (limit is not None and limit < 0) or offset < 0:
            raise ApiError(400, "limit and offset must not be negative")
        ds = self.gw.dataset
        total = ds.count(flt)
        if sort == "id-asc":
            rows = ds.query(flt, limit=limit, offset=offset)
        else:  # newest first: the ascending rows from the other end
            end = max(0, total - offset)
            start = 0 if limit is None else max(0, end - limit)
            rows = list(reversed(ds.query(flt, limit=end - start, offset=start)))
        exclude = _bool(query.get("excludeSensors"), "excludeSensors")
        samples = []
        for r in rows:
            s = r.to_studio(self.gw.project_id)
            if exclude:
                s["sensors"] = []
            samples.append(s)
        return {"success": True, "samples": samples, "totalCount": int(total)}

    async def list_samples(self, request: Any) -> Any:
        self._project(request)
        query = dict(request.query_params)
        return json_response(await self._call(self.gw.io_pool, self._list, query))

    def _get(self, sample_id: int, limit: Optional[int]) -> Dict[str, Any]:
        row = self._row(sample_id)
        pid = self.gw.project_id
        sample = row.to_studio(pid)
        sensors = [{"index": i, "name": str(s.get("name", "")),
                    "units": str(s.get("units", "N/A"))} for i, s in enumerate(row.sensors)]
        try:
            rec = self.gw.dataset.load(row)
            data = (self.gw.dataset.root / row.path).read_bytes()
            values = _values(data, rec, limit)
            n = int(rec.values.shape[0])
        except (DatasetError, OSError) as exc:
            sample["processingError"] = True
            sample["processingErrorString"] = str(exc)
            values, n = [], 0
        payload = {"device_name": row.device_name or "",
                   "device_type": row.device_type or "unknown", "sensors": sensors,
                   "values": values, "cropStart": 0, "cropEnd": n,
                   "intervalMs": float(row.interval_ms or 0.0),
                   "frequencyHz": float(row.frequency or 0.0)}
        return {"success": True, "sample": sample, "payload": payload,
                "totalPayloadLength": n, "datastreamPayloads": []}

    async def get_sample(self, request: Any) -> Any:
        self._project(request)
        sid = _int(request.path_params["sampleId"], "sampleId")
        raw = request.query_params.get("limitPayloadValues")
        limit = _int(raw, "limitPayloadValues") if raw not in (None, "") else None
        if limit is not None and limit < 0:
            raise ApiError(400, "limitPayloadValues must not be negative")
        return json_response(await self._call(self.gw.io_pool, self._get, sid, limit))

    def routes(self) -> List[Any]:
        p = PREFIX
        return [
            route(f"{p}/classify/v2/{{sampleId}}", self.classify_v2, ["POST"]),
            route(f"{p}/jobs/classify", self.start_classify_job, ["POST"]),
            route(f"{p}/jobs/{{jobId}}/status", self.job_status, ["GET"]),
            route(f"{p}/classify/all/result/page", self.result_page, ["GET"]),
            route(f"{p}/training/anomaly/{{learnId}}/metadata", self.anomaly_metadata, ["GET"]),
            route(f"{p}/raw-data", self.list_samples, ["GET"]),
            route(f"{p}/raw-data/{{sampleId}}", self.get_sample, ["GET"]),
        ]


__all__ = ["ApiError", "StudioApi"]
