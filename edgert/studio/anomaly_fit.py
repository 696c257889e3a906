"""On-gateway K-means anomaly training (``edgert anomaly fit``).

Studio's K-means anomaly block is trained in the cloud; its training code is not public. This
is ours, written so that the result is exactly what the runtime scorer expects
(``spec/anomaly-windowing-quantization.md``):

1. Features: the DSP features of every window of the known-good recordings, computed by the
   impulse itself (the same DSP code that runs at inference), concatenated over the learn
   block's DSP blocks in order.
2. Axes: the chosen feature indices (default: the bundle's existing anomaly axes, else the RMS
   feature of every sensor axis of each spectral-analysis block).
3. StandardScaler on those axes: ``mean``, ``scale`` = population standard deviation (1 where
   a feature is constant, as scikit-learn does).
4. K-means in float64 numpy: greedy k-means++ seeding (first centre uniform, then each centre
   the best of ``2 + ln k`` candidates drawn with probability proportional to the squared
   distance to the nearest chosen centre) from ``numpy.random.default_rng(seed)``, then Lloyd
   iterations until no assignment changes (an emptied cluster is re-seeded with the point
   farthest from its centre).
5. ``maxError`` of a cluster = the largest distance of a member to its centre, computed the way
   the runtime scorer (and Edge Impulse's SDK) computes it - parameters rounded to float32,
   ``z = (x - mean) / scale`` in float32, each ``(z - c)^2`` added in double and stored back to
   float in axis order, ``sqrtf`` - so every training window scores ``<= 0`` (inside its own
   cluster) with the runtime's scorer, bit for bit.

The output is a metadata document in the format of Studio's ``GET .../training/anomaly/
{learnId}/metadata`` (seed 003) and the bundle's learn-block entry pointing to it.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import json
import logging
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import BundleError, ConfigurationError, EdgertError as EdgertErrorBase, InputError

if TYPE_CHECKING:  # pragma: no cover
    from ..recording import Recording

log = logging.getLogger(__name__)

__all__ = ["StandardScaler", "kmeans_plus_plus", "lloyd", "fit_kmeans", "score_float32",
           "cluster_distances_float32", "fit_anomaly_metadata", "anomaly_learn_block",
           "write_bundle", "fit_bundle", "FitReport", "default_axes", "learn_input_labels",
           "DEFAULT_THRESHOLD", "MAX_ITER"]

DEFAULT_THRESHOLD = 0.3
MAX_ITER = 300


class StandardScaler:
    """``(x - mean) / scale`` with population statistics; constant features get scale 1."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray) -> None:
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)

    @classmethod
    def fit(cls, x: np.ndarray) -> "StandardScaler":
        x = np.asarray(x, dtype=np.float64)
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        return cls(mean, scale)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.scale


def _sq_dists(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances (n, k), exact enough for assignments (float64)."""
    d = (x * x).sum(1)[:, None] - 2.0 * x @ centers.T + (centers * centers).sum(1)[None, :]
    return np.maximum(d, 0.0)


def kmeans_plus_plus(x: np.ndarray, k: int, rng: np.random.Generator,
                     trials: Optional[int] = None) -> np.ndarray:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007; the greedy variant scikit-learn
    uses): the first centre uniformly at random, then for each next centre ``trials``
    (default ``2 + int(ln k)``) candidates drawn with probability proportional to the squared
    distance to the nearest chosen centre, keeping the candidate that lowers the total squared
    distance most. Plain k-means++ (``trials=1``) puts two seeds in one cluster now and then."""
    n = x.shape[0]
    trials = max(1, int(trials if trials is not None else 2 + int(np.log(k))))
    centers = np.empty((k, x.shape[1]), dtype=np.float64)
    centers[0] = x[rng.integers(n)]
    closest = _sq_dists(x, centers[:1])[:, 0]
    for i in range(1, k):
        total = closest.sum()
        if not total > 0:
            raise InputError(f"the training features have only {i} distinct points, fewer "
                             f"than the {k} clusters asked for; use --clusters {i} or fewer, "
                             "or more (and more varied) recordings")
        cand = rng.choice(n, size=trials, p=closest / total)
        cand_d = np.minimum(closest[:, None], _sq_dists(x, x[cand]))
        best = int(cand_d.sum(axis=0).argmin())
        centers[i] = x[cand[best]]
        closest = cand_d[:, best]
    return centers


def lloyd(x: np.ndarray, centers: np.ndarray,
          max_iter: int = MAX_ITER) -> Tuple[np.ndarray, np.ndarray, int]:
    """Lloyd iterations until no assignment changes; returns (centers, labels, iterations)."""
    centers = centers.copy()
    k = centers.shape[0]
    labels = np.full(x.shape[0], -1, dtype=np.int64)
    for it in range(1, max_iter + 1):
        d = _sq_dists(x, centers)
        new = d.argmin(axis=1)
        counts = np.bincount(new, minlength=k)
        for c in np.flatnonzero(counts == 0):
            # Re-seed an empty cluster with the point farthest from its own centre.
            far = int(d[np.arange(len(new)), new].argmax())
            new[far] = c
            centers[c] = x[far]
            d[far] = 0.0
            counts = np.bincount(new, minlength=k)
        if np.array_equal(new, labels):
            return centers, labels, it
        labels = new
        sums = np.zeros_like(centers)
        np.add.at(sums, labels, x)
        centers = sums / np.bincount(labels, minlength=k)[:, None]
    log.warning("K-means did not converge in %d iterations; using the last centres", max_iter)
    return centers, labels, max_iter


def fit_kmeans(x: np.ndarray, k: int, seed: int = 0,
               max_iter: int = MAX_ITER) -> Tuple[np.ndarray, np.ndarray]:
    """K-means (k-means++ seeding, Lloyd to convergence); returns (centers, labels)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise InputError("no training windows: give recordings at least one window long")
    if not np.all(np.isfinite(x)):
        raise InputError("the training features contain NaN or infinity")
    if k < 1:
        raise ConfigurationError(f"--clusters {k}: need at least 1 cluster")
    if x.shape[0] < k:
        raise InputError(f"{x.shape[0]} training windows are fewer than the {k} clusters asked "
                         f"for; use --clusters {x.shape[0]} or fewer, or more recordings")
    rng = np.random.default_rng(seed)
    centers, labels, it = lloyd(x, kmeans_plus_plus(x, k, rng), max_iter)
    log.info("K-means: %d points, %d clusters, converged after %d iterations",
             x.shape[0], k, it)
    return centers, labels


def cluster_distances_float32(features: np.ndarray, mean: np.ndarray, scale: np.ndarray,
                              centers: np.ndarray) -> np.ndarray:
    """Distances (n, k) as the runtime's float32 scorer computes them: ``z = (x - mean) /
    scale`` in float32; each square of ``z - center`` added in double and stored back to float,
    in axis order; ``sqrtf``."""
    x = np.asarray(features, dtype=np.float32)
    m = np.asarray(mean, dtype=np.float32)
    s = np.asarray(scale, dtype=np.float32)
    c = np.asarray(centers, dtype=np.float32)
    z = (x - m) / s
    acc = np.zeros((x.shape[0], c.shape[0]), dtype=np.float32)
    for a in range(c.shape[1]):
        diff = (z[:, a:a + 1] - c[None, :, a]).astype(np.float64)
        # the SDK's (and edgert's C) `dist += pow(z - c, 2)`: square and sum in double,
        # stored back to float each step
        acc = (acc.astype(np.float64) + diff * diff).astype(np.float32)
    return np.sqrt(acc)


def score_float32(features: np.ndarray, mean: np.ndarray, scale: np.ndarray,
                  centers: np.ndarray, max_error: np.ndarray) -> np.ndarray:
    """The K-means anomaly score of each row (min over clusters of distance - maxError, the
    running minimum starting at 1000), in float32 - a numpy model of the runtime scorer."""
    d = cluster_distances_float32(features, mean, scale, centers)
    s = (d - np.asarray(max_error, dtype=np.float32)[None, :]).min(axis=1)
    return np.minimum(s, np.float32(1000.0))


def fit_anomaly_metadata(features: np.ndarray, axes: Sequence[int], clusters: int, *,
                         seed: int = 0, threshold: float = DEFAULT_THRESHOLD,
                         created: Optional[datetime] = None) -> Dict[str, Any]:
    """Train on ``features`` (windows, all features of the block's input) restricted to
    ``axes``; returns the seed-003 metadata document."""
    feats = np.asarray(features, dtype=np.float32)
    if feats.ndim != 2:
        raise InputError(f"features must be (windows, features), got shape {feats.shape}")
    axes = [int(a) for a in axes]
    if not axes:
        raise ConfigurationError("--axes: give at least one feature index")
    bad = [a for a in axes if not 0 <= a < feats.shape[1]]
    if bad:
        raise ConfigurationError(f"--axes {bad}: the block's input has {feats.shape[1]} "
                                 f"features (indices 0..{feats.shape[1] - 1})")
    if len(set(axes)) != len(axes):
        raise ConfigurationError(f"--axes {axes}: an index is repeated")
    sel = feats[:, axes]
    scaler = StandardScaler.fit(sel.astype(np.float64))
    centers, _ = fit_kmeans(scaler.transform(sel), clusters, seed)
    mean32 = scaler.mean.astype(np.float32)
    scale32 = scaler.scale.astype(np.float32)
    centers32 = centers.astype(np.float32)
    d = cluster_distances_float32(sel, mean32, scale32, centers32)
    nearest = d.argmin(axis=1)
    max_err = np.zeros(clusters, dtype=np.float32)
    np.maximum.at(max_err, nearest, d[np.arange(len(nearest)), nearest])
    when = created or datetime.now(timezone.utc)
    return {
        "success": True,
        "created": when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{when.microsecond // 1000:03d}Z",
        "scale": [float(v) for v in scale32],
        "mean": [float(v) for v in mean32],
        "clusters": [{"center": [float(v) for v in centers32[i]], "maxError": float(max_err[i])}
                     for i in range(clusters)],
        "axes": axes,
        "defaultMinimumConfidenceRating": float(threshold),
        "availableModelTypes": ["float32"],
        "recommendedModelType": "float32",
        "hasTrainedModel": True,
        "thresholds": [threshold_entry(threshold)],
        "trainingWindows": int(feats.shape[0]),
    }


def threshold_entry(value: float) -> Dict[str, Any]:
    return {"key": "min_anomaly_score", "description": "Minimum anomaly score",
            "helpText": "Windows with an anomaly score above this value are reported as "
                        "anomalous.",
            "value": float(value)}


# --- bundles ---------------------------------------------------------------------------------

def _read_impulse_json(bundle: Path) -> Dict[str, Any]:
    try:
        return json.loads((bundle / "impulse.json").read_text(encoding="utf-8"))
    except OSError as exc:
        raise BundleError(f"{bundle / 'impulse.json'}: cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise BundleError(f"{bundle / 'impulse.json'}: not valid JSON ({exc})") from None


def anomaly_learn_block(impulse_json: Dict[str, Any], *,
                        block_id: Optional[int] = None) -> Tuple[Dict[str, Any], bool]:
    """The K-means block to (re)train: the block with ``block_id``, else the bundle's first
    ``anomaly`` block, else a new one (id = largest block id + 1, input = every DSP block).
    Returns (a copy of the entry, is_new)."""
    learn = impulse_json.get("learn") or []
    for blk in learn:
        if (block_id is None and blk.get("type") == "anomaly") or \
                (block_id is not None and blk.get("id") == block_id):
            if blk.get("type") != "anomaly":
                raise BundleError(f"impulse.json: learn block {block_id} is of type "
                                  f"{blk.get('type')!r}, not a K-means 'anomaly' block")
            return copy.deepcopy(blk), False
    ids = [int(b.get("id", 0)) for b in list(impulse_json.get("dsp") or []) + list(learn)]
    if block_id is not None and block_id in ids:
        raise BundleError(f"impulse.json: block id {block_id} is a DSP block; give a new id or "
                          "the id of a K-means block")
    if block_id is not None and block_id < 1:
        raise BundleError(f"--block-id {block_id}: block ids are >= 1")
    new_id = block_id if block_id is not None else max(ids + [0]) + 1
    return {"id": new_id, "type": "anomaly", "name": "Anomaly detection",
            "title": "Anomaly detection (K-means)",
            "dsp": [int(d["id"]) for d in impulse_json.get("dsp") or []],
            "thresholds": [{"key": "min_anomaly_score", "value": DEFAULT_THRESHOLD}]}, True


def write_bundle(bundle: Union[str, os.PathLike], out: Union[str, os.PathLike, None],
                 metadata: Dict[str, Any], block: Dict[str, Any], is_new: bool) -> Path:
    """Write the trained block into a bundle directory: ``out`` (a new bundle: impulse.json
    with the new learn entry, the new metadata, and the model and metadata files of the other
    blocks - nothing else of the source folder or zip) or, when ``out`` is None and
    ``bundle`` is a directory, ``bundle`` itself (its impulse.json and the block's metadata
    replaced). Files are written to temporary names and renamed, so a failure leaves the old
    bundle intact."""
    from ..runtime.bundle import IMPULSE_FILE, BundleFiles, bundle_file_names
    bundle = Path(bundle)
    in_place = out is None or (bundle.is_dir() and Path(out).resolve() == bundle.resolve())
    block = copy.deepcopy(block)
    meta_name = block.get("metadata") or f"anomaly-{block['id']}.json"
    block["metadata"] = meta_name
    if not block.get("thresholds"):
        block["thresholds"] = [{"key": "min_anomaly_score", "value": DEFAULT_THRESHOLD}]
    copies: Dict[str, bytes] = {}
    if in_place:
        if not bundle.is_dir():
            raise BundleError(f"{bundle} is a zip: give --out DIR for the updated bundle")
        dest = bundle
        impulse_json = _read_impulse_json(dest)
    else:
        dest = Path(out)  # type: ignore[arg-type]
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise BundleError(f"--out {dest}: exists and is not empty; choose a new folder")
        with BundleFiles(bundle) as files:
            try:
                impulse_json = json.loads(files.read(IMPULSE_FILE, "bundle"))
            except ValueError as exc:
                raise BundleError(f"{bundle}/{IMPULSE_FILE}: not valid JSON ({exc})") \
                    from None
            for name in bundle_file_names(impulse_json):
                if name != meta_name:
                    copies[name] = files.read(name, "learn")
    learn = list(impulse_json.get("learn") or [])
    if is_new:
        learn.append(block)
    else:
        learn = [block if b.get("id") == block["id"] else b for b in learn]
    impulse_json["learn"] = learn
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for name, data in copies.items():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(target, data)
        _atomic_write(dest / meta_name, json.dumps(metadata, indent=2) + "\n")
        _atomic_write(dest / IMPULSE_FILE, json.dumps(impulse_json, indent=2) + "\n")
    except OSError as exc:
        raise BundleError(f"{dest}: cannot write the bundle ({exc.strerror or exc})") \
            from None
    return dest


def _atomic_write(path: Path, data: Union[str, bytes]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    if isinstance(data, str):
        tmp.write_text(data, encoding="utf-8")
    else:
        tmp.write_bytes(data)
    os.replace(tmp, path)


# --- training from recordings ----------------------------------------------------------------

@dataclasses.dataclass
class FitReport:
    """What :func:`fit_bundle` did."""

    bundle: Path                      # the written bundle directory
    block: Dict[str, Any]             # its learn-block entry
    metadata: Dict[str, Any]          # the seed-003 document written
    axes: List[int]
    axis_names: List[str]
    recordings: int
    windows: int
    skipped: List[Tuple[str, str]]    # (file, reason) of recordings that could not be used
    max_training_score: float         # with the runtime scorer of the written bundle: <= 0


def learn_input_labels(impulse: Any, dsp_ids: Sequence[int]) -> List[str]:
    """Feature names of a learn block's input (its DSP blocks' features, concatenated)."""
    by_id = {d.spec.id: d for d in impulse.dsp_blocks}
    missing = [i for i in dsp_ids if i not in by_id]
    if missing:
        raise BundleError(f"impulse.json: the anomaly block uses DSP blocks {missing}, which "
                          "the bundle does not have")
    return [lab for i in dsp_ids for lab in by_id[i].labels]


def default_axes(impulse: Any, block: Dict[str, Any], labels: Sequence[str]) -> List[int]:
    """The existing block's axes, else the RMS feature of every axis."""
    existing = block.get("axes")
    if existing is None:
        for spec in impulse.bundle.learn:
            if spec.id == block.get("id") and spec.axes:
                existing = list(spec.axes)
    if existing:
        return [int(a) for a in existing]
    rms = [i for i, lab in enumerate(labels) if lab.lower().split()[-1:] == ["rms"]]
    if not rms:
        raise ConfigurationError("the DSP blocks have no RMS features to default to; choose "
                                 "the features with --axes (indices into: "
                                 + ", ".join(f"{i}={lab}" for i, lab in enumerate(labels[:40]))
                                 + (", ..." if len(labels) > 40 else "") + ")")
    return rms


def _iter_recordings(data: Sequence[Union[str, os.PathLike]], category: Optional[str],
                     labels: Optional[Sequence[str]], hmac_key: Optional[str],
                     open_datasets: contextlib.ExitStack):
    """(name, path, load, error) of every training recording: files as given (``load`` None),
    and the samples of dataset folders that pass ``category``/``labels`` (error: why the index
    could not read one). A folder's dataset stays open on ``open_datasets``; its ``load()``
    hands out the recording its index decoded (:meth:`Dataset.load`), not decoded again."""
    from ..dataset import Dataset, SampleFilter
    for item in data:
        p = Path(item)
        if p.is_dir():
            ds = open_datasets.enter_context(Dataset(p, index_path=":memory:",
                                                     hmac_key=hmac_key))
            flt = SampleFilter(category=category or "all", labels=labels)
            for row in ds.query(flt):
                yield row.path, p / row.path, functools.partial(ds.load, row), row.error
        elif p.is_file():
            yield str(p), p, None, None
        else:
            raise FileNotFoundError(2, "no such file or folder", str(p))


def recording_features(imp: Any, source: Union[str, os.PathLike, "Recording"],
                       dsp_ids: Sequence[int]) -> np.ndarray:
    """The anomaly block's input features (its DSP blocks' features concatenated, float32)
    of every window of one recording (a file path, or a decoded Recording); the unit of work
    of a local or Dask fit."""
    from ..recording import Recording, load_recording
    fr = imp.features(source if isinstance(source, Recording) else load_recording(source))
    parts = [fr.by_block[d] for d in dsp_ids]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)


def _features_local(imp: Any, sources: Sequence[Tuple[str, Path, Any]],
                    dsp_ids: Sequence[int], progress: bool):
    from tqdm import tqdm
    for name, path, load in tqdm(sources, desc="features", unit="recording",
                                 disable=not progress, leave=False):
        try:
            yield name, recording_features(imp, path if load is None else load(), dsp_ids), None
        except (ValueError, EdgertErrorBase) as exc:
            yield name, None, str(exc)


def features_batch(job: Any, dsp_ids: Sequence[int], paths: Sequence[Tuple[str, str]]
                   ) -> List[Tuple[str, Optional[Any], Optional[str]]]:
    """A Dask task of a distributed fit (runs on a worker): ``(name, feature rows or None,
    error)`` per recording, as :func:`recording_features` computes them."""
    from ..dataset.distributed import worker_impulse
    imp = worker_impulse(job.bundle, job.backend, job.fingerprint)
    out: List[Tuple[str, Optional[Any], Optional[str]]] = []
    for name, path in paths:
        try:
            out.append((name, recording_features(imp, path, dsp_ids), None))
        except (EdgertErrorBase, ValueError, OSError) as exc:
            out.append((name, None, str(exc)))
    return out


def features_on_cluster(impulse: Any, sources: Sequence[Tuple[str, Path]],
                        dsp_ids: Sequence[int], client: Any, progress: bool
                        ) -> List[Tuple[str, Optional[Any], Optional[str]]]:
    """The features of every recording in ``sources`` computed on the cluster, in the order of
    ``sources`` (the K-means seeding that follows depends on the order of the windows)."""
    from tqdm import tqdm
    from ..dataset.sample_classification import impulse_fingerprint
    from ..dataset.distributed import ClassifyJob, bundle_path, run_batches
    job = ClassifyJob(bundle_path(impulse), getattr(impulse, "backend", "auto"),
                      impulse_fingerprint(impulse), None)
    items = [(name, str(Path(path).resolve())) for name, path in sources]
    done: Dict[int, List[Tuple[str, Optional[Any], Optional[str]]]] = {}
    with tqdm(total=len(items), unit="recording", desc="features (dask)", disable=not progress,
              file=sys.stderr, leave=False) as bar:
        for number, outcomes in run_batches(client, features_batch, (job, list(dsp_ids)),
                                            items):
            done[number] = outcomes
            bar.update(len(outcomes))
    return [r for number in sorted(done) for r in done[number]]


def fit_bundle(bundle: Union[str, os.PathLike], data: Sequence[Union[str, os.PathLike]], *,
               clusters: int = 32, axes: Optional[Sequence[int]] = None, seed: int = 0,
               out: Union[str, os.PathLike, None] = None, category: Optional[str] = "training",
               labels: Optional[Sequence[str]] = None, hmac_key: Optional[str] = None,
               block_id: Optional[int] = None, progress: bool = False,
               client: Any = None) -> FitReport:
    """Train the bundle's K-means anomaly block on the recordings in ``data`` (files, or
    dataset folders whose samples pass ``category``/``labels``) and write the bundle (see
    :func:`write_bundle`). The written bundle is loaded back and every training window scored
    with the runtime scorer; ``max_training_score`` is the largest score (<= 0).

    ``client``: a ``distributed.Client``: the features of each recording are computed on its
    Dask workers (:mod:`edgert.dataset.distributed`); the K-means step stays here - it needs
    every training window at once and takes milliseconds on what the DSP leaves (a few
    thousand windows of a few features), while distributing it would change its seeding."""
    from ..runtime.impulse import Impulse
    imp = Impulse.load(bundle)
    block, is_new = anomaly_learn_block(_bundle_document(imp), block_id=block_id)
    dsp_ids = [int(d) for d in block["dsp"]]
    names = learn_input_labels(imp, dsp_ids)
    chosen = [int(a) for a in axes] if axes is not None else default_axes(imp, block, names)
    feats: List[np.ndarray] = []
    skipped: List[Tuple[str, str]] = []
    n_rec = 0
    sources = []
    with contextlib.ExitStack() as open_datasets:
        for name, path, load, err in _iter_recordings(data, category, labels, hmac_key,
                                                      open_datasets):
            if err is not None:
                skipped.append((name, err))
            else:
                sources.append((name, path, load))
        if client is not None:
            open_datasets.close()       # the workers read and decode the files themselves
            computed = features_on_cluster(imp, [(n, p) for n, p, _ in sources], dsp_ids,
                                           client, progress)
        else:
            computed = _features_local(imp, sources, dsp_ids, progress)
        for name, rows, err in computed:
            if rows is None:
                skipped.append((name, err or "unreadable"))
                continue
            feats.append(rows)
            n_rec += 1
    for name, why in skipped:
        log.warning("anomaly fit: skipping %s: %s", name, why)
    if not feats:
        raise InputError("no usable training recordings: "
                         + ("; ".join(f"{n}: {w}" for n, w in skipped[:5]) if skipped else
                            "DATA holds no recordings of the chosen category/labels"))
    x = np.concatenate(feats, axis=0).astype(np.float32)
    threshold = DEFAULT_THRESHOLD
    for t in block.get("thresholds") or []:
        if t.get("key") == "min_anomaly_score" and isinstance(t.get("value"), (int, float)):
            threshold = float(t["value"])
    metadata = fit_anomaly_metadata(x, chosen, clusters, seed=seed, threshold=threshold)
    dest = write_bundle(bundle, out, metadata, block, is_new)
    check = Impulse.load(dest)
    runner = next(b for b in check.learn_blocks if b.spec.id == block["id"])
    scores = runner.score(x)
    return FitReport(dest, next(b for b in json.loads((dest / "impulse.json").read_text())
                                ["learn"] if b["id"] == block["id"]),
                     metadata, chosen, [names[a] for a in chosen], n_rec, int(x.shape[0]),
                     skipped, float(np.max(scores)))


def _bundle_document(imp: Any) -> Dict[str, Any]:
    return json.loads(json.dumps(imp.bundle.document))
