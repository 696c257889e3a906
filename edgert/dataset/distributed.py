"""classify-all and anomaly-fit feature extraction on a Dask cluster (``dask.distributed``).

Why Dask: users who outgrow one machine get the distributed engine the Python data world
already runs (schedulers, worker restarts, a dashboard, deployment on Kubernetes/SLURM/cloud
through dask's own tooling) rather than a task system of ours; and on one machine, worker
*processes* sidestep the GIL that JSON decoding holds, which a thread pool cannot.

How the work is split (:func:`classify_rows`):

- The one process that owns the dataset's SQLite index (the caller) decides what needs
  classifying (cache misses), exactly as the local path does.
- Samples go to the workers in small batches (a task = a few samples, so the scheduler's
  per-task cost, ~1 ms, stays small against the work, while a lost worker costs little).
  Each task carries paths, not data: the worker reads each recording itself from a path every
  worker can see (a shared filesystem), checks its SHA-256 against the index (a file changed
  since indexing is an error that is not cached, as locally), decodes it with the same reader
  and classifies it with the same code as a local run (:func:`~.classify_all.classify_loaded`).
- Each worker process loads the bundle once (:func:`worker_impulse`, keyed by path, backend
  and fingerprint) and refuses to work when its bundle's fingerprint differs from the
  caller's (another bundle or edgert version on that host): the results could not be cached
  under the caller's key.
- Results come back as the encoded cache rows (JSON text + float64 blocks, the same bytes a
  local run stores), and only the caller writes them to SQLite, so the cache, pages and
  metrics are those of a local run.
- A worker that dies mid-task: the scheduler reschedules its tasks on the others (dask's
  ``allowed-failures``); every sample's result is recorded once, by sample id.

Object stores: the workers open recordings with :func:`open`, so data on S3/GCS would need an
fsspec URL layer (``fsspec.open(url)``) and a dataset index that records URLs; that route is
documented in docs/distributed.md and not implemented.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import os
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from ..errors import ConfigurationError, DatasetError, EdgertError

log = logging.getLogger(__name__)

#: The optional extra that brings Dask in.
EXTRA = "edgert[dask]"
#: Target number of tasks per worker (more: finer progress and cheaper loss of a worker;
#: fewer: less scheduler overhead per sample).
TASKS_PER_WORKER = 8
#: At most this many samples per task.
MAX_BATCH = 32


def import_distributed() -> Any:
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(
            f"--scheduler/--workers run on Dask, which is not installed ({exc.name or exc}); "
            f"install it with: pip install '{EXTRA}'") from None
    return distributed


@contextmanager
def dask_client(scheduler: Optional[str] = None, workers: Optional[int] = None,
                announce: Optional[Callable[[str], None]] = None) -> Iterator[Any]:
    """A ``distributed.Client``: connected to a running scheduler (``tcp://host:8786``), or
    to a local cluster of ``workers`` worker processes (one thread each) started here and
    stopped on exit. ``announce`` receives a line with the dashboard address."""
    if (scheduler is None) == (workers is None):
        raise ConfigurationError("give either a Dask scheduler address or a number of local "
                                 "workers, not both")
    distributed = import_distributed()
    cluster = None
    try:
        if scheduler is not None:
            try:
                client = distributed.Client(scheduler, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise ConfigurationError(f"cannot reach the Dask scheduler at {scheduler} "
                                         f"({exc}); is `dask scheduler` running there?") \
                    from None
        else:
            if int(workers) < 1:  # type: ignore[arg-type]
                raise ConfigurationError(f"--workers must be >= 1, got {workers}")
            # processes, one thread each: the GIL-bound decoding runs in parallel; no
            # dashboard port clash with another edgert on the same host (port 0 = any)
            cluster = distributed.LocalCluster(n_workers=int(workers),  # type: ignore[arg-type]
                                               threads_per_worker=1, processes=True,
                                               dashboard_address=":0", silence_logs=logging.ERROR)
            client = distributed.Client(cluster)
    except ConfigurationError:
        raise
    except Exception as exc:  # noqa: BLE001 - dask raises many kinds
        if cluster is not None:
            cluster.close()
        raise ConfigurationError(f"cannot start the Dask cluster: {exc}") from None
    try:
        link = getattr(client, "dashboard_link", None)
        n = len(client.scheduler_info().get("workers", {}))
        if announce is not None:
            announce(f"Dask: {n} worker(s)" + (f", dashboard {link}" if link else ""))
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# ----------------------------------------------------------------------------- worker side
#: Impulses loaded in this worker process, keyed by (bundle path, backend, fingerprint). A
#: per-process Python cache (the C core itself keeps no state).
_WORKER_IMPULSES: Dict[Tuple[str, str, str], Any] = {}
_WORKER_LOCK = threading.Lock()


def worker_impulse(bundle: str, backend: str, fingerprint: str) -> Any:
    """The worker's Impulse for this bundle, loaded once per process and verified: its
    fingerprint (bundle files + edgert version + backend) must equal the caller's."""
    key = (bundle, backend, fingerprint)
    with _WORKER_LOCK:
        imp = _WORKER_IMPULSES.get(key)
        if imp is None:
            from ..runtime.impulse import Impulse
            from .sample_classification import impulse_fingerprint
            imp = Impulse.load(bundle, backend=backend)
            got = impulse_fingerprint(imp)
            if got != fingerprint:
                raise DatasetError(
                    f"the bundle at {bundle} on this worker ({_host()}) is not the caller's "
                    f"(fingerprint {got[:12]} != {fingerprint[:12]}): every worker must see "
                    "the same bundle files and run the same edgert version")
            _WORKER_IMPULSES[key] = imp
        return imp


def _host() -> str:
    import socket
    return f"{socket.gethostname()} pid {os.getpid()}"


@dataclass(frozen=True)
class ClassifyJob:
    """What every task of one classify-all run shares."""
    bundle: str
    backend: str
    fingerprint: str
    variant: Optional[str]


@dataclass(frozen=True)
class SampleItem:
    """One sample to classify: where it is and what the index knows of it."""
    id: int
    path: str            # absolute, as the workers see it
    rel: str             # the dataset-relative path (messages)
    sha256: str
    label: Optional[str]


def classify_batch(job: ClassifyJob, items: Sequence[SampleItem]
                   ) -> List[Tuple[int, Optional[str], Optional[Tuple[Any, ...]]]]:
    """A task: ``(sample id, error, encoded cache row or None)`` for each item. Runs on a
    worker; never raises for one bad sample."""
    from .sample_classification import classify_loaded
    from .index import default_reader
    imp = worker_impulse(job.bundle, job.backend, job.fingerprint)
    out: List[Tuple[int, Optional[str], Optional[Tuple[Any, ...]]]] = []
    for it in items:
        try:
            data = Path(it.path).read_bytes()
        except OSError as exc:
            out.append((it.id, f"{it.rel}: cannot read ({exc.strerror}) on {_host()}; "
                               "every worker must see the dataset at the same path", None))
            continue
        if hashlib.sha256(data).hexdigest() != it.sha256:
            out.append((it.id, f"{it.rel}: changed since it was indexed; run refresh()", None))
            continue
        try:
            rec = default_reader(Path(it.path), data, None)
        except EdgertError as exc:
            out.append((it.id, f"{it.rel}: {exc}", None))
            continue
        _, error, entry = classify_loaded(imp, rec, it.rel, it.sha256, it.label, job.variant,
                                          job.fingerprint)
        out.append((it.id, error, entry))
    return out


@dataclass(frozen=True)
class FileTask:
    """One file of a distributed refresh: what to index and, when ``label`` is not None
    and the run classifies, the label its classification is cached under."""
    file: Any            # edgert.dataset.index.FileToIndex (absolute path)
    classify: bool
    label: Optional[str]


def index_batch(job: Optional[ClassifyJob], hmac_key: Optional[bytes],
                tasks: Sequence[FileTask]) -> List[Tuple[Any, Dict[str, Any], Optional[Tuple[Any, ...]]]]:
    """A task of a distributed refresh (runs on a worker): for each file, its index fields
    (:func:`edgert.dataset.index.file_fields`, the file read and decoded once) and, for the
    files to classify, the encoded cache row of its classification (None when the outcome
    must not be cached). One read and one decode per file, as a local fresh run does."""
    from .decoding import default_reader
    from .index import file_fields
    from .sample_classification import classify_loaded
    imp = worker_impulse(job.bundle, job.backend, job.fingerprint) if job else None
    out: List[Tuple[Any, Dict[str, Any], Optional[Tuple[Any, ...]]]] = []
    for t in tasks:
        f = t.file
        try:
            data = Path(f.path).read_bytes()
        except OSError as exc:
            fields, _ = file_fields(f, b"", default_reader, None)
            fields["error"] = (f"{f.rel}: cannot read on {_host()} ({exc.strerror}); every "
                               "worker must see the dataset at the same path")
            out.append((f, fields, None))
            continue
        fields, sample = file_fields(f, data, default_reader, hmac_key)
        entry = None
        if imp is not None and t.classify and sample is not None:
            _, _, entry = classify_loaded(imp, sample, f.rel, fields["sha256"], t.label,
                                          job.variant, job.fingerprint)  # type: ignore[union-attr]
        out.append((f, fields, entry))
    return out


# ----------------------------------------------------------------------------- caller side
def task_batches(items: Sequence[Any], n_workers: int) -> List[List[Any]]:
    size = max(1, min(MAX_BATCH, math.ceil(len(items) / max(1, n_workers * TASKS_PER_WORKER))))
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def run_batches(client: Any, fn: Callable[..., List[Any]], args: Sequence[Any],
                items: Sequence[Any]) -> Iterator[Tuple[int, List[Any]]]:
    """Submit ``fn(*args, batch)`` for the items in batches (:func:`task_batches`) and yield
    ``(batch number, its outcomes)`` as the tasks complete. A task that failed on every retry
    is a DatasetError (an EdgertError raised by the task is re-raised as it is); the futures
    are released at the end, whatever happens."""
    distributed = import_distributed()
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    futures = [client.submit(fn, *args, batch, pure=False)
               for batch in task_batches(items, n_workers)]
    number = {fut.key: i for i, fut in enumerate(futures)}
    try:
        for fut in distributed.as_completed(futures):
            try:
                outcomes = fut.result()
            except EdgertError:
                raise
            except Exception as exc:  # noqa: BLE001 - a task that failed on every retry
                raise DatasetError(f"a Dask task failed: {type(exc).__name__}: {exc}") from None
            yield number[fut.key], outcomes
    finally:
        for fut in futures:
            fut.release()


def bundle_path(impulse: Any) -> str:
    """The bundle's absolute path, as the workers will open it."""
    source = getattr(getattr(impulse, "bundle", None), "source", None)
    if not source or not Path(source).exists():
        raise DatasetError("classify-all on Dask needs an impulse loaded from a bundle path "
                           "(Impulse.load(path)) that the workers can open")
    return str(Path(source).resolve())


def classify_rows(impulse: Any, ds: Any, todo: Sequence[Any], variant: Optional[str], fp: str,
                  client: Any, progress: Any, write_batch: int
                  ) -> Dict[int, Optional[str]]:
    """Classify the dataset rows ``todo`` on the cluster behind ``client``; the encoded cache
    rows are written by this process. Returns ``{row id: error}`` for the rows whose outcome
    is not cached (the rest are read back from the cache by the caller)."""
    from tqdm import tqdm
    job = ClassifyJob(bundle_path(impulse), getattr(impulse, "backend", "auto"), fp, variant)
    root = Path(ds.root).resolve()
    items = [SampleItem(r.id, str(root / r.path), r.path, r.sha256, r.label) for r in todo]
    callback = progress if callable(progress) else None
    bar = tqdm(total=len(items), unit="sample", desc="classify (dask)",
               disable=callback is not None or not progress, file=sys.stderr, leave=False)
    uncached: Dict[int, Optional[str]] = {}
    done: set = set()
    pending: List[Tuple[Any, ...]] = []
    try:
        for _, outcomes in run_batches(client, classify_batch, (job,), items):
            for sample_id, error, entry in outcomes:
                if sample_id in done:       # a rescheduled task reported it already
                    continue
                done.add(sample_id)
                if entry is not None:
                    pending.append(entry)
                else:
                    uncached[sample_id] = error
                if error is not None:
                    log.warning("sample %d: %s", sample_id, error)
            if len(pending) >= write_batch:
                ds.cache_write(pending)
                pending = []
            bar.update(len(outcomes))
            if callback is not None:
                callback(len(done), len(items))
        ds.cache_write(pending)
    finally:
        bar.close()
    return uncached


def refresh_on_cluster(ds: Any, client: Any, impulse: Any = None, variant: Optional[str] = None,
                       category: Optional[str] = None, progress: Any = False) -> Dict[str, int]:
    """``ds.refresh()`` with the new and changed files read and decoded on the cluster; with
    ``impulse``, the files of ``category`` (None or "all": every file) are classified in the
    same task and their results cached (the key a later :func:`classify_all` with the same
    ``variant`` looks up), so a fresh classify-all reads and decodes each file once, on a
    worker. Returns refresh()'s counts."""
    import_distributed()
    from tqdm import tqdm
    from .decoding import default_reader
    from .manifest import labelling, read_manifest
    if ds.reader is not default_reader:
        # a custom reader is the caller's code: it runs here, not on the workers
        return ds.refresh()
    from .sample_classification import impulse_fingerprint
    job = None
    if impulse is not None:
        resolve = getattr(impulse, "resolve_variant", None)
        variant = resolve(variant) if resolve is not None else variant
        job = ClassifyJob(bundle_path(impulse), getattr(impulse, "backend", "auto"),
                          impulse_fingerprint(impulse), variant)
    manifest = read_manifest(ds.root)
    entries: List[Tuple[Any, ...]] = []
    callback = progress if callable(progress) else None

    def indexer(files: Sequence[Any]) -> Iterator[Any]:
        tasks = []
        for f in files:
            f = dataclasses.replace(f, path=Path(f.path).resolve())
            try:
                # the label a default reader gives is the file name's: labelling() needs no
                # decode, so the classification's cache key is known before the worker runs
                cat, label, _ = labelling(f.rel, f.path, manifest, None)
            except EdgertError:
                cat, label = None, None
            wanted = job is not None and cat is not None and category in (None, "all", cat)
            tasks.append(FileTask(f, wanted, label))
        bar = tqdm(total=len(tasks), unit="file", desc="index (dask)",
                   disable=callback is not None or not progress, file=sys.stderr, leave=False)
        indexed: Dict[str, Tuple[Any, Dict[str, Any]]] = {}
        try:
            for _, outcomes in run_batches(client, index_batch, (job, ds.hmac_key), tasks):
                for f, fields, entry in outcomes:
                    if entry is not None:
                        entries.append(entry)
                    indexed[f.rel] = (f, fields)
                bar.update(len(outcomes))
                if callback is not None:
                    callback(len(indexed), len(tasks))
        finally:
            bar.close()
        # rows are inserted in the folder's order, so sample ids are those of a local refresh
        for t in tasks:
            f, fields = indexed[t.file.rel]
            yield f, fields, None

    stats = ds.refresh(indexer=indexer)
    ds.cache_write(entries)
    return stats


__all__ = ["ClassifyJob", "EXTRA", "SampleItem", "bundle_path", "classify_batch",
           "classify_rows", "dask_client", "import_distributed", "index_batch",
           "refresh_on_cluster", "run_batches", "task_batches",
           "worker_impulse"]
