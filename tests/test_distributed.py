"""classify-all on a real ``distributed.LocalCluster`` of worker processes: the same pages,
metrics and cache rows as a local run; a worker killed mid-job changes nothing; the flags'
errors (no Dask installed, an unreachable scheduler, a worker with another bundle)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from edgert.dataset import Dataset  # noqa: E402
from edgert.dataset.classify_all import classify_all  # noqa: E402
from edgert.dataset.distributed import dask_client, worker_impulse  # noqa: E402
from edgert.errors import ConfigurationError, DatasetError  # noqa: E402
from edgert.runtime.impulse import Impulse  # noqa: E402

HERE = Path(__file__).parent
DATA = HERE / "data" / "dataset" / "motion"
BUNDLE = HERE / "data" / "motion-demo"
KEY = "dataset-test-hmac-key"
ROOT = HERE.parent


@pytest.fixture(scope="module")
def impulse():
    return Impulse.load(BUNDLE)


@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2) as c:
        yield c


def _copy(tmp_path: Path, name: str) -> Path:
    dst = tmp_path / name
    shutil.copytree(DATA, dst)
    return dst


def _cache_rows(index: Path) -> list:
    """Every cached classification, without the time it was stored."""
    con = sqlite3.connect(index)
    try:
        rows = con.execute("SELECT sha256, variant, impulse, label, summary, summary_values, "
                           "detail, detail_values, error FROM classifications "
                           "ORDER BY sha256, variant, label").fetchall()
    finally:
        con.close()
    return rows


def _run(impulse, folder: Path, index: Path, client=None, **kw) -> dict:
    with Dataset(folder, hmac_key=KEY, index_path=index) as ds:
        return classify_all(impulse, ds, category="all", progress=False, client=client,
                            threads=1, **kw)


#: Sample fields that come from the copied files' modification times (each test folder is a
#: separate copy), not from classification.
_FILE_TIMES = ("created", "lastModified", "added")


def _normalise(page: dict) -> dict:
    """A page with the copied folders' file times taken out (the sample objects' ``created``
    from a document's ``iat`` stays)."""
    page = json.loads(json.dumps(page, sort_keys=True))
    for entry in page["result"]:
        for key in _FILE_TIMES:
            entry["sample"].pop(key, None)
    return page


def test_local_cluster_gives_the_local_pages_metrics_and_cache(impulse, client, tmp_path):
    local = _copy(tmp_path, "local")
    remote = _copy(tmp_path, "remote")
    page_local = _run(impulse, local, tmp_path / "local.sqlite")
    page_dask = _run(impulse, remote, tmp_path / "dask.sqlite", client=client)
    assert page_local["totalCount"] == page_dask["totalCount"] > 20
    # some samples fail (corrupt files, wrong axes): the same error entries on both paths
    assert page_local["modelValidationMetrics"][0]["failedSamples"]
    assert _normalise(page_dask) == _normalise(page_local)
    rows_local = _cache_rows(tmp_path / "local.sqlite")
    assert len(rows_local) >= 20
    assert _cache_rows(tmp_path / "dask.sqlite") == rows_local
    # paging from the cache the workers filled equals paging from the local one
    for kw in ({"limit": 5, "offset": 3}, {"labels": ["idle"], "limit": 4}):
        assert _normalise(_run(impulse, remote, tmp_path / "dask.sqlite", client=client, **kw)) \
            == _normalise(_run(impulse, local, tmp_path / "local.sqlite", **kw))


def test_a_worker_killed_mid_job_changes_nothing(impulse, tmp_path):
    local = _copy(tmp_path, "local")
    page_local = _run(impulse, local, tmp_path / "local.sqlite")
    remote = _copy(tmp_path, "remote")
    killed = threading.Event()
    with dask_client(workers=2) as c:
        pids = list(c.run(os.getpid).values())
        assert len(pids) == 2

        def progress(done: int, total: int) -> None:
            # after the first batch comes back, kill one worker process: its queued and
            # running tasks are rescheduled on the other (or on the nanny's new worker)
            if not killed.is_set():
                killed.set()
                os.kill(pids[0], signal.SIGKILL)

        with Dataset(remote, hmac_key=KEY, index_path=tmp_path / "dask.sqlite") as ds:
            page_dask = classify_all(impulse, ds, category="all", progress=progress, client=c)
    assert killed.is_set()
    assert _normalise(page_dask) == _normalise(page_local)
    assert _cache_rows(tmp_path / "dask.sqlite") == _cache_rows(tmp_path / "local.sqlite")


def test_a_worker_with_another_bundle_refuses_to_work():
    imp = Impulse.load(BUNDLE)
    with pytest.raises(DatasetError, match="not the caller's.*same bundle files"):
        worker_impulse(str(BUNDLE.resolve()), imp.backend, "0" * 64)


def test_without_dask_the_flags_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)   # import distributed -> ImportError
    with pytest.raises(ConfigurationError, match=r"pip install 'edgert\[dask\]'"):
        with dask_client(workers=1):
            pass


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgert", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, env=env)


def test_cli_workers_and_errors(tmp_path):
    folder = _copy(tmp_path, "cli")
    out = _cli("classify-all", str(BUNDLE), str(folder), "--category", "all", "--workers", "2",
               "--index", str(tmp_path / "i.sqlite"), "--json")
    assert out.returncode == 0, out.stderr
    page = json.loads(out.stdout)
    local = _cli("classify-all", str(BUNDLE), str(_copy(tmp_path, "cli2")), "--category", "all",
                 "--index", str(tmp_path / "j.sqlite"), "--json")
    assert _normalise(page) == _normalise(json.loads(local.stdout))
    bad = _cli("classify-all", str(BUNDLE), str(folder), "--scheduler", "tcp://127.0.0.1:9",
               "--index", str(tmp_path / "i.sqlite"))
    assert bad.returncode == 1
    assert "edgert: ERROR: cannot reach the Dask scheduler at tcp://127.0.0.1:9" in bad.stderr
    assert "Traceback" not in bad.stderr
    both = _cli("classify-all", str(BUNDLE), str(folder), "--scheduler", "tcp://x:1",
                "--workers", "2")
    assert both.returncode == 1 and "not both" in both.stderr
    zero = _cli("classify-all", str(BUNDLE), str(folder), "--workers", "0")
    assert zero.returncode == 2 and "--workers" in zero.stderr


def test_anomaly_fit_features_on_the_cluster_give_the_local_model(client, tmp_path):
    from edgert.studio.anomaly_fit import fit_bundle
    local = fit_bundle(BUNDLE, [DATA, DATA / "testing" / "idle.01.json"], clusters=8, seed=0,
                       out=tmp_path / "local", hmac_key=KEY)
    dask = fit_bundle(BUNDLE, [DATA, DATA / "testing" / "idle.01.json"], clusters=8, seed=0,
                      out=tmp_path / "dask", hmac_key=KEY, client=client)
    # same windows in the same order, so the same model (only the creation time differs)
    assert {k: v for k, v in dask.metadata.items() if k != "created"} == \
        {k: v for k, v in local.metadata.items() if k != "created"}
    assert (dask.windows, dask.recordings) == (local.windows, local.recordings)
    assert local.recordings > 5 and local.skipped     # noise.csv (wrong axes) is skipped
    assert dask.skipped == local.skipped


def _sample_rows(index: Path) -> list:
    """The index's sample rows, without the time each was added."""
    con = sqlite3.connect(index)
    con.row_factory = sqlite3.Row
    try:
        rows = [dict(r) for r in con.execute("SELECT * FROM samples ORDER BY path")]
    finally:
        con.close()
    for r in rows:
        for key in ("added", "id"):
            r.pop(key, None)
    return rows


def test_a_folder_is_indexed_and_classified_on_the_cluster_in_one_pass(impulse, client,
                                                                       tmp_path):
    from edgert.dataset.distributed import refresh_on_cluster
    folder = _copy(tmp_path, "f")
    with Dataset(folder, hmac_key=KEY, index_path=tmp_path / "local.sqlite") as ds:
        page_local = classify_all(impulse, ds, category="all", progress=False, threads=1)
    with Dataset(folder, hmac_key=KEY, index_path=tmp_path / "dask.sqlite",
                 refresh=False) as ds:
        stats = refresh_on_cluster(ds, client, impulse, None, "all")
        assert stats["added"] == len(_sample_rows(tmp_path / "local.sqlite")) > 20
        # every readable sample was classified in the indexing pass: the cache is complete
        # before classify_all runs, and classify_all then classifies nothing
        assert _cache_rows(tmp_path / "dask.sqlite") == _cache_rows(tmp_path / "local.sqlite")
        page_dask = classify_all(impulse, ds, category="all", progress=False, client=client)
    assert _sample_rows(tmp_path / "dask.sqlite") == _sample_rows(tmp_path / "local.sqlite")
    assert _normalise(page_dask) == _normalise(page_local)
    # a folder given to classify_all (no key: signatures unchecked) with a client goes the
    # same way as without
    page_path = classify_all(impulse, folder, category="all", progress=False, client=client)
    assert _normalise(page_path) == _normalise(
        classify_all(impulse, _copy(tmp_path, "g"), category="all", progress=False))
