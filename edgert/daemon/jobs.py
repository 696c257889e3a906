"""Studio jobs on the gateway: "classify all" (``JobsApi.start_classify_job``) and the
classification of a sample too long to answer at once (``classify/v2`` answers with a job,
the client calls again until the result is there).

Jobs run one at a time on their own thread (a classify-all job uses the classification
threads itself); their state is in the daemon's database, so ``GET .../jobs/{id}/status``
answers after a restart too (a job a restart interrupted is finished unsuccessfully, saying
so). The job object is Studio's ``Job`` (``id``, ``category``, ``categoryKey``, ``key``,
``created``, ``started``, ``finished``, ``finishedSuccessful``, ``jobNotificationUids``,
``additionalInfo``, ``computeTime``, ``metadata`` with the progress).
"""
from __future__ import annotations

import datetime as _dt
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Optional

from ..dataset.filters import format_date

log = logging.getLogger("edgert.daemon.jobs")

CLASSIFY_ALL = "classify"
CLASSIFY_SAMPLE = "classify-sample"
_CATEGORIES = {CLASSIFY_ALL: "Classify all samples", CLASSIFY_SAMPLE: "Classify a sample"}


def _iso(ts: Optional[float]) -> Optional[str]:
    """Studio's date text (UTC, milliseconds, ``Z``) of an epoch time."""
    if ts is None:
        return None
    return format_date(_dt.datetime.fromtimestamp(ts, _dt.timezone.utc))


class JobRunner:
    def __init__(self, db: Any) -> None:
        self.db = db
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgert-job")
        self._lock = threading.Lock()

    def close(self, wait: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def submit(self, kind: str, key: str, params: Dict[str, Any],
               work: Callable[[Callable[[int, int], None]], None]) -> int:
        """A new job running ``work(progress)``; ``progress(done, total)`` records progress.
        A job with the same ``key`` still running is returned instead of a second one."""
        with self._lock:
            running = self.db.running_job(key)
            if running is not None:
                return running
            job_id = self.db.new_job(kind, key, params)

        def run() -> None:
            self.db.job_started(job_id)
            try:
                work(lambda done, total: self.db.job_progress(job_id, done, total))
            except Exception as exc:  # noqa: BLE001 - the job's outcome, not a crash
                log.warning("job %d (%s) failed: %s", job_id, key, exc,
                            exc_info=not isinstance(exc, ValueError))
                self.db.job_finished(job_id, False, f"{type(exc).__name__}: {exc}"
                                     if not isinstance(exc, ValueError) else str(exc))
            else:
                self.db.job_finished(job_id, True)

        self._pool.submit(run)
        return job_id

    def job_document(self, job_id: int) -> Optional[Dict[str, Any]]:
        """Studio's ``Job`` object, or None for an unknown id."""
        j = self.db.job(job_id)
        if j is None:
            return None
        done, total = int(j["done"] or 0), int(j["total"] or 0)
        doc: Dict[str, Any] = {
            "id": int(j["id"]), "category": _CATEGORIES.get(j["kind"], j["kind"]),
            "categoryKey": j["kind"], "key": j["key"], "created": _iso(j["created"]),
            "jobNotificationUids": [],
            "metadata": {"done": done, "total": total, **dict(j["params"])},
        }
        if j["started"] is not None:
            doc["started"] = _iso(j["started"])
        if j["finished"] is not None:
            doc["finished"] = _iso(j["finished"])
            doc["finishedSuccessful"] = bool(j["success"])
            if j["started"] is not None:
                doc["computeTime"] = max(0.0, float(j["finished"]) - float(j["started"]))
        if j["error"]:
            doc["additionalInfo"] = j["error"]
        elif total:
            doc["additionalInfo"] = f"{done} of {total} samples classified"
        return doc


__all__ = ["CLASSIFY_ALL", "CLASSIFY_SAMPLE", "JobRunner"]
