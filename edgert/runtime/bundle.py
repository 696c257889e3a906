"""Impulse bundles (``edgert-impulse/1``): a directory or a ``.zip`` holding ``impulse.json``,
the TFLite files it names and one anomaly metadata document per K-means block.

:func:`load_bundle` checks everything that can be checked from the files alone, and raises
:class:`edgert.errors.BundleError` naming the file and the field at fault. Checks that need
the DSP blocks (feature counts) happen in :meth:`edgert.runtime.impulse.Impulse.load`, which raises
the same error class, so nothing reaches classification half-validated.

Model files are parsed with the ``tflite`` flatbuffer schema (a dependency of edgert) to read
their input/output tensors; running them is the engine's job.
"""
from __future__ import annotations

import json
import math
import struct
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Union

import numpy as np

from ..errors import BundleError

if TYPE_CHECKING:
    import zipfile

FORMAT = "edgert-impulse/1"
DSP_TYPES = ("spectral-analysis", "raw", "flatten", "mfcc", "mfe", "spectrogram")
#: DSP blocks with implementation versions 1-4 (audio blocks default to 1 when the field is
#: absent: exports made before Feb 2021, when the field was introduced, are version 1)
VERSIONED_DSP_TYPES = ("spectral-analysis", "mfcc", "mfe", "spectrogram")
LEARN_TYPES = ("keras", "anomaly", "anomaly-gmm")
VARIANTS = ("float32", "int8")
IMPULSE_FILE = "impulse.json"

#: Most values one window may hold (samples x input axes): 16 Mi float32 values, 64 MiB. Real
#: impulses stay far below it (10 s of 16 kHz audio is 160,000 values; the motion demo 375);
#: a window size or frequency beyond it is a typo or a hostile file, refused at load before
#: anything is allocated for it. The window increase is bounded by the same number of samples.
MAX_WINDOW_VALUES = 1 << 24
#: Largest file of a bundle (impulse.json, a model, anomaly metadata), checked before it is
#: read: 256 MiB, several times the largest models a gateway runs.
MAX_MEMBER_BYTES = 256 << 20
#: Largest compression ratio of a zip member over 1 MiB: model weights and JSON compress a few
#: times, a member that inflates over 200x is a decompression bomb.
MAX_MEMBER_RATIO = 200

# Studio's texts for the thresholds it reports (classify v2 `thresholds[]`).
THRESHOLD_TEXTS = {
    "min_score": ("Minimum confidence rating",
                  "Windows whose top probability is below this are reported as uncertain."),
    "min_anomaly_score": ("Minimum anomaly score",
                          "Windows scoring above this are anomalous."),
}
DEFAULT_THRESHOLDS = {"keras": ("min_score", 0.6), "anomaly": ("min_anomaly_score", 0.3),
                      "anomaly-gmm": ("min_anomaly_score", 0.3)}


@dataclass(frozen=True)
class TensorSpec:
    """Shape, dtype ('float32'/'int8'/...) and quantization of a model's input or output as
    the flatbuffer declares them."""
    shape: tuple[int, ...]
    dtype: str
    scale: float = 0.0
    zero_point: int = 0

    @property
    def size(self) -> int:
        """Elements per batch item (the product of all dimensions but the first)."""
        return int(np.prod(self.shape[1:])) if len(self.shape) > 1 else int(np.prod(self.shape))


@dataclass(frozen=True)
class ModelFile:
    """A TFLite file of a learn block: its name in the bundle, bytes and declared I/O."""
    name: str
    data: bytes
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


@dataclass(frozen=True)
class InputSpec:
    type: str
    frequency: float
    axes: tuple[str, ...]
    window_size_ms: float
    window_increase_ms: float
    zero_pad: bool


@dataclass(frozen=True)
class DspSpec:
    id: int
    type: str
    implementation_version: int
    axes: tuple[str, ...]
    params: Mapping[str, Any]
    name: str
    title: str
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class Threshold:
    key: str
    value: Union[float, str]
    description: str
    help_text: str


@dataclass(frozen=True)
class LearnSpec:
    id: int
    type: str
    name: str
    title: str
    dsp: tuple[int, ...]
    labels: tuple[str, ...]
    models: Mapping[str, ModelFile]          # variant -> model (keras, anomaly-gmm)
    metadata: Optional[Mapping[str, Any]]    # anomaly: the seed-003 document
    metadata_file: Optional[str]
    axes: tuple[int, ...]                    # anomaly / anomaly-gmm: selected feature indices
    thresholds: tuple[Threshold, ...]
    raw: Mapping[str, Any]

    def threshold(self, key: str, default: Optional[float] = None) -> Optional[float]:
        """The numeric value of threshold ``key`` (or ``default``)."""
        for t in self.thresholds:
            if t.key == key and isinstance(t.value, (int, float)):
                return float(t.value)
        return default


@dataclass(frozen=True)
class Bundle:
    """A loaded, structurally validated bundle. ``source`` is the path it came from."""
    source: str
    project: Mapping[str, Any]
    impulse_id: int
    input: InputSpec
    dsp: tuple[DspSpec, ...]
    learn: tuple[LearnSpec, ...]
    document: Mapping[str, Any] = field(repr=False)
    provenance: Mapping[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------ files
class _NotAZipError(Exception):
    """Stands for zipfile.BadZipFile where no zip was opened (zipfile not imported)."""


def _bad_zip() -> type:
    zf = sys.modules.get("zipfile")
    return zf.BadZipFile if zf is not None else _NotAZipError


class BundleFiles:
    """Read access to the files of a bundle directory or zip (names relative to the root),
    every file checked against MAX_MEMBER_BYTES / MAX_MEMBER_RATIO before it is read. A context
    manager (closes the zip)."""

    def __init__(self, path: Path):
        self.path = path
        self._zip: Optional["zipfile.ZipFile"] = None
        self._prefix = ""
        if path.is_dir():
            return
        if not path.exists():
            raise BundleError(f"{path}: no such bundle (expected a directory or a .zip)")
        import zipfile  # for zipped bundles only (a long-running process keeps what it imports)
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise BundleError(f"{path}: not a bundle directory nor a readable .zip ({exc})") \
                from exc
        names = [n for n in self._zip.namelist() if PurePosixPath(n).name == IMPULSE_FILE]
        if not names:
            raise BundleError(f"{path}: the zip holds no {IMPULSE_FILE}")
        best = min(names, key=lambda n: n.count("/"))   # a zip of the directory itself
        self._prefix = best[: -len(IMPULSE_FILE)]

    def read(self, name: str, field_name: str) -> bytes:
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts or not name:
            raise BundleError(f"{self.path}/{IMPULSE_FILE}: {field_name}: {name!r} must be a "
                              "file name inside the bundle")
        try:
            if self._zip is not None:
                info = self._zip.getinfo(self._prefix + str(rel))
                self._check_size(name, info.file_size, info.compress_size)
                # ZipExtFile stops at the declared size: the check above bounds the inflating
                with self._zip.open(info) as member:
                    return member.read()
            path = self.path / rel
            self._check_size(name, path.stat().st_size, None)
            return path.read_bytes()
        except (KeyError, FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise BundleError(f"{self.path}/{IMPULSE_FILE}: {field_name} names {name!r}, "
                              f"which is missing from the bundle") from exc
        except (_bad_zip(), zlib.error, OSError, EOFError, RuntimeError,
                NotImplementedError) as exc:
            # a damaged member (bad CRC, broken deflate data), an encrypted or unsupported
            # compression method, an unreadable file
            raise BundleError(f"{self.path}: cannot read {name!r} ({field_name}): "
                              f"{exc}") from exc

    def _check_size(self, name: str, size: int, compressed: Optional[int]) -> None:
        """Refuse a member before reading it when it is larger than MAX_MEMBER_BYTES or (in a
        zip) inflates more than MAX_MEMBER_RATIO times its compressed size."""
        if size > MAX_MEMBER_BYTES:
            raise BundleError(f"{self.path}: {name!r} is {size:,} bytes, more than the "
                              f"{MAX_MEMBER_BYTES:,} bytes a bundle file may have; not read")
        if compressed is not None and size > (1 << 20) \
                and size > MAX_MEMBER_RATIO * max(compressed, 1):
            raise BundleError(f"{self.path}: {name!r} inflates from {compressed:,} to "
                              f"{size:,} bytes (over {MAX_MEMBER_RATIO}x: a decompression "
                              "bomb, not a model); not read")

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> "BundleFiles":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def bundle_file_names(doc: Mapping[str, Any]) -> list[str]:
    """The files an ``impulse.json`` document names (models and anomaly metadata of every
    learn block, in order, once each), without impulse.json itself."""
    names: list[str] = []
    for block in doc.get("learn") or []:
        if not isinstance(block, Mapping):
            continue
        models = block.get("models")
        for name in (list(models.values()) if isinstance(models, Mapping) else []) + \
                [block.get("metadata")]:
            if isinstance(name, str) and name and name not in names:
                names.append(name)
    return names


# ------------------------------------------------------------------------------ validation
class _Ctx:
    def __init__(self, where: str):
        self.where = where

    def fail(self, field_name: str, msg: str) -> BundleError:
        return BundleError(f"{self.where}: {field_name}: {msg}")

    def get(self, obj: Mapping[str, Any], key: str, field_name: str, types: Any,
            required: bool = True, default: Any = None) -> Any:
        if not isinstance(obj, Mapping):
            raise self.fail(field_name.rsplit(".", 1)[0], "must be an object")
        if key not in obj or obj[key] is None:
            if required:
                raise self.fail(field_name, "is missing")
            return default
        v = obj[key]
        if isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
            raise self.fail(field_name, f"must be {_tname(types)}, got {v!r}")
        if not isinstance(v, types):
            raise self.fail(field_name, f"must be {_tname(types)}, got {type(v).__name__}")
        return v

    def number(self, obj: Mapping[str, Any], key: str, field_name: str, positive: bool = True,
               required: bool = True, default: Optional[float] = None) -> float:
        v = self.get(obj, key, field_name, (int, float), required, default)
        if v is None:
            return v  # type: ignore[return-value]
        v = float(v)
        if not math.isfinite(v) or (positive and v <= 0):
            raise self.fail(field_name, f"must be a {'positive ' if positive else ''}finite "
                                        f"number, got {v!r}")
        return v


def _tname(types: Any) -> str:
    names = {int: "an integer", float: "a number", str: "a string", list: "a list",
             dict: "an object", bool: "a boolean"}
    ts = types if isinstance(types, tuple) else (types,)
    if set(ts) == {int, float}:
        return "a number"
    return " or ".join(names.get(t, t.__name__) for t in ts)


def _int_id(ctx: _Ctx, obj: Mapping[str, Any], field_name: str) -> int:
    v = ctx.get(obj, "id", field_name, int)
    if v < 1:
        raise ctx.fail(field_name, f"block ids are integers >= 1, got {v}")
    return v


_TFL_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 9: "int8",
              7: "int16"}


def parse_tflite_io(data: bytes, where: str) -> tuple[tuple[TensorSpec, ...],
                                                     tuple[TensorSpec, ...]]:
    """Input/output tensors a TFLite flatbuffer declares (BundleError when it does not parse)."""
    try:
        import tflite  # the flatbuffer schema package
        if len(data) < 8 or data[4:8] != b"TFL3":
            raise BundleError(f"{where}: not a TFLite model (no 'TFL3' identifier"
                              + (f"; only {len(data)} bytes: truncated?)" if len(data) < 8
                                 else ")"))
        if int.from_bytes(data[:4], "little") + 4 > len(data):
            raise BundleError(f"{where}: truncated or corrupt TFLite file: its root table "
                              f"lies past the end of the file ({len(data)} bytes)")
        model = tflite.Model.GetRootAsModel(data, 0)
        if model.SubgraphsLength() < 1:
            raise ValueError("the model has no subgraph")
        sg = model.Subgraphs(0)

        def spec(idx: int) -> TensorSpec:
            t = sg.Tensors(idx)
            shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
            q = t.Quantization()
            scale, zp = 0.0, 0
            if q is not None and q.ScaleLength() > 0:
                scale = float(q.ScaleAsNumpy()[0])
                zp = int(q.ZeroPointAsNumpy()[0]) if q.ZeroPointLength() > 0 else 0
            return TensorSpec(shape, _TFL_TYPES.get(t.Type(), f"type{t.Type()}"), scale, zp)

        ins = tuple(spec(sg.Inputs(i)) for i in range(sg.InputsLength()))
        outs = tuple(spec(sg.Outputs(i)) for i in range(sg.OutputsLength()))
    except BundleError:
        raise
    except Exception as exc:  # the flatbuffer reader raises assorted errors on garbage
        why = ("an offset points past the end of the file" if isinstance(exc, struct.error)
               else f"{type(exc).__name__}: {exc}")
        raise BundleError(f"{where}: truncated or corrupt TFLite file: its flatbuffer cannot "
                          f"be read ({why}); export the model again") from exc
    if len(ins) != 1 or len(outs) < 1:
        raise BundleError(f"{where}: expected one input and at least one output tensor, "
                          f"the model has {len(ins)} inputs and {len(outs)} outputs")
    return ins, outs


def _thresholds(ctx: _Ctx, raw: Any, field_name: str, block_type: str,
                metadata: Optional[Mapping[str, Any]]) -> tuple[Threshold, ...]:
    items: list[Threshold] = []
    seen: set[str] = set()
    sources = []
    if raw is not None:
        if not isinstance(raw, list):
            raise ctx.fail(field_name, "must be a list of {key, value} objects")
        sources.append((raw, field_name))
    if metadata is not None and isinstance(metadata.get("thresholds"), list):
        sources.append((metadata["thresholds"], "metadata.thresholds"))
    for lst, fname in sources:
        for i, t in enumerate(lst):
            f = f"{fname}[{i}]"
            key = ctx.get(t, "key", f + ".key", str)
            value = ctx.get(t, "value", f + ".value", (int, float, str))
            if isinstance(value, float) and not math.isfinite(value):
                raise ctx.fail(f + ".value", "must be finite")
            if key in seen:
                continue
            seen.add(key)
            desc, help_text = THRESHOLD_TEXTS.get(key, (key, key))
            items.append(Threshold(key, value, str(t.get("description") or desc),
                                   str(t.get("helpText") or help_text)))
    default = DEFAULT_THRESHOLDS.get(block_type)
    if default and default[0] not in seen:
        desc, help_text = THRESHOLD_TEXTS[default[0]]
        items.append(Threshold(default[0], default[1], desc, help_text))
    return tuple(items)


def _axes_list(ctx: _Ctx, v: Any, field_name: str) -> tuple[int, ...]:
    if isinstance(v, str):  # the seed's example renders it quoted: "`[ 0, 11, 22 ]`"
        try:
            v = json.loads(v.strip().strip("`"))
        except ValueError as exc:
            raise ctx.fail(field_name, f"must be a list of integers, got {v!r}") from exc
    if not isinstance(v, list) or not v or not all(
            isinstance(a, int) and not isinstance(a, bool) for a in v):
        raise ctx.fail(field_name, f"must be a non-empty list of integers, got {v!r}")
    if any(a < 0 or a >= 2**31 - 1 for a in v):
        raise ctx.fail(field_name, f"feature indices must be in 0 .. 2^31 - 2, got {v}")
    return tuple(v)


def validate_anomaly_metadata(doc: Any, where: str) -> tuple[int, ...]:
    """Check a K-means metadata document (seed 003 shape); returns its ``axes``."""
    ctx = _Ctx(where)
    if not isinstance(doc, Mapping):
        raise BundleError(f"{where}: must be a JSON object (GET .../anomaly/{{id}}/metadata)")
    axes = _axes_list(ctx, doc.get("axes"), "axes")
    n = len(axes)
    for key in ("scale", "mean"):
        v = ctx.get(doc, key, key, list)
        if len(v) != n:
            raise ctx.fail(key, f"has {len(v)} values but axes has {n}")
        for i, x in enumerate(v):
            if not _is_float32(x):
                raise ctx.fail(f"{key}[{i}]", f"must be a finite float32 number, got {x!r}")
            if key == "scale" and x == 0:
                raise ctx.fail(f"{key}[{i}]", "must not be 0 (features are divided by it)")
    clusters = ctx.get(doc, "clusters", "clusters", list)
    if not clusters:
        raise ctx.fail("clusters", "is empty: the block was not trained")
    for c, cl in enumerate(clusters):
        center = ctx.get(cl, "center", f"clusters[{c}].center", list)
        if len(center) != n:
            raise ctx.fail(f"clusters[{c}].center", f"has {len(center)} values but axes has {n}")
        for i, x in enumerate(center):
            if not _is_float32(x):
                raise ctx.fail(f"clusters[{c}].center[{i}]", f"must be a finite float32 "
                                                             f"number, got {x!r}")
        err = ctx.number(cl, "maxError", f"clusters[{c}].maxError", positive=False)
        if not _is_float32(err):
            raise ctx.fail(f"clusters[{c}].maxError", f"must be a finite float32 number, "
                                                      f"got {err!r}")
    return axes


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _is_float32(x: Any) -> bool:
    """A JSON number the float32 scorer can hold (no overflow to infinity)."""
    return (not isinstance(x, bool) and isinstance(x, (int, float))
            and math.isfinite(x) and abs(x) <= _FLOAT32_MAX)


def _parse_input(ctx: _Ctx, doc: Mapping[str, Any]) -> InputSpec:
    inp = ctx.get(doc, "input", "input", dict)
    typ = ctx.get(inp, "type", "input.type", str, required=False, default="time-series")
    if typ != "time-series":
        raise ctx.fail("input.type", f"only 'time-series' impulses are supported, got {typ!r}")
    freq = ctx.number(inp, "frequency", "input.frequency")
    axes = ctx.get(inp, "axes", "input.axes", list)
    if not axes or not all(isinstance(a, str) and a for a in axes):
        raise ctx.fail("input.axes", "must be a non-empty list of axis names")
    if len(set(axes)) != len(axes):
        raise ctx.fail("input.axes", f"has duplicate names: {axes}")
    wsize = ctx.number(inp, "window_size_ms", "input.window_size_ms")
    winc = ctx.number(inp, "window_increase_ms", "input.window_increase_ms", required=False,
                      default=wsize)
    zero_pad = ctx.get(inp, "zero_pad", "input.zero_pad", bool, required=False, default=True)
    # the sample counts edgert.runtime.windowing.window_geometry derives (rounding half up),
    # bounded before anything is allocated for a window (see MAX_WINDOW_VALUES)
    n_axes = len(axes)
    for key, ms, per in (("window_size_ms", wsize, n_axes), ("window_increase_ms", winc, 1)):
        n = ms * freq / 1000.0
        if not (math.isfinite(n) and n * per <= MAX_WINDOW_VALUES):
            what = (f"{n:g} samples x {n_axes} axes = {n * n_axes:g} values per window"
                    if per > 1 else f"{n:g} samples")
            raise ctx.fail(f"input.{key}", f"{ms:g} ms at {freq:g} Hz is {what}; edgert "
                                           f"takes at most {MAX_WINDOW_VALUES:,} (no real "
                                           "impulse comes near: 10 s of 16 kHz audio is "
                                           "160,000): check the window size and frequency")
    if math.floor(wsize * freq / 1000.0 + 0.5) < 1:
        raise ctx.fail("input.window_size_ms", f"{wsize} ms at {freq} Hz is less than one sample")
    return InputSpec(typ, freq, tuple(axes), wsize, winc, zero_pad)


def _parse_dsp(ctx: _Ctx, doc: Mapping[str, Any], inp: InputSpec) -> tuple[DspSpec, ...]:
    blocks = ctx.get(doc, "dsp", "dsp", list)
    out: list[DspSpec] = []
    seen: set[int] = set()
    for i, b in enumerate(blocks):
        f = f"dsp[{i}]"
        bid = _int_id(ctx, b, f + ".id")
        if bid in seen:
            raise ctx.fail(f + ".id", f"duplicate block id {bid}")
        seen.add(bid)
        typ = ctx.get(b, "type", f + ".type", str)
        if typ not in DSP_TYPES:
            raise ctx.fail(f + ".type", f"unsupported DSP block type {typ!r} (supported: "
                                        f"{', '.join(DSP_TYPES)})")
        version = ctx.get(b, "implementation_version", f + ".implementation_version", int,
                          required=typ == "spectral-analysis", default=1)
        if typ in VERSIONED_DSP_TYPES and not 1 <= version <= 4:
            raise ctx.fail(f + ".implementation_version",
                           f"{typ} versions 1-4 are supported, got {version}")
        axes = ctx.get(b, "axes", f + ".axes", list, required=False, default=list(inp.axes))
        if not axes:
            raise ctx.fail(f + ".axes", "must name at least one input axis")
        for a in axes:
            if a not in inp.axes:
                raise ctx.fail(f + ".axes", f"axis {a!r} is not an input axis "
                                            f"(input.axes: {list(inp.axes)})")
        params = ctx.get(b, "params", f + ".params", dict, required=False, default={})
        out.append(DspSpec(bid, typ, version, tuple(axes), dict(params),
                           str(b.get("name") or typ), str(b.get("title") or typ), b))
    return tuple(out)


def _parse_learn(ctx: _Ctx, doc: Mapping[str, Any], dsp: Sequence[DspSpec],
                 files: BundleFiles) -> tuple[LearnSpec, ...]:
    blocks = ctx.get(doc, "learn", "learn", list, required=False, default=[])
    dsp_ids = {b.id for b in dsp}
    out: list[LearnSpec] = []
    seen: set[int] = set(dsp_ids)
    for i, b in enumerate(blocks):
        f = f"learn[{i}]"
        bid = _int_id(ctx, b, f + ".id")
        if bid in seen:
            raise ctx.fail(f + ".id", f"block id {bid} is used twice")
        seen.add(bid)
        typ = ctx.get(b, "type", f + ".type", str)
        if typ not in LEARN_TYPES:
            raise ctx.fail(f + ".type", f"unsupported learn block type {typ!r} (supported: "
                                        f"{', '.join(LEARN_TYPES)})")
        deps = ctx.get(b, "dsp", f + ".dsp", list)
        if not deps:
            raise ctx.fail(f + ".dsp", "must name at least one DSP block id")
        for d in deps:
            if isinstance(d, bool) or not isinstance(d, int) or d not in dsp_ids:
                raise ctx.fail(f + ".dsp", f"references unknown DSP block id {d!r} "
                                           f"(DSP blocks: {sorted(dsp_ids)})")
        name = ctx.get(b, "name", f + ".name", str, required=False, default=typ)
        title = ctx.get(b, "title", f + ".title", str, required=False, default=name)
        labels: tuple[str, ...] = ()
        models: dict[str, ModelFile] = {}
        metadata = None
        metadata_file = None
        axes: tuple[int, ...] = ()
        if typ in ("keras", "anomaly-gmm"):
            mdl = ctx.get(b, "models", f + ".models", dict)
            if not mdl:
                raise ctx.fail(f + ".models", "must name at least one of float32, int8")
            for variant, fname in mdl.items():
                if variant not in VARIANTS:
                    raise ctx.fail(f + ".models", f"unknown variant {variant!r} "
                                                  f"(expected {', '.join(VARIANTS)})")
                if not isinstance(fname, str):
                    raise ctx.fail(f"{f}.models.{variant}", "must be a file name")
                data = files.read(fname, f"{f}.models.{variant}")
                ins, outs = parse_tflite_io(data, f"{files.path}/{fname}")
                models[variant] = ModelFile(fname, data, ins, outs)
            if typ == "anomaly-gmm" and "float32" not in models:
                raise ctx.fail(f + ".models", "an anomaly-gmm block needs a float32 model")
        if typ == "keras":
            lab = ctx.get(b, "labels", f + ".labels", list)
            if not lab or not all(isinstance(x, str) and x for x in lab):
                raise ctx.fail(f + ".labels", "must be a non-empty list of label names")
            if len(set(lab)) != len(lab):
                raise ctx.fail(f + ".labels", f"has duplicates: {lab}")
            # a class may be named `anomaly` or `uncertain`: results keep it apart from the
            # anomaly score and the pseudo-labels (edgert.results.reserved_names)
            labels = tuple(lab)
            for variant, m in models.items():
                if m.outputs[0].size != len(labels):
                    raise ctx.fail(f"{f}.models.{variant}",
                                   f"{m.name} outputs {m.outputs[0].size} values per window but "
                                   f"the block has {len(labels)} labels")
        if typ == "anomaly":
            mname = ctx.get(b, "metadata", f + ".metadata", str)
            raw = files.read(mname, f + ".metadata")
            try:
                metadata = json.loads(raw)
            except ValueError as exc:
                raise BundleError(f"{files.path}/{mname}: not valid JSON ({exc})") from exc
            axes = validate_anomaly_metadata(metadata, f"{files.path}/{mname}")
            metadata_file = mname
        if typ == "anomaly-gmm":
            axes = _axes_list(ctx, b.get("axes"), f + ".axes")
            m = models["float32"]
            if m.inputs[0].size != len(axes):
                raise ctx.fail(f + ".models.float32", f"{m.name} takes {m.inputs[0].size} "
                                                      f"values but axes selects {len(axes)}")
        thresholds = _thresholds(ctx, b.get("thresholds"), f + ".thresholds", typ, metadata)
        out.append(LearnSpec(bid, typ, name, title, tuple(deps), labels, models, metadata,
                             metadata_file, axes, thresholds, b))
    return tuple(out)


PROVENANCE_KEYS = {"source": str, "export_path": str, "sdk_era": str, "imported_by": str,
                   "imported_at": str, "files": list, "notes": list, "eon_rebuilt": list}


def _parse_provenance(ctx: _Ctx, doc: Mapping[str, Any]) -> dict[str, Any]:
    """The optional ``provenance`` object (where an imported bundle came from): known keys
    must have their documented types; other keys are kept as they are."""
    prov = ctx.get(doc, "provenance", "provenance", dict, required=False, default={})
    for key, typ in PROVENANCE_KEYS.items():
        if key in prov and prov[key] is not None and not isinstance(prov[key], typ):
            raise ctx.fail(f"provenance.{key}", f"must be {_tname(typ)}")
    return dict(prov)


def load_bundle(path: Union[str, Path]) -> Bundle:
    """Read and validate a bundle directory or .zip (see ``docs`` of the bundle format)."""
    p = Path(path)
    files = BundleFiles(p)
    try:
        raw = files.read(IMPULSE_FILE, "bundle")
        where = f"{p}/{IMPULSE_FILE}"
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise BundleError(f"{where}: not valid JSON ({exc})") from exc
        ctx = _Ctx(where)
        if not isinstance(doc, dict):
            raise BundleError(f"{where}: must be a JSON object")
        fmt = doc.get("format")
        if fmt != FORMAT:
            raise ctx.fail("format", f"expected {FORMAT!r}, got {fmt!r}")
        project = ctx.get(doc, "project", "project", dict, required=False, default={})
        impulse_id = ctx.get(doc, "impulse_id", "impulse_id", int, required=False, default=1)
        inp = _parse_input(ctx, doc)
        dsp = _parse_dsp(ctx, doc, inp)
        if not dsp:
            raise ctx.fail("dsp", "the impulse has no DSP block")
        learn = _parse_learn(ctx, doc, dsp, files)
        provenance = _parse_provenance(ctx, doc)
        return Bundle(str(p), dict(project), impulse_id, inp, dsp, learn, doc, provenance)
    finally:
        files.close()


__all__ = ["Bundle", "InputSpec", "DspSpec", "LearnSpec", "ModelFile", "TensorSpec",
           "Threshold", "load_bundle", "parse_tflite_io", "validate_anomaly_metadata",
           "FORMAT", "VARIANTS", "BundleFiles", "bundle_file_names", "IMPULSE_FILE",
           "MAX_WINDOW_VALUES", "MAX_MEMBER_BYTES", "MAX_MEMBER_RATIO"]
