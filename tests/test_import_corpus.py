"""Acceptance of `edgert import` on real Edge Impulse exports (tests/data/exports, provenance in
SOURCES.md there): every supported export imports into a bundle that classifies a synthetic
recording of its axes and frequency, with

- DSP features equal to the numpy references (tests/reference: spectral v2-v4, v1, the audio
  blocks' audio_ref; raw and flatten written out here) on the imported configuration,
- the network equal to the tflite-micro interpreter on the imported (or EON-rebuilt) model,
  bit for bit for int8 and within 1e-5 for float32,
- the anomaly score equal to the K-means formula on the imported clusters;

and every unsupported export is refused with the block named."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.stats

from edgert.engine import dequantize, quantize
from edgert.importer.bundle_writer import import_export
from edgert.importer.source import ExportError
from edgert.runtime.impulse import Impulse
from tests.oracles import MicroOracle
from tests.reference import audio_ref, spectral_ref, spectral_v1_ref

DATA = Path(__file__).parent / "data" / "exports"
SUPPORTED = sorted(p.name for p in DATA.iterdir() if p.is_dir() and
                   not p.name.startswith("unsupported-"))
UNSUPPORTED = {
    "unsupported-image-2021": "image impulse",
}
AUDIO = ("mfcc", "mfe", "spectrogram")


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("imported")
    bundles = {}
    for name in SUPPORTED:
        rep = import_export(str(DATA / name), str(out / name))
        bundles[name] = Path(rep.bundle)
    return bundles


def test_corpus_is_large_enough():
    assert len(SUPPORTED) >= 15


def _recording(imp: Impulse, seed: int) -> np.ndarray:
    """Three windows' worth of smooth random motion plus noise, one column per axis (for an
    audio impulse: int16-scale sound - harmonic stacks gliding in pitch, hum and hiss)."""
    rng = np.random.default_rng(seed)
    n = imp.window_samples * 3 + 7
    t = np.arange(n) / imp.frequency
    if any(d.spec.type in AUDIO for d in imp.dsp_blocks):
        return _sound(rng, t, len(imp.axes), imp.frequency)
    cols = []
    for a in range(len(imp.axes)):
        f = rng.uniform(0.05, 0.45) * imp.frequency
        cols.append(rng.uniform(0.5, 5) * np.sin(2 * np.pi * f * t + rng.uniform(0, 6))
                    + rng.normal(0, 0.5, n) + rng.uniform(-2, 2))
    return np.stack(cols, axis=1).astype(np.float32)


def _sound(rng: np.random.Generator, t: np.ndarray, n_axes: int, fs: float) -> np.ndarray:
    cols = []
    for _ in range(n_axes):
        f0 = rng.uniform(90, 250) * (1 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t))
        phase = 2 * np.pi * np.cumsum(f0) / fs
        x = sum(rng.uniform(200, 3000) / k * np.sin(k * phase) for k in range(1, 12)
                if k * 300 < fs / 2)
        x = x * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(1, 4) * t)) \
            + 400 * np.sin(2 * np.pi * 50 * t) + rng.normal(0, 60, t.size)
        cols.append(np.clip(np.round(x), -32768, 32767))
    return np.stack(cols, axis=1).astype(np.float32)


def _flatten_ref(x: np.ndarray, params: dict) -> list[float]:
    x = x.astype(np.float64) * float(params.get("scale-axes", 1.0))
    out = []
    on = {k: bool(params.get(k, True)) for k in
          ("average", "minimum", "maximum", "rms", "stdev", "skewness", "kurtosis")}
    if on["average"]:
        out.append(x.mean())
    if on["minimum"]:
        out.append(x.min())
    if on["maximum"]:
        out.append(x.max())
    if on["rms"]:
        out.append(np.sqrt(np.mean(x * x)))
    if on["stdev"]:
        out.append(x.std())
    if on["skewness"]:
        out.append(scipy.stats.skew(x) if x.std() > 0 else 0.0)
    if on["kurtosis"]:
        out.append(scipy.stats.kurtosis(x) if x.std() > 0 else -3.0)
    return out


def _reference_features(block, frequency: float, window: np.ndarray) -> np.ndarray:
    p = dict(block.params)
    if block.type in AUDIO:
        return audio_ref.features(block.type, block.implementation_version, p, frequency,
                                  window[:, 0])[0]
    if block.type == "raw":
        return (window.astype(np.float64) * float(p.get("scale-axes", 1.0))).reshape(-1)
    if block.type == "flatten":
        return np.array([v for a in range(window.shape[1]) for v in _flatten_ref(window[:, a], p)])
    if block.implementation_version == 1:
        edges = [float(e) for e in str(p.get("spectral-power-edges",
                                             "0.1, 0.5, 1.0, 2.0, 5.0")).split(",")]
        return np.concatenate([spectral_v1_ref.v1_axis(
            window[:, a], frequency, scale=float(p.get("scale-axes", 1.0)),
            filter_type=str(p.get("filter-type", "none")),
            cutoff=float(p.get("filter-cutoff", 3.0)), order=int(p.get("filter-order", 0)),
            fft_length=int(p.get("fft-length", 16)),
            peaks_count=int(p.get("spectral-peaks-count", 3)),
            peaks_threshold=float(p.get("spectral-peaks-threshold", 0.1)), edges=edges)
            for a in range(window.shape[1])])
    return spectral_ref.spectral_features(window.reshape(-1), window.shape[1], frequency, p,
                                          block.implementation_version)


def _kmeans_ref(meta: dict, feats: np.ndarray) -> np.ndarray:
    x = feats[:, meta["axes"]].astype(np.float32)
    z = (x - np.float32(meta["mean"])) / np.float32(meta["scale"])
    c = np.array([cl["center"] for cl in meta["clusters"]], np.float32)
    e = np.array([cl["maxError"] for cl in meta["clusters"]], np.float32)
    d = np.sqrt(((z[:, None, :].astype(np.float64) - c[None]) ** 2).sum(axis=2)) - e[None]
    return np.minimum(d.min(axis=1), 1000.0)   # the SDK starts its minimum search at 1000


@pytest.mark.parametrize("name", SUPPORTED)
def test_export_imports_and_classifies_like_the_references(imported, name):
    imp = Impulse.load(imported[name], backend="native")
    data = _recording(imp, seed=len(name))
    res = imp.classify(data, frequency=imp.frequency)
    assert len(res) >= 3
    starts = res.start_rows.tolist()
    W = imp.window_samples
    # DSP: every block against its reference on the imported configuration
    ordered = {}
    for d in imp.dsp_blocks:
        cols = [list(imp.axes).index(a) for a in d.spec.axes]
        got = res.features[d.spec.id] if d.spec.id in res.features else \
            imp.compute_features(res.data, res.start_rows)[d.spec.id]
        want = np.stack([_reference_features(d.spec, imp.frequency,
                                             res.data[s:s + W][:, cols]) for s in starts])
        assert got.shape == want.shape, name
        err = np.abs(np.asarray(got, np.float64) - want) / np.maximum(1, np.abs(want))
        assert err.max() <= 1e-4, (f"{name}: dsp {d.spec.id} {d.spec.type}: worst relative "
                                   f"error {err.max():.3g} at {np.unravel_index(err.argmax(), err.shape)}")
        ordered[d.spec.id] = np.asarray(got, np.float32)
    for spec in imp.bundle.learn:
        x = np.concatenate([ordered[i] for i in spec.dsp], axis=1)
        if spec.type == "keras":
            (variant, mf), = spec.models.items()
            oracle = MicroOracle(mf.data)
            t_in, t_out = mf.inputs[0], mf.outputs[0]
            if t_in.dtype == "int8":
                q = quantize(x, t_in.scale, t_in.zero_point).reshape((len(x),) + t_in.shape[1:])
                y = oracle.invoke_batch(q)[0].reshape(len(x), -1)
                want = dequantize(y, t_out.scale, t_out.zero_point) if t_out.dtype == "int8" else y
                np.testing.assert_array_equal(res.outputs[spec.id], want, err_msg=name)
            else:
                y = oracle.invoke_batch(x.reshape((len(x),) + t_in.shape[1:]))[0]
                y = y.reshape(len(x), -1)
                if t_out.dtype == "int8":
                    y = dequantize(y, t_out.scale, t_out.zero_point)
                np.testing.assert_allclose(res.outputs[spec.id], y, rtol=1e-5, atol=1e-6,
                                           err_msg=name)
        elif spec.type == "anomaly":
            np.testing.assert_allclose(res.outputs[spec.id], _kmeans_ref(spec.metadata, x),
                                       rtol=1e-5, atol=1e-5, err_msg=name)


def test_bundles_carry_provenance(imported):
    for name, path in imported.items():
        doc = json.loads((path / "impulse.json").read_text())
        prov = doc["provenance"]
        assert prov["export_path"].endswith(name) and prov["sdk_era"]
        assert {f["path"] for f in prov["files"]} >= {"model-parameters/model_metadata.h"}
        assert Impulse.load(path).describe()["provenance"]["sdk_era"] == prov["sdk_era"]


@pytest.mark.parametrize("name,words", sorted(UNSUPPORTED.items()))
def test_unsupported_exports_are_refused_naming_the_block(tmp_path, name, words):
    with pytest.raises(ExportError, match="edgert runs spectral-analysis") as err:
        import_export(str(DATA / name), str(tmp_path / "b"))
    assert words in str(err.value)
    assert not (tmp_path / "b").exists()


def test_the_audio_exports_are_in_the_corpus(imported):
    """Every audio block type and the SDK layouts they came in: typedef (2021), comments
    (2023), comments with named axes (2024+); versions as exported."""
    seen = {}
    for name, path in imported.items():
        doc = json.loads((path / "impulse.json").read_text())
        for d in doc["dsp"]:
            if d["type"] in AUDIO:
                seen[name] = (d["type"], d["implementation_version"])
                # Studio's audio keys (underscores), nothing of the struct's wiring
                assert set(d["params"]) <= set(audio_ref.DEFAULTS[d["type"]]), name
    assert seen == {"arribada-kws-mfcc-2021": ("mfcc", 2),
                    "cn0549-spectrogram-2023": ("spectrogram", 3),
                    "pump-mfe-2023": ("mfe", 3), "esp32-kws-2026": ("mfcc", 4)}
    kws = json.loads((imported["esp32-kws-2026"] / "impulse.json").read_text())
    assert kws["input"]["axes"] == ["audio"] and kws["input"]["frequency"] == 16000
    assert kws["dsp"][0]["params"] == {
        "num_cepstral": 13, "frame_length": 0.02, "frame_stride": 0.02, "num_filters": 32,
        "fft_length": 256, "win_size": 101, "low_frequency": 0, "high_frequency": 0,
        "pre_cof": 0.98, "pre_shift": 1}
    # a 2021 export has no axis names: a microphone's one axis is called audio, as WAV
    # files and the firmware call it
    old = json.loads((imported["arribada-kws-mfcc-2021"] / "impulse.json").read_text())
    assert old["input"]["axes"] == ["audio"]
    assert old["dsp"][0]["params"]["low_frequency"] == 300


@pytest.mark.parametrize("how", ["named axes", "no comments"])
def test_2024_audio_layouts_with_named_axes_or_without_comments(tmp_path, how):
    """2024+ configs name their axes (`ei_dsp_config_12_named_axes, // named axes`): wiring,
    not a parameter. An export whose comments are gone is read by the known layout."""
    src = tmp_path / "export"
    shutil.copytree(DATA / "esp32-kws-2026", src)
    mv = src / "model-parameters" / "model_variables.h"
    text = mv.read_text()
    if how == "named axes":
        text = text.replace(
            "ei_dsp_config_mfcc_t ei_dsp_config_44_12 = {",
            'ei_dsp_named_axis_t ei_dsp_config_44_12_named_axes[] = {\n'
            '    { .name = "Signal", .axis = 0 }\n};\n'
            "size_t ei_dsp_config_44_12_named_axes_size = 1;\n"
            "ei_dsp_config_mfcc_t ei_dsp_config_44_12 = {")
        text = text.replace("NULL, // named axes", "ei_dsp_config_44_12_named_axes, // named axes")
        text = text.replace("0, // size of the named axes array",
                            "ei_dsp_config_44_12_named_axes_size, // size of the named axes array")
        assert "ei_dsp_config_44_12_named_axes, // named axes" in text
    else:
        start = text.index("ei_dsp_config_mfcc_t ei_dsp_config_44_12 = {")
        end = text.index("};", start)
        block = "\n".join(line.split("//")[0].rstrip() for line in
                          text[start:end].splitlines())
        text = text[:start] + block + text[end:]
        assert "// int num_cepstral" not in text
    mv.write_text(text)
    doc = json.loads((Path(import_export(str(src), str(tmp_path / "b")).bundle) /
                      "impulse.json").read_text())
    want = json.loads((Path(import_export(str(DATA / "esp32-kws-2026"),
                                          str(tmp_path / "ref")).bundle) /
                       "impulse.json").read_text())
    assert doc["dsp"] == want["dsp"]


def test_a_syntiant_audio_front_end_is_refused(tmp_path):
    """The Syntiant NDP's log-mel block (extract_audio_syntiant_features) is not MFCC/MFE."""
    src = tmp_path / "export"
    shutil.copytree(DATA / "esp32-kws-2026", src)
    mv = src / "model-parameters" / "model_variables.h"
    mv.write_text(mv.read_text().replace("extract_mfcc_features",
                                         "extract_audio_syntiant_features"))
    with pytest.raises(ExportError, match="Syntiant NDP") as err:
        import_export(str(src), str(tmp_path / "b"))
    assert "DSP block 12 (audio syntiant" in str(err.value)


def test_eon_rebuild_equals_the_plain_tflite_of_the_same_model(imported):
    """st-motion-demo-2026 is Edge Impulse's motion demo EON-compiled; tests/data/motion-demo
    has the same network as a .tflite and the same K-means clusters: outputs are equal."""
    ours = Impulse.load(imported["st-motion-demo-2026"], backend="native")
    plain = Impulse.load(Path(__file__).parent / "data" / "motion-demo", backend="native")
    k_ours = next(b for b in ours.bundle.learn if b.type == "keras").models["int8"]
    k_plain = next(b for b in plain.bundle.learn if b.type == "keras").models["int8"]
    rng = np.random.default_rng(7)
    X = rng.integers(-128, 128, size=(300, 33)).astype(np.int8)
    a = MicroOracle(k_ours.data).invoke_batch(X)[0]
    b = MicroOracle(k_plain.data).invoke_batch(X)[0]
    np.testing.assert_array_equal(a, b)
    a_meta = next(b for b in ours.bundle.learn if b.type == "anomaly").metadata
    p_meta = next(b for b in plain.bundle.learn if b.type == "anomaly").metadata
    assert a_meta["axes"] == p_meta["axes"]
    for c1, c2 in zip(a_meta["clusters"], p_meta["clusters"]):
        np.testing.assert_allclose(c1["center"], c2["center"], rtol=1e-6)
    # the imported DSP configuration gives the demo's features on the same windows
    data = ours.prepare(_recording(ours, 3), ours.frequency)
    starts = np.arange(0, data.shape[0] - ours.window_samples, 5, dtype=np.int64)
    f1 = ours.compute_features(data, starts)[ours.dsp_blocks[0].spec.id]
    f2 = plain.compute_features(data, starts)[plain.dsp_blocks[0].spec.id]
    np.testing.assert_array_equal(f1, f2)


def test_a_class_named_anomaly_is_kept_apart_from_the_anomaly_score(imported):
    imp = Impulse.load(imported["vibracion-lija-2020"])
    assert "anomaly" in imp.bundle.learn[0].labels
    res = imp.classify(_recording(imp, 1), frequency=imp.frequency)
    assert res.names.anomaly_key == "anomaly score"
    doc = res.to_studio_json()
    first = doc["classifications"][0]["result"][0]
    assert set(first) == {"anomaly", "moving", "stop", "anomaly score"}
    assert first["anomaly"] == pytest.approx(float(res.probabilities[0][0]), rel=1e-6)
    assert first["anomaly score"] == pytest.approx(float(res.anomaly[0]), rel=1e-6)
    preds = set(res.predictions.tolist())
    assert preds <= {"anomaly", "moving", "stop", "anomaly (detected)",
                     "uncertain (below min_score)", "uncertain"}
    res.anomaly_threshold = -1e9  # every window anomalous: the prediction is not the label
    from edgert.runtime.results import predict_labels
    p = predict_labels(res.labels, res.probabilities, res.anomaly, 0.0, -1e9, len(res),
                       res.names)
    assert set(p.tolist()) == {"anomaly (detected)"}
