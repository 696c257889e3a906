"""On-gateway K-means anomaly training (edgert.studio.anomaly_fit, `edgert anomaly fit`): the
clustering against scipy's Lloyd iterations and known blobs, maxError tight and every training
window scoring <= 0 through the runtime (Impulse on the written bundle), the metadata document
through the official client, bundle writing (update, new block, zip)."""
from __future__ import annotations

import json
import shutil
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from edgert.studio.anomaly_fit import (StandardScaler, cluster_distances_float32, fit_anomaly_metadata,
                                fit_bundle, fit_kmeans, kmeans_plus_plus, lloyd,
                                score_float32)
from edgert.cli import main as cli_main
from edgert.dataset import Dataset, SampleFilter
from edgert.errors import BundleError, ConfigurationError, InputError
from edgert.runtime.impulse import Impulse

from .test_classify_all_schema import assert_declared, threshold_value_fix  # noqa: F401

HERE = Path(__file__).parent
BUNDLE = HERE / "data" / "motion-demo"
DATA = HERE / "data" / "dataset" / "motion"
KEY = "dataset-test-hmac-key"


def blobs(seed=1, n=150):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 0.0], [0.0, 6.0, 2.0], [3.0, 3.0, 8.0]])
    x = np.concatenate([rng.normal(c, 0.3, (n, 3)) for c in centres])
    return x, centres


# --- clustering ---------------------------------------------------------------------------------

def test_lloyd_matches_scipy_from_the_same_seeding():
    from scipy.cluster.vq import kmeans2
    rng = np.random.default_rng(7)
    x = rng.normal(size=(400, 3)) * [1.0, 2.0, 0.5]
    init = kmeans_plus_plus(x, 6, np.random.default_rng(0))
    ours, labels, iters = lloyd(x, init)
    theirs, their_labels = kmeans2(x, init.copy(), iter=iters + 5, minit="matrix")
    assert np.array_equal(labels, their_labels)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_converged_clustering_is_a_lloyd_fixed_point_and_finds_the_blobs():
    x, centres = blobs()
    found, labels = fit_kmeans(x, 4, seed=0)
    d = ((x[:, None, :] - found[None]) ** 2).sum(-1)
    assert np.array_equal(labels, d.argmin(1))                  # assignment = nearest centre
    for c in range(4):
        np.testing.assert_allclose(found[c], x[labels == c].mean(0), atol=1e-12)
    # each generating centre recovered (k-means++ does not put two seeds in one blob here)
    err = np.sqrt(((centres[:, None] - found[None]) ** 2).sum(-1)).min(1)
    assert np.all(err < 0.15)           # ~0.04 expected: the sampling error of a blob's mean


def test_seed_is_deterministic():
    x, _ = blobs(seed=3)
    a, _ = fit_kmeans(x, 7, seed=5)
    b, _ = fit_kmeans(x, 7, seed=5)
    c, _ = fit_kmeans(x, 7, seed=6)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_scaler_is_population_statistics():
    x = np.array([[1.0, 5.0], [3.0, 5.0], [8.0, 5.0]])
    s = StandardScaler.fit(x)
    np.testing.assert_allclose(s.mean, [4.0, 5.0])
    np.testing.assert_allclose(s.scale, [np.std([1.0, 3.0, 8.0]), 1.0])   # constant -> 1


def test_bad_training_input():
    x, _ = blobs(n=2)
    with pytest.raises(InputError, match="fewer than the 32 clusters"):
        fit_kmeans(x, 32)
    with pytest.raises(InputError, match="distinct"):
        fit_kmeans(np.ones((50, 3)), 3)
    with pytest.raises(InputError, match="NaN"):
        fit_kmeans(np.full((5, 2), np.nan), 2)
    with pytest.raises(ConfigurationError, match="--axes"):
        fit_anomaly_metadata(np.zeros((10, 4), np.float32), [0, 9], 2)
    with pytest.raises(ConfigurationError, match="repeated"):
        fit_anomaly_metadata(np.zeros((10, 4), np.float32), [1, 1], 2)


def test_max_error_is_tight_with_the_c_scorer():
    """Every training point scores <= 0 with the C scorer, and the largest score is exactly 0
    (maxError is the largest member distance, not a padded one)."""
    from edgert.runtime.anomaly import KMeansScorer
    rng = np.random.default_rng(11)
    x, _ = blobs(seed=4)
    feats = np.concatenate([x * 3.7 + 1.1, rng.normal(size=(len(x), 5))], 1).astype(np.float32)
    axes = [0, 1, 2, 4, 6]
    for k in (1, 5, 16):
        md = fit_anomaly_metadata(feats, axes, k, seed=2)
        c_scores = KMeansScorer(md, feats.shape[1]).score(feats)
        assert c_scores.max() == 0.0
        centres = np.array([c["center"] for c in md["clusters"]])
        me = np.array([c["maxError"] for c in md["clusters"]])
        assert np.array_equal(score_float32(feats[:, axes], md["mean"], md["scale"], centres,
                                            me), c_scores)
        d = cluster_distances_float32(feats[:, axes], md["mean"], md["scale"], centres)
        nearest = d.argmin(1)
        for c in range(k):
            assert me[c] == d[nearest == c, c].max()


# --- through the impulse and the bundle ----------------------------------------------------

@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    out = tmp_path_factory.mktemp("fit") / "bundle"
    rep = fit_bundle(BUNDLE, [DATA], clusters=8, seed=0, out=out, hmac_key=KEY)
    return rep


def test_every_training_window_scores_at_most_zero_through_impulse(fitted):
    imp = Impulse.load(fitted.bundle)
    with Dataset(DATA, index_path=":memory:", hmac_key=KEY) as ds:
        rows = [r for r in ds.query(SampleFilter(category="training")) if r.error is None]
        scores = []
        for row in rows:
            if row.path.endswith("noise.csv"):
                continue
            s = ds.load(row)
            res = imp.classify(s.values, frequency=s.frequency,
                               axes=list(s.axes))
            scores.append(res.anomaly)
    scores = np.concatenate(scores)
    assert len(scores) == fitted.windows == 87
    assert scores.max() == 0.0 == fitted.max_training_score
    assert fitted.recordings == 12
    assert [n for n, _ in fitted.skipped] == ["training/noise.csv"]


def test_unlike_data_scores_high(fitted):
    imp = Impulse.load(fitted.bundle)
    ref = json.loads((BUNDLE / "ei-sdk-reference.json").read_text())["windows"]
    raw = np.asarray(ref[1]["raw"]).reshape(125, 3)
    base = imp.classify(raw).anomaly[0]
    shaken = raw.copy()
    shaken[:, 0] += 5.0 * np.sin(2 * np.pi * 3.0 * np.arange(125) / 62.5)   # 3 Hz on accX only
    assert imp.classify(shaken).anomaly[0] > 1.0 and base <= 0.0


def test_metadata_and_block(fitted):
    md = fitted.metadata
    assert fitted.axes == md["axes"] == [0, 11, 22]      # the bundle's existing axes
    assert fitted.axis_names == ["accX RMS", "accY RMS", "accZ RMS"]
    assert len(md["clusters"]) == 8 and all(len(c["center"]) == 3 for c in md["clusters"])
    assert md["thresholds"][0]["key"] == "min_anomaly_score"
    assert md["thresholds"][0]["value"] == 0.3
    written = json.loads((fitted.bundle / "anomaly-4.json").read_text())
    assert written == md
    imp_json = json.loads((fitted.bundle / "impulse.json").read_text())
    block = next(b for b in imp_json["learn"] if b["id"] == 4)
    assert block == fitted.block and block["metadata"] == "anomaly-4.json"
    # the source bundle is untouched
    assert json.loads((BUNDLE / "anomaly-4.json").read_text())["clusters"] != md["clusters"]
    from edgeimpulse_api.models.anomaly_model_metadata_response import \
        AnomalyModelMetadataResponse
    assert_declared(AnomalyModelMetadataResponse, md)


def test_metadata_through_the_official_client(fitted, threshold_value_fix):
    """threshold_value_fix: the documented BlockThresholdValue.from_json bug of the client."""
    body = (fitted.bundle / "anomaly-4.json").read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            ok = self.path.startswith("/v1/api/43/training/anomaly/4/metadata")
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) if ok else 0))
            self.end_headers()
            if ok:
                self.wfile.write(body)

        def log_message(self, *a):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        from edgeimpulse_api import ApiClient, Configuration, LearnApi
        cfg = Configuration(host=f"http://127.0.0.1:{httpd.server_address[1]}/v1")
        cfg.api_key["ApiKeyAuthentication"] = "test"
        got = LearnApi(ApiClient(cfg)).get_anomaly_metadata(43, 4)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert type(got).__name__ == "AnomalyModelMetadataResponse"
    assert got.axes == [0, 11, 22] and len(got.clusters) == 8
    assert got.clusters[0].max_error == fitted.metadata["clusters"][0]["maxError"]
    assert got.thresholds[0].value.actual_instance == 0.3


def test_new_block_when_the_bundle_has_none(tmp_path):
    src = tmp_path / "no-anomaly"
    shutil.copytree(BUNDLE, src)
    doc = json.loads((src / "impulse.json").read_text())
    doc["learn"] = [b for b in doc["learn"] if b["type"] != "anomaly"]
    (src / "impulse.json").write_text(json.dumps(doc))
    (src / "anomaly-4.json").unlink()
    files = [DATA / "training" / f"idle.{i}.json" for i in (14, 15, 17, 18, 19)] + \
        [DATA / "training" / "idle.long.json"]
    rep = fit_bundle(src, files, clusters=4, seed=1)       # in place
    assert rep.bundle == src and rep.block["id"] == 4 and rep.block["dsp"] == [2]
    assert rep.axes == [0, 11, 22]                 # the RMS features by name
    imp = Impulse.load(src)
    assert [b.spec.type for b in imp.learn_blocks] == ["keras", "anomaly"]
    raw = np.asarray(json.loads((DATA / "training" / "idle.14.json").read_text())
                     ["payload"]["values"])
    assert imp.classify(raw).anomaly[0] <= 0.0


def test_custom_axes_and_zip_bundle(tmp_path):
    z = tmp_path / "bundle.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in BUNDLE.iterdir():
            if f.is_file():
                zf.write(f, f"motion/{f.name}")
    with pytest.raises(BundleError, match="--out"):
        fit_bundle(z, [DATA], clusters=3)
    rep = fit_bundle(z, [DATA], clusters=3, axes=[0, 1, 11, 12], out=tmp_path / "out")
    assert rep.metadata["axes"] == [0, 1, 11, 12]
    assert rep.axis_names == ["accX RMS", "accX Skewness", "accY RMS", "accY Skewness"]
    assert rep.max_training_score <= 0.0
    Impulse.load(tmp_path / "out")
    with pytest.raises(BundleError, match="not empty"):
        fit_bundle(BUNDLE, [DATA], clusters=3, out=tmp_path / "out")


def test_no_usable_data(tmp_path):
    with pytest.raises(InputError, match="no usable training recordings"):
        fit_bundle(BUNDLE, [DATA / "training" / "noise.csv"], clusters=2,
                   out=tmp_path / "o")


def test_a_dataset_folder_is_decoded_once(tmp_path, monkeypatch):
    """A folder's recordings reach the features through its index (Dataset.load hands out
    what indexing decoded): every document is decoded once, not again by path."""
    import edgert.recording.files as recording_files
    real = recording_files.decode_verified
    decoded = []

    def counting(data, *args, **kwargs):
        decoded.append(len(data))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(recording_files, "decode_verified", counting)
    rep = fit_bundle(BUNDLE, [DATA], clusters=3, out=tmp_path / "o")
    documents = [f for f in DATA.rglob("*") if f.suffix in (".json", ".cbor")
                 and not f.name.endswith(".metadata.json")
                 and not any(part.startswith(".") for part in f.relative_to(DATA).parts)]
    assert rep.recordings > 0 and len(documents) > rep.recordings
    assert len(decoded) == len(documents)


def test_cli_fit_json(tmp_path, capsys, caplog):
    out = tmp_path / "cli-bundle"
    rc = cli_main(["-q", "anomaly", "fit", str(BUNDLE), str(DATA), "--clusters", "5",
                   "--seed", "3", "--out", str(out), "--json"])
    assert rc == 0
    md = json.loads(capsys.readouterr().out)
    assert len(md["clusters"]) == 5 and md["axes"] == [0, 11, 22]
    assert json.loads((out / "anomaly-4.json").read_text()) == md
    rc = cli_main(["anomaly", "fit", str(BUNDLE), str(DATA), "--clusters", "500",
                   "--out", str(tmp_path / "x")])
    assert rc == 1
    assert "fewer than the 500 clusters" in caplog.text


def test_block_id_choices(tmp_path):
    with pytest.raises(BundleError, match="not a K-means"):
        fit_bundle(BUNDLE, [DATA], clusters=3, block_id=3, out=tmp_path / "a")   # keras
    with pytest.raises(BundleError, match="DSP block"):
        fit_bundle(BUNDLE, [DATA], clusters=3, block_id=2, out=tmp_path / "b")
    rep = fit_bundle(BUNDLE, [DATA], clusters=3, block_id=9, out=tmp_path / "c")
    imp = Impulse.load(tmp_path / "c")                   # a second K-means block, id 9
    assert [b.spec.id for b in imp.learn_blocks] == [3, 4, 9]
    assert rep.block["metadata"] == "anomaly-9.json" and rep.max_training_score <= 0.0
