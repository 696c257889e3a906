"""Bundle loading: the example bundles load (directory and zip); every broken variant of them
is refused at load time with a BundleError naming the file and the field."""
from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from edgert.runtime.bundle import load_bundle
from edgert.errors import BundleError

DATA = Path(__file__).parent / "data"
DEMO = DATA / "motion-demo"
V1 = DATA / "motion-demo-2020-v1"


def copy_bundle(tmp_path: Path, src: Path = DEMO) -> Path:
    dst = tmp_path / "bundle"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("ei-sdk-reference.json"))
    return dst


def edit(bundle: Path, fn) -> None:
    doc = json.loads((bundle / "impulse.json").read_text())
    fn(doc)
    (bundle / "impulse.json").write_text(json.dumps(doc))


def test_example_bundle_loads():
    b = load_bundle(DEMO)
    assert b.input.frequency == 62.5 and b.input.axes == ("accX", "accY", "accZ")
    assert [d.id for d in b.dsp] == [2]
    keras, anomaly = b.learn
    assert keras.labels == ("idle", "snake", "updown", "wave")
    m = keras.models["int8"]
    assert m.inputs[0].shape == (1, 33) and m.inputs[0].dtype == "int8"
    assert m.outputs[0].shape == (1, 4)
    assert anomaly.axes == (0, 11, 22) and len(anomaly.metadata["clusters"]) == 32
    assert keras.threshold("min_score") == 0.6
    assert anomaly.threshold("min_anomaly_score") == 0.3


def test_v1_bundle_loads():
    b = load_bundle(V1)
    assert b.dsp[0].implementation_version == 1
    assert b.learn[0].models["float32"].inputs[0].dtype == "float32"


def test_zip_bundle_loads(tmp_path):
    z = tmp_path / "demo.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in DEMO.iterdir():
            zf.write(f, f"motion-demo/{f.name}")
    b = load_bundle(z)
    assert b.learn[0].models["int8"].data == (DEMO / "nn-i8.tflite").read_bytes()


def test_not_a_zip(tmp_path):
    p = tmp_path / "x.zip"
    p.write_bytes(b"nope")
    with pytest.raises(BundleError, match="x.zip"):
        load_bundle(p)


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_damaged_zip_member(tmp_path, compression):
    """A zip whose model bytes are damaged (bad CRC when stored, broken deflate data when
    compressed) is a BundleError naming the zip and the member, not a zipfile/zlib error."""
    z = tmp_path / "demo.zip"
    with zipfile.ZipFile(z, "w", compression) as zf:
        for f in ("impulse.json", "anomaly-4.json", "nn-i8.tflite"):
            zf.write(DEMO / f, f)
    raw = bytearray(z.read_bytes())
    info = zipfile.ZipFile(z).getinfo("nn-i8.tflite")
    start = info.header_offset + 30 + len(info.filename)        # the member's data
    for k in range(40):
        raw[start + 50 + k] ^= 0x5A
    z.write_bytes(bytes(raw))
    with pytest.raises(BundleError, match=r"demo.zip: cannot read 'nn-i8.tflite'"):
        load_bundle(z)


def test_missing_path(tmp_path):
    with pytest.raises(BundleError, match="no such bundle"):
        load_bundle(tmp_path / "absent")


@pytest.mark.parametrize("mutate, field, msg", [
    (lambda d: d.update(format="edgert-impulse/2"), "format", "expected 'edgert-impulse/1'"),
    (lambda d: d["input"].pop("frequency"), "input.frequency", "is missing"),
    (lambda d: d["input"].update(frequency=-1), "input.frequency", "positive"),
    (lambda d: d["input"].update(axes=[]), "input.axes", "non-empty"),
    (lambda d: d["input"].update(type="image"), "input.type", "time-series"),
    (lambda d: d["dsp"][0].update(type="audio-syntiant"), r"dsp\[0\].type",
     "unsupported DSP block type"),
    (lambda d: d["dsp"][0].update(implementation_version=7),
     r"dsp\[0\].implementation_version", "1-4"),
    (lambda d: d["dsp"][0].update(axes=["accX", "gyrX"]), r"dsp\[0\].axes", "gyrX"),
    (lambda d: d["learn"][0].update(dsp=[99]), r"learn\[0\].dsp", "unknown DSP block id 99"),
    (lambda d: d["learn"][0].update(type="keras-regression"), r"learn\[0\].type",
     "unsupported learn block type"),
    (lambda d: d["learn"][0].update(labels=["a", "b", "c"]), r"learn\[0\].models.int8",
     "outputs 4 values per window but the block has 3 labels"),
    (lambda d: d["learn"][0].update(models={}), r"learn\[0\].models", "at least one"),
    (lambda d: d["learn"][0].update(models={"int4": "nn-i8.tflite"}), r"learn\[0\].models",
     "unknown variant 'int4'"),
    (lambda d: d["learn"][0].update(models={"float32": "missing.tflite"}),
     r"learn\[0\].models.float32", "missing.tflite"),
    (lambda d: d["learn"][1].update(metadata="nope.json"), r"learn\[1\].metadata", "nope.json"),
    (lambda d: d["learn"][1].update(id=3), r"learn\[1\].id", "used twice"),
    (lambda d: d["learn"][0].update(id=0), r"learn\[0\].id", ">= 1"),
    # sample counts the int32 C kernels cannot take: a load error, not an OverflowError later
    (lambda d: d["input"].update(window_size_ms=1e20), "input.window_size_ms",
     "at most 16,777,216"),
    (lambda d: d["input"].update(window_increase_ms=1e308), "input.window_increase_ms",
     "at most 16,777,216"),
    # absurd but int32-sized: bounded at load (not 15 GB and a minute of classify), the
    # limit said in the error
    (lambda d: d["input"].update(window_size_ms=1e10), "input.window_size_ms",
     r"6\.25e\+08 samples x 3 axes = 1\.875e\+09 values per window; edgert takes at most "
     "16,777,216"),
    (lambda d: d["input"].update(frequency=5e7, window_size_ms=200), "input.window_size_ms",
     "1e\\+07 samples x 3 axes"),
    (lambda d: d["input"].update(window_increase_ms=1e9), "input.window_increase_ms",
     "6.25e\\+07 samples; edgert takes at most 16,777,216"),
    # 0.5 samples rounds half up (Math.round) to one sample: accepted; 0.4 is refused
    (lambda d: d["input"].update(window_size_ms=6.4), "input.window_size_ms",
     "less than one sample"),
])
def test_bad_impulse_json(tmp_path, mutate, field, msg):
    b = copy_bundle(tmp_path)
    edit(b, mutate)
    with pytest.raises(BundleError) as ei:
        load_bundle(b)
    text = str(ei.value)
    assert "impulse.json" in text
    import re
    assert re.search(field, text), text
    assert re.search(msg, text), text


def test_not_json(tmp_path):
    b = copy_bundle(tmp_path)
    (b / "impulse.json").write_text("{")
    with pytest.raises(BundleError, match="impulse.json: not valid JSON"):
        load_bundle(b)


def test_corrupt_model(tmp_path):
    b = copy_bundle(tmp_path)
    (b / "nn-i8.tflite").write_bytes(b"\x00" * 64)
    with pytest.raises(BundleError, match="nn-i8.tflite: not a TFLite model .no 'TFL3'"):
        load_bundle(b)


def test_truncated_model_says_truncated(tmp_path):
    """A truncated .tflite says so (not "unpack_from requires a buffer of at least ... bytes",
    the struct module's words), at every length."""
    from edgert.errors import ModelError
    from edgert.runtime.impulse import Impulse
    b = copy_bundle(tmp_path)
    whole = (DEMO / "nn-i8.tflite").read_bytes()
    for n in list(range(0, 40)) + list(range(40, len(whole), 41)):
        (b / "nn-i8.tflite").write_bytes(whole[:n])
        with pytest.raises((BundleError, ModelError)) as ei:
            Impulse.load(b)     # what `edgert info` and `classify` do
        text = str(ei.value)
        assert "nn-i8.tflite: " in text, text
        assert re.search(r"truncated or corrupt TFLite|corrupt or truncated TFLite|"
                         r"only \d+ bytes: truncated", text), text
        assert "unpack_from" not in text and "buffer of at least" not in text, text


@pytest.mark.parametrize("mutate, field", [
    (lambda m: m.update(scale=m["scale"][:2]), "scale"),
    (lambda m: m.update(mean=[1, 2, "x"]), r"mean\[2\]"),
    (lambda m: m["clusters"][3].update(center=[0, 0]), r"clusters\[3\].center"),
    (lambda m: m["clusters"][0].pop("maxError"), r"clusters\[0\].maxError"),
    (lambda m: m.update(axes=[]), "axes"),
    (lambda m: m.update(clusters=[]), "clusters"),
    (lambda m: m.update(scale=[0, 1, 1]), r"scale\[0\]"),
    # values the float32 scorer would turn into infinity / indices beyond int32
    (lambda m: m.update(mean=[1e308, 0, 0]), r"mean\[0\].*float32"),
    (lambda m: m["clusters"][1].update(center=[0, -1e39, 0]), r"clusters\[1\].center\[1\]"),
    (lambda m: m["clusters"][2].update(maxError=1e300), r"clusters\[2\].maxError"),
    (lambda m: m.update(axes=[0, 11, 10**20]), "axes"),
])
def test_bad_anomaly_metadata(tmp_path, mutate, field):
    b = copy_bundle(tmp_path)
    md = json.loads((b / "anomaly-4.json").read_text())
    mutate(md)
    (b / "anomaly-4.json").write_text(json.dumps(md))
    with pytest.raises(BundleError) as ei:
        load_bundle(b)
    import re
    assert "anomaly-4.json" in str(ei.value)
    assert re.search(field, str(ei.value)), str(ei.value)


def test_quoted_axes_of_the_seed_are_accepted(tmp_path):
    b = copy_bundle(tmp_path)
    md = json.loads((b / "anomaly-4.json").read_text())
    md["axes"] = "`[ 0, 11, 22 ]`"
    (b / "anomaly-4.json").write_text(json.dumps(md))
    assert load_bundle(b).learn[1].axes == (0, 11, 22)


def test_features_only_bundle(tmp_path):
    b = copy_bundle(tmp_path)
    edit(b, lambda d: d.update(learn=[]))
    assert load_bundle(b).learn == ()


def test_half_a_sample_window_rounds_up_like_the_runtime(tmp_path):
    """The load-time check rounds half up, as edgert.runtime.windowing.window_geometry does: 8 ms at
    62.5 Hz is 0.5 samples -> a 1-sample window (Python's round() would make it 0)."""
    b = copy_bundle(tmp_path)
    edit(b, lambda d: d["input"].update(window_size_ms=8, window_increase_ms=8))
    assert load_bundle(b).input.window_size_ms == 8


# ------------------------------------------------------------------ hostile sizes at load
def _zip_bundle(path: Path, extra: dict) -> Path:
    """The demo bundle as a zip, with ``extra`` members replacing or adding files."""
    members = {f.name: f.read_bytes() for f in DEMO.iterdir()
               if f.is_file() and f.name != "ei-sdk-reference.json"}
    members.update(extra)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_zip_bomb_member_refused_before_inflating(tmp_path):
    """A member that inflates hundreds of times its stored size is refused by name, from
    the zip's directory, before a byte of it is inflated."""
    import tracemalloc
    z = _zip_bundle(tmp_path / "bomb.zip", {"nn-i8.tflite": bytes(48 << 20)})
    assert z.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(BundleError, match=r"'nn-i8.tflite' inflates from [\d,]+ to "
                                              r"50,331,648 bytes .*decompression bomb"):
            load_bundle(z)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak


def test_oversized_member_refused_by_name(tmp_path, monkeypatch):
    import edgert.runtime.bundle as bundle_mod
    monkeypatch.setattr(bundle_mod, "MAX_MEMBER_BYTES", 2000)
    b = copy_bundle(tmp_path)
    with pytest.raises(BundleError, match=r"'nn-i8.tflite' is 2,824 bytes, more than the "
                                          r"2,000 bytes a bundle file may have"):
        load_bundle(b)
    z = _zip_bundle(tmp_path / "b.zip", {})
    with pytest.raises(BundleError, match=r"'nn-i8.tflite' is 2,824 bytes"):
        load_bundle(z)


def test_zip_member_larger_than_its_header_says_is_refused(tmp_path):
    """The size check trusts the zip's directory; a member whose data inflates past the size
    it declares is cut at that size and fails its CRC: a BundleError, not a large read."""
    z = _zip_bundle(tmp_path / "b.zip", {})
    raw = bytearray(z.read_bytes())
    with zipfile.ZipFile(z) as zf:
        info = zf.getinfo("nn-i8.tflite")
    # lower the uncompressed size in the central directory entry and the local header
    real = info.file_size.to_bytes(4, "little")
    assert raw.count(real) >= 2
    raw = raw.replace(real, (100).to_bytes(4, "little"))
    z.write_bytes(bytes(raw))
    with pytest.raises(BundleError, match="nn-i8.tflite"):
        load_bundle(z)


def test_raw_block_feature_names_are_built_only_when_asked(tmp_path):
    """A raw block over a long window has one feature name per value; loading (what `edgert
    info` does) must not build them: 2 million names took ~0.3 GB and seconds at load."""
    import tracemalloc
    from edgert.runtime.impulse import Impulse
    b = tmp_path / "raw"
    b.mkdir()
    (b / "impulse.json").write_text(json.dumps({
        "format": "edgert-impulse/1",
        "input": {"frequency": 1e6, "axes": ["a"], "window_size_ms": 2000},
        "dsp": [{"id": 1, "type": "raw"}]}))
    tracemalloc.start()
    try:
        imp = Impulse.load(b)
        imp.describe()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert imp.dsp_blocks[0].n_features == 2_000_000
    assert peak < 16 << 20, peak
    # asked for, they are there
    small = tmp_path / "small"
    small.mkdir()
    (small / "impulse.json").write_text(json.dumps({
        "format": "edgert-impulse/1",
        "input": {"frequency": 10, "axes": ["a", "b"], "window_size_ms": 300},
        "dsp": [{"id": 1, "type": "raw"}]}))
    assert Impulse.load(small).feature_labels == ("a 0", "b 0", "a 1", "b 1", "a 2", "b 2")
