"""Hostile input for the parsers that take files from users: the bundle loader (impulse.json
values in every field, mutated bytes, mutated and hostile .zip bundles), the CSV reader and the
dataset's upload names. Each must return a result or raise its own EdgertError subclass
(BundleError / ModelError, InputError, DatasetError) - never ValueError, KeyError, OSError,
MemoryError or a struct/zip/json module error - and quickly. (The data-acquisition decoders
are fuzzed in test_acquisition_fuzz.py, the .tflite reader in test_engine_fuzz.py.)

Bounded in time: derandomized hypothesis runs of a few hundred examples each, a few seconds in
all on CI.
"""
from __future__ import annotations

import copy
import io
import json
import math
import shutil
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgert.errors import DatasetError, EdgertError, InputError
from edgert.recording import parse_csv
from edgert.runtime.impulse import Impulse

DATA = Path(__file__).parent / "data"
DEMO = DATA / "motion-demo"
DOC = json.loads((DEMO / "impulse.json").read_text())
FILES = {name: (DEMO / name).read_bytes() for name in ("nn-i8.tflite", "anomaly-4.json")}

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# ------------------------------------------------------------------------------ strategies
_scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-2**63, max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 1e10, 1e300, 5e7, 2**31, 2**53, 0.5, 1e-300, 62.5, 2000]),
    st.text(max_size=12),
    st.sampled_from(["", "accX", "nn-i8.tflite", "anomaly-4.json", "../x", "/etc/passwd",
                     "raw", "flatten", "spectral-analysis", "keras", "anomaly", "int8",
                     "float32", "time-series", "FFT", "Wavelet", "low", "none"]),
)
_values = st.recursive(_scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=8), kids, max_size=4)),
    max_leaves=12)


def _paths(doc, prefix=()):
    """Every (path) to a value in a JSON tree."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


PATHS = [p for p in _paths(DOC) if p]


def _set(doc, path, value):
    doc = copy.deepcopy(doc)
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return doc


def _load_dir(tmp: Path, impulse: bytes, files=FILES) -> None:
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    (tmp / "impulse.json").write_bytes(impulse)
    for name, data in files.items():
        (tmp / name).write_bytes(data)
    _load(tmp)


def _load(path: Path) -> None:
    """Impulse.load: the bundle loader, the DSP checks and the model reader/compiler."""
    try:
        Impulse.load(path)
    except EdgertError:
        pass


# ------------------------------------------------------------------------- impulse.json
@FUZZ
@given(st.sampled_from(PATHS), _values)
def test_impulse_json_any_value_in_any_field(tmp_path, path, value):
    _load_dir(tmp_path / "b", json.dumps(_set(DOC, path, value)).encode())


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(PATHS), _values), min_size=2, max_size=5))
def test_impulse_json_several_fields(tmp_path, edits):
    doc = DOC
    for path, value in edits:
        try:
            doc = _set(doc, path, value)
        except (KeyError, IndexError, TypeError):
            pass      # an earlier edit removed the parent: skip this one
    _load_dir(tmp_path / "b", json.dumps(doc).encode())


@FUZZ
@given(st.data())
def test_impulse_json_mutated_bytes(tmp_path, data):
    raw = bytearray(json.dumps(DOC).encode())
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    _load_dir(tmp_path / "b", bytes(raw[:cut]))


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["frequency", "window_size_ms", "window_increase_ms"]),
       st.floats(min_value=1e-300, max_value=1e300), st.sampled_from(["raw", "flatten"]))
def test_window_geometry_is_bounded_at_load(tmp_path, key, value, dsp_type):
    """Whatever the window numbers, loading answers at once: a usable impulse, or a
    BundleError (never a huge allocation for feature names or windows)."""
    doc = copy.deepcopy(DOC)
    doc["input"][key] = value
    doc["dsp"] = [{"id": 2, "type": dsp_type}]
    doc["learn"] = []
    _load_dir(tmp_path / "b", json.dumps(doc).encode(), files={})


# ---------------------------------------------------------------------------- zip bundles
def _zip(members: dict, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


ZIP = _zip({"motion/impulse.json": json.dumps(DOC).encode(),
            **{f"motion/{k}": v for k, v in FILES.items()}})


@FUZZ
@given(st.data())
def test_zip_bundle_mutated_bytes(tmp_path, data):
    raw = bytearray(ZIP)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    z = tmp_path / "b.zip"
    z.write_bytes(bytes(raw[:cut]))
    _load(z)


@FUZZ
@given(st.dictionaries(st.sampled_from(["impulse.json", "a/impulse.json", "nn-i8.tflite",
                                        "anomaly-4.json", "a/nn-i8.tflite", "../x", "a/"]),
                       st.binary(max_size=64), max_size=4))
def test_zip_bundle_hostile_members(tmp_path, members):
    z = tmp_path / "b.zip"
    z.write_bytes(_zip(members))
    _load(z)


# ------------------------------------------------------------------------------------ CSV
_cells = st.one_of(st.sampled_from(["0", "16", "1e39", "-1e39", "nan", "inf", "1e-320", "",
                                    " ", "1,5", '"1"', "0x10", "1e308", "3.4028236e38"]),
                   st.floats().map(repr), st.integers(-2**70, 2**70).map(str),
                   st.text(max_size=6))
_line_ends = st.sampled_from(["\n", "\r\n", "\r", "\n\r", "\r\r\n"])


@FUZZ
@given(st.lists(st.lists(_cells, min_size=1, max_size=4), max_size=8), _line_ends,
       st.sampled_from(["timestamp,accX,accY", "timestamp,a", "time", "x,y", ""]))
def test_csv_rows(rows, end, header):
    text = end.join([header] + [",".join(r) for r in rows])
    _parse(text.encode("utf-8"))


@FUZZ
@given(st.binary(max_size=200))
def test_csv_bytes(data):
    _parse(data)


@FUZZ
@given(st.data())
def test_csv_mutated(data):
    good = (DEMO / "samples" / "updown.02.csv").read_bytes()[:2000]
    raw = bytearray(good)
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.sampled_from(b"\r\n,.e-+0 \x00\xff"))
    _parse(bytes(raw))


def _parse(data: bytes) -> None:
    try:
        values, freq, sensors = parse_csv(data, "x.csv")
    except InputError:
        return
    assert values.ndim == 2 and values.shape[1] == len(sensors)
    assert math.isfinite(freq) and freq > 0
    assert bool((abs(values) <= 3.5e38).all())


# ------------------------------------------------------------------------ upload names
@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from edgert.dataset import Dataset
    root = tmp_path_factory.mktemp("uploads")
    with Dataset(root, index_path=":memory:") as ds:
        yield ds


_names = st.one_of(st.text(max_size=300), st.text(alphabet="a./\\\x00\n\r\t :*?", max_size=40),
                   st.sampled_from(["", ".", "..", "/", "a" * 300, "x\x00y", "..json",
                                    "\udcff.json", "con", "a/../../b"]))


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(_names)
def test_add_sample_any_name(dataset, name):
    doc = (DEMO / "samples" / "wave.01.json").read_bytes()
    try:
        row = dataset.add_sample(doc, filename=name, category="testing")
    except DatasetError:
        return
    stored = dataset.root / row.path
    assert stored.is_file() and stored.resolve().parent == (dataset.root / "testing").resolve()
