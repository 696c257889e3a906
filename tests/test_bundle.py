"""Bundle loading: the example bundles load (directory and zip); every broken variant of them
is refused at load time with a BundleError naming the file and the field."""
from __future__ import annotations

import json
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
    (lambda d: d["dsp"][0].update(type="mfcc"), r"dsp\[0\].type", "unsupported DSP block type"),
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
    (lambda d: d["input"].update(window_size_ms=1e20), "input.window_size_ms", "2\\^31"),
    (lambda d: d["input"].update(window_increase_ms=1e308), "input.window_increase_ms",
     "2\\^31"),
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
    with pytest.raises(BundleError, match="nn-i8.tflite: not a readable TFLite model"):
        load_bundle(b)


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
