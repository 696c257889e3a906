"""What an Edge Impulse export holds, read from its parsed headers: project, input, labels,
DSP blocks with their configuration, learn blocks (classifier model, K-means clusters, GMM)
and the model bytes.

Exports of every SDK era since 2020 are read; they differ in where things are (one
``model_metadata.h`` in 2020-21; ``model_variables.h``, ``dsp_blocks.h``,
``anomaly_clusters.h`` or ``anomaly_metadata.h`` later), in how blocks are listed (a
``ei_dsp_blocks`` array of 3, 5, 8 or 9 positional fields; ``ei_learning_blocks`` from 2022)
and in the DSP config structs (see :mod:`edgert.importer.layouts`). The reader finds things
by what they are (``&extract_spectral_analysis_features``, ``&run_kmeans_anomaly``, a byte
array starting with a TFLite header) rather than by position wherever it can.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Optional

import numpy as np

from ..runtime.continuous import AUDIO_BLOCK_TYPES
from .cheader import (AddressOf, Call, Expr, Header, HeaderError, Ident, InitList, NumberArray,
                      Variable, eval_macro, parse_header)
from .layouts import layout_for, name_from_comment
from .source import ExportError, ExportFiles, header_order

SUPPORTED_DSP = {"spectral_analysis": "spectral-analysis", "raw": "raw", "flatten": "flatten",
                 "mfcc": "mfcc", "mfe": "mfe", "spectrogram": "spectrogram"}
#: audio-like blocks edgert does not run (the Syntiant NDP's own log-mel front ends)
AUDIO_DSP = {"audio_syntiant", "audio_mfcc", "audio_mfe"}
SUPPORTED_TEXT = ("edgert runs spectral-analysis, MFCC, MFE and spectrogram (v1-v4), raw and "
                  "flatten DSP blocks with a Keras classifier and K-means or GMM anomaly "
                  "detection")
#: configuration fields that describe the block's wiring, not its parameters
_NOT_PARAMS = ("axes", "block_id", "implementation_version", "named_axes", "named_axes_size")


@dataclass
class DspBlock:
    id: int
    kind: str                    # the export's name: spectral_analysis, raw, mfcc, ...
    type: Optional[str]          # edgert's bundle type, None when unsupported
    implementation_version: int
    axes: list[int]              # indices into the input's axes
    params: dict[str, Any]       # Studio keys
    output_features: Optional[int]
    config_name: str
    layout: str                  # how the positional fields were named


@dataclass
class LearnBlock:
    id: int
    kind: str                    # keras | anomaly | anomaly-gmm | <unsupported name>
    dsp: list[int] = field(default_factory=list)
    model_name: Optional[str] = None     # tflite array / EON file symbol stem
    anomaly: Optional[dict[str, Any]] = None


@dataclass
class ModelSource:
    """A model of the export: the flatbuffer bytes (TFLite array) or the EON tables."""
    name: str
    file: str
    tflite: Optional[bytes] = None
    eon: Optional[Header] = None


@dataclass
class ImpulseExport:
    files: ExportFiles
    headers: dict[str, Header]
    defines: dict[str, str]
    project: dict[str, Any]
    era: str
    frequency: float
    raw_sample_count: int
    axis_count: int
    axis_names: list[str]
    labels: list[str]
    dsp: list[DspBlock]
    learn: list[LearnBlock]
    models: dict[str, ModelSource]
    sensor: str
    notes: list[str] = field(default_factory=list)

    @property
    def window_size_ms(self) -> float:
        return self.raw_sample_count * 1000.0 / self.frequency


# ----------------------------------------------------------------------------- helpers
def _collect(files: ExportFiles) -> tuple[dict[str, Header], dict[str, str]]:
    headers: dict[str, Header] = {}
    defines: dict[str, str] = {}
    for rel in header_order(files.files):
        try:
            h = parse_header(files.files[rel], rel, defines)
        except HeaderError as exc:
            raise ExportError(f"{files.location}: {exc}") from exc
        headers[rel] = h
        if rel.startswith("model-parameters/"):
            defines.update(h.defines)
    return headers, defines


class _Vars:
    """Variables of model-parameters/ headers, by name."""

    def __init__(self, headers: dict[str, Header]):
        self.vars: dict[str, Variable] = {}
        self.structs: dict[str, list[str]] = {}
        for rel, h in headers.items():
            if rel.startswith("model-parameters/"):
                self.vars.update(h.variables)
                self.structs.update(h.structs)

    def get(self, name: str) -> Optional[Variable]:
        return self.vars.get(name)

    def value(self, ref: Any) -> Any:
        """Follow an Ident/AddressOf to the variable's value (else the value itself)."""
        for _ in range(8):
            if isinstance(ref, (Ident, AddressOf)) and ref.name in self.vars:
                ref = self.vars[ref.name].value
            elif isinstance(ref, Call) and len(ref.args) == 1:
                ref = ref.args[0]
            else:
                return ref
        return ref

    def matching(self, pattern: str) -> list[Variable]:
        rx = re.compile(pattern)
        return [v for n, v in self.vars.items() if rx.fullmatch(n)]


def _macro(defines: dict[str, str], name: str, default: Any = None) -> Any:
    v = eval_macro(defines, name)
    return default if v is None else v


def _num_list(v: Any, where: str) -> list[float]:
    if isinstance(v, NumberArray):
        return [float(x) for x in v.array.tolist()]
    if isinstance(v, InitList):
        out = []
        for x in v.values():
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise ExportError(f"{where}: expected numbers, found {x!r}")
            out.append(float(x))
        return out
    raise ExportError(f"{where}: expected a list of numbers")


def _int_list(v: Any, where: str) -> list[int]:
    vals = _num_list(v, where)
    if any(x != int(x) for x in vals):
        raise ExportError(f"{where}: expected integers")
    return [int(x) for x in vals]


def _strings(v: Any, where: str) -> list[str]:
    if not isinstance(v, InitList) or not all(isinstance(x, str) for x in v.values()):
        raise ExportError(f"{where}: expected a list of strings")
    return list(v.values())


# ----------------------------------------------------------------------------- reading
def read_export(files: ExportFiles) -> ImpulseExport:
    """Interpret an export's files. Raises ExportError naming the file and what is missing
    or unsupported."""
    if "model-parameters/model_metadata.h" not in files.files:
        raise ExportError(f"{files.location}: no model-parameters/model_metadata.h")
    headers, defines = _collect(files)
    V = _Vars(headers)
    loc = files.location

    impulse_var = _impulse_struct(V)
    imp = impulse_var.value if impulse_var is not None and isinstance(impulse_var.value, InitList) \
        else None

    def imp_field(name: str, macro: str, default: Any = None) -> Any:
        if imp is not None and imp.designated:
            v = imp.get(name)
            if v is not None and not isinstance(v, (Ident, AddressOf, Expr)):
                return v
        return _macro(defines, macro, default)

    project = {k: v for k, v in (
        ("id", imp_field("project_id", "EI_CLASSIFIER_PROJECT_ID")),
        ("owner", imp_field("project_owner", "EI_CLASSIFIER_PROJECT_OWNER")),
        ("name", imp_field("project_name", "EI_CLASSIFIER_PROJECT_NAME")),
        ("deploy_version", imp_field("deploy_version", "EI_CLASSIFIER_PROJECT_DEPLOY_VERSION")),
        ("impulse_id", imp.get("impulse_id") if imp is not None else None),
        ("impulse_name", imp.get("impulse_name") if imp is not None else None),
    ) if v is not None and not isinstance(v, (Ident, Expr))}

    freq = imp_field("frequency", "EI_CLASSIFIER_FREQUENCY")
    raw_count = imp_field("raw_sample_count", "EI_CLASSIFIER_RAW_SAMPLE_COUNT")
    per_frame = imp_field("raw_samples_per_frame", "EI_CLASSIFIER_RAW_SAMPLES_PER_FRAME")
    for what, v in (("EI_CLASSIFIER_FREQUENCY", freq),
                    ("EI_CLASSIFIER_RAW_SAMPLE_COUNT", raw_count),
                    ("EI_CLASSIFIER_RAW_SAMPLES_PER_FRAME", per_frame)):
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise ExportError(f"{loc}: model-parameters/model_metadata.h: {what} is missing or "
                              f"not a number ({v!r})")
    sensor_macro = defines.get("EI_CLASSIFIER_SENSOR", "").strip()
    sensor = sensor_macro.replace("EI_CLASSIFIER_SENSOR_", "").lower() or "unknown"
    if imp is not None and isinstance(imp.get("sensor"), Ident):
        sensor = imp.get("sensor").name.replace("EI_CLASSIFIER_SENSOR_", "").lower()
    fusion = imp_field("fusion_string", "EI_CLASSIFIER_FUSION_AXES_STRING")

    era = _era(files, headers, defines, imp)
    exp = ImpulseExport(files, headers, defines, project, era, float(freq), int(raw_count),
                        int(per_frame), [], [], [], [], {}, sensor)
    exp.axis_names = _axis_names(fusion, int(per_frame), sensor)
    exp.labels = _labels(V, loc)
    _check_impulse_kind(exp, V)
    exp.dsp = _dsp_blocks(V, loc)
    exp.models = _models(headers)
    exp.learn = _learn_blocks(exp, V, loc)
    return exp


def _impulse_struct(V: _Vars) -> Optional[Variable]:
    cands = [v for v in V.vars.values() if v.type.split()[-1:] == ["ei_impulse_t"]]
    return cands[0] if cands else None


def _era(files: ExportFiles, headers: dict[str, Header], defines: dict[str, str],
         imp: Optional[InitList]) -> str:
    """A label for the SDK generation, from what the files look like (documented in
    docs/import.md): the year the layout appeared and its distinguishing trait."""
    text = files.files.get("model-parameters/model_metadata.h", "")
    year = re.search(r"Copyright \(c\) (20\d\d) EdgeImpulse", text)
    gen = re.search(r"Generated on: \d\d\.\d\d\.(20\d\d)", "".join(
        t[:4000] for r, t in files.files.items() if r.startswith("tflite-model/")))
    has_vars = "model-parameters/model_variables.h" in files.files
    if imp is not None and imp.get("impulse_id") is not None:
        layout = "2024+ (multi-impulse handles, per-block output tensors)"
    elif has_vars and imp is not None:
        layout = "2022-23 (ei_impulse_t in model_variables.h)"
    elif "model-parameters/dsp_blocks.h" in files.files:
        structs = headers["model-parameters/model_metadata.h"].structs
        sa = structs.get("ei_dsp_config_spectral_analysis_t") or \
            structs.get("ei_dsp_config_raw_t") or []
        layout = "2021-22 (implementation_version fields)" if "implementation_version" in sa \
            else "2020 (configs in model_metadata.h, no implementation_version)"
    else:
        layout = "unknown"
    when = year.group(1) if year else (gen.group(1) if gen else None)
    return f"{layout}; files dated {when}" if when else layout


def _axis_names(fusion: Any, count: int, sensor: str) -> list[str]:
    if isinstance(fusion, str) and fusion.strip():
        names = [a.strip() for a in fusion.split("+")]
        if len(names) == count and all(names) and len(set(names)) == count:
            return names
    if sensor == "accelerometer" and count == 3:
        return ["accX", "accY", "accZ"]
    if sensor == "microphone" and count == 1:
        return ["audio"]      # what the firmware and WAV files call the microphone's axis
    if count == 1:
        return ["value"]
    return [f"axis{i}" for i in range(count)]


def _labels(V: _Vars, loc: str) -> list[str]:
    cands = V.matching(r"ei_classifier_inferencing_categories(_\d+)*")
    cands = [c for c in cands if isinstance(c.value, InitList)]
    if not cands:
        return []
    return _strings(cands[0].value, f"{loc}: {cands[0].file}: {cands[0].name}")


def _check_impulse_kind(exp: ImpulseExport, V: _Vars) -> None:
    d = exp.defines
    loc = exp.files.location
    od = _macro(d, "EI_CLASSIFIER_OBJECT_DETECTION", 0)
    if isinstance(od, (int, float)) and od:
        raise ExportError(f"{loc}: this impulse does object detection, which edgert does not "
                          f"run; {SUPPORTED_TEXT}")
    width = _macro(d, "EI_CLASSIFIER_INPUT_WIDTH", 0)
    if exp.sensor == "camera" or (isinstance(width, (int, float)) and width > 0):
        raise ExportError(f"{loc}: this is an image impulse (camera input "
                          f"{width}x{_macro(d, 'EI_CLASSIFIER_INPUT_HEIGHT', 0)}), which edgert "
                          f"does not run; {SUPPORTED_TEXT}")
    if exp.frequency <= 0:
        raise ExportError(f"{loc}: EI_CLASSIFIER_FREQUENCY is {exp.frequency}: not a "
                          "time-series impulse")


_EXTRACT = re.compile(r"extract_(\w+?)_features")


def _dsp_blocks(V: _Vars, loc: str) -> list[DspBlock]:
    lists = V.matching(r"ei_dsp_blocks(_\d+)*")
    lists = [v for v in lists if isinstance(v.value, InitList)]
    if not lists:
        raise ExportError(f"{loc}: no ei_dsp_blocks array in model-parameters/ (an export "
                          "from an SDK edgert does not know; please report it)")
    var = lists[0]
    blocks = []
    for n, item in enumerate(var.value.items):
        entry = item.value
        if not isinstance(entry, InitList):
            raise ExportError(f"{loc}: {var.file}: {var.name}[{n}] is not a block entry")
        vals = entry.values()
        fn_idx = next((i for i, v in enumerate(vals) if isinstance(v, AddressOf) and
                       _EXTRACT.fullmatch(v.name)), None)
        if fn_idx is None:
            fn = next((v.name for v in vals if isinstance(v, AddressOf)), "?")
            raise ExportError(f"{loc}: DSP block {n + 1} uses {fn}, a custom DSP block, which "
                              f"edgert cannot run; {SUPPORTED_TEXT}")
        kind = _EXTRACT.fullmatch(vals[fn_idx].name).group(1)  # type: ignore[union-attr]
        cfg_ref = next((v for v in vals[fn_idx + 1:] if isinstance(v, AddressOf)), None)
        if cfg_ref is None or V.get(cfg_ref.name) is None:
            raise ExportError(f"{loc}: {var.file}: DSP block {n + 1} ({kind}): its configuration "
                              "struct is missing")
        cfg_var = V.get(cfg_ref.name)
        out_size = vals[fn_idx - 1] if fn_idx >= 1 and isinstance(vals[fn_idx - 1], int) else None
        axes_ref = next((v for v in vals[fn_idx + 1:] if isinstance(v, Ident) and
                         v.name.endswith("_axes")), None)
        params, layout = _config_fields(cfg_var, kind, V, loc)  # type: ignore[arg-type]
        bid = params.pop("block_id", None)
        if not isinstance(bid, int):
            m = re.search(r"(\d+)$", cfg_ref.name)
            cm = re.search(r"DSP block (\d+)", item.comment or "")
            bid = int(m.group(1)) if m else (int(cm.group(1)) if cm else n + 1)
        version = params.pop("implementation_version", 1)
        n_axes = params.pop("axes", None)
        if axes_ref is not None and V.get(axes_ref.name) is not None:
            axes = _int_list(V.get(axes_ref.name).value, f"{loc}: {axes_ref.name}")  # type: ignore[union-attr]
        elif isinstance(n_axes, int) and n_axes > 0:
            axes = list(range(n_axes))
        else:
            axes = []
        for k in _NOT_PARAMS:
            params.pop(k, None)
        btype = SUPPORTED_DSP.get(kind)
        # Studio's keys: dashes for spectral/raw/flatten (scale-axes), underscores for the
        # audio blocks (num_cepstral)
        studio = params if btype in AUDIO_BLOCK_TYPES else \
            {k.replace("_", "-"): v for k, v in params.items()}
        blocks.append(DspBlock(int(bid), kind, btype,
                               int(version) if isinstance(version, (int, float)) else 1,
                               axes, studio, out_size, cfg_var.name, layout))  # type: ignore[union-attr]
    return blocks


def _config_fields(var: Variable, kind: str, V: _Vars, loc: str) -> tuple[dict[str, Any], str]:
    v = var.value
    if not isinstance(v, InitList):
        raise ExportError(f"{loc}: {var.file}:{var.line}: {var.name} is not a struct initializer")
    items = v.items
    if v.designated:
        return {i.designator: i.value for i in items if i.designator}, "designated"
    type_name = var.type.split()[-1] if var.type else f"ei_dsp_config_{kind}_t"
    fields = V.structs.get(type_name)
    if fields and len(fields) >= len(items):
        return {fields[i]: it.value for i, it in enumerate(items)}, f"typedef {type_name}"
    names = [name_from_comment(i.comment) for i in items]
    if all(names):
        return {n: it.value for n, it in zip(names, items)}, "comments"  # type: ignore[misc]
    known = layout_for(kind, len(items))
    if known is not None:
        return {known[i]: it.value for i, it in enumerate(items)}, \
            f"known layout {kind}/{len(items)}"
    if kind not in SUPPORTED_DSP:
        return {}, "unknown"
    raise ExportError(f"{loc}: {var.file}:{var.line}: {var.name}: a {kind} configuration with "
                      f"{len(items)} positional values and no field names (no typedef, no "
                      "comments, no known layout); please report this export")


_TFLITE_ARRAY_TYPES = ("char", "uint8_t", "int8_t")


def _models(headers: dict[str, Header]) -> dict[str, ModelSource]:
    """Model byte arrays (any variable whose bytes carry the TFL3 identifier) and EON
    compiled sources of tflite-model/."""
    out: dict[str, ModelSource] = {}
    for rel, h in headers.items():
        if not rel.startswith("tflite-model/"):
            continue
        if re.search(r"_compiled\.(cpp|cc|c)$|trained_model_compiled\.(cpp|cc)$", rel) and \
                any(n == "tensorData" or n.startswith("tensor_dimension") for n in h.variables):
            stem = PurePosixPath(rel).name.rsplit(".", 1)[0].replace("_compiled", "")
            out[stem] = ModelSource(stem, rel, eon=h)
            continue
        for name, var in h.variables.items():
            if isinstance(var.value, NumberArray) and var.value.array.size >= 16 and \
                    not var.value.is_float:
                arr = var.value.array
                if arr.min() < -128 or arr.max() > 255:
                    continue
                data = (arr & 0xFF).astype(np.uint8).tobytes()
                if data[4:8] == b"TFL3":
                    out[name] = ModelSource(name, rel, tflite=data)
    return out


def _learn_blocks(exp: ImpulseExport, V: _Vars, loc: str) -> list[LearnBlock]:
    dsp_ids = [b.id for b in exp.dsp]
    lists = [v for v in V.matching(r"ei_learning_blocks(_\d+)*") if isinstance(v.value, InitList)]
    blocks: list[LearnBlock] = []
    if lists:
        var = lists[0]
        for n, item in enumerate(var.value.items):
            entry = item.value
            if not isinstance(entry, InitList):
                continue
            vals = entry.values()
            fn = next((v.name for v in vals if isinstance(v, AddressOf) and
                       v.name.startswith("run_")), None)
            cfg_ref = next((v for v in vals if isinstance(v, AddressOf) and
                            not v.name.startswith("run_")), None)
            cfg = V.value(cfg_ref) if cfg_ref is not None else None
            bid = vals[0] if isinstance(vals[0], int) else None
            if bid is None and isinstance(cfg, InitList):
                bid = cfg.get("block_id")
            if bid is None and cfg_ref is not None:
                m = re.search(r"(\d+)$", cfg_ref.name)
                bid = int(m.group(1)) if m else None
            inputs = next((v for v in vals if isinstance(v, Ident) and v.name.endswith("_inputs")),
                          None)
            dsp = _int_list(V.get(inputs.name).value, inputs.name) \
                if inputs is not None and V.get(inputs.name) is not None else list(dsp_ids)
            bid = int(bid) if isinstance(bid, int) else 100 + n
            if fn == "run_nn_inference":
                lb = LearnBlock(bid, "keras", dsp)
                if isinstance(cfg, InitList):
                    od = cfg.get("object_detection")
                    if isinstance(od, int) and od:
                        raise ExportError(f"{loc}: learn block {bid} does object detection, "
                                          f"which edgert does not run; {SUPPORTED_TEXT}")
                blocks.append(lb)
            elif fn == "run_kmeans_anomaly":
                blocks.append(LearnBlock(bid, "anomaly", dsp,
                                         anomaly=_kmeans(V, loc, cfg)))
            elif fn == "run_gmm_anomaly":
                blocks.append(LearnBlock(bid, "anomaly-gmm", dsp, anomaly=_gmm_axes(V, loc, cfg)))
            else:
                raise ExportError(f"{loc}: learn block {bid} runs {fn or '?'}, which edgert "
                                  f"does not support; {SUPPORTED_TEXT}")
    else:
        # 2020-21: one classifier when there are labels and a model; K-means when anomaly
        if exp.labels:
            blocks.append(LearnBlock(_guess_learn_id(exp), "keras", list(dsp_ids)))
        has = _macro(exp.defines, "EI_CLASSIFIER_HAS_ANOMALY", 0)
        if isinstance(has, (int, float)) and has:
            blocks.append(LearnBlock(max([b.id for b in blocks] + [0]) + 1, "anomaly",
                                     list(dsp_ids), anomaly=_kmeans(V, loc, None)))
    # attach models to classifier / GMM blocks
    needs = [b for b in blocks if b.kind in ("keras", "anomaly-gmm")]
    free = dict(exp.models)
    for b in needs:
        pick = next((k for k in free if re.search(rf"(^|_){b.id}$", k)), None)
        if pick is None and len(needs) == 1 and len(free) == 1:
            pick = next(iter(free))
        if pick is None and len(free) == 1 and b.kind == "keras":
            pick = next(iter(free))
        if pick is None:
            raise ExportError(f"{loc}: no model in tflite-model/ for learn block {b.id} "
                              f"({b.kind}); found {sorted(exp.models) or 'none'}")
        b.model_name = pick
        free.pop(pick)
    return blocks


def _guess_learn_id(exp: ImpulseExport) -> int:
    for name in exp.models:
        m = re.search(r"_(\d+)$", name)
        if m:
            return int(m.group(1))
    return max([b.id for b in exp.dsp] + [0]) + 1


def _kmeans(V: _Vars, loc: str, cfg: Any) -> dict[str, Any]:
    def find(designator: str, pattern: str) -> Variable:
        if isinstance(cfg, InitList):
            ref = cfg.get(designator)
            if isinstance(ref, (Ident, AddressOf)) and V.get(ref.name) is not None:
                return V.get(ref.name)  # type: ignore[return-value]
        cands = V.matching(pattern)
        if not cands:
            raise ExportError(f"{loc}: the K-means anomaly block's {designator} is missing "
                              "(anomaly_clusters.h / anomaly_metadata.h)")
        return cands[0]

    scale = find("anom_scale", r"ei_classifier_anom_scale(_\d+)*")
    mean = find("anom_mean", r"ei_classifier_anom_mean(_\d+)*")
    clusters = find("anom_clusters", r"ei_classifier_anom_clusters(_\d+)*")
    axis = find("anom_axis", r"(ei_classifier_anom_axes(_\d+)*|EI_CLASSIFIER_ANOM_AXIS)")
    axes = _int_list(axis.value, f"{loc}: {axis.name}")
    sc = _num_list(scale.value, f"{loc}: {scale.name}")
    mn = _num_list(mean.value, f"{loc}: {mean.name}")
    if not isinstance(clusters.value, InitList):
        raise ExportError(f"{loc}: {clusters.name}: expected a list of clusters")
    cl = []
    for k, it in enumerate(clusters.value.items):
        c = it.value
        vals = c.values() if isinstance(c, (InitList, NumberArray)) else None
        if not vals or len(vals) != 2:
            raise ExportError(f"{loc}: {clusters.name}[{k}]: expected {{ {{centroid}}, max_error }}")
        center = _num_list(vals[0], f"{loc}: {clusters.name}[{k}]")
        err = vals[1]
        if not isinstance(err, (int, float)) or isinstance(err, bool):
            raise ExportError(f"{loc}: {clusters.name}[{k}]: max_error is not a number")
        cl.append({"center": center, "maxError": float(err)})
    n = len(axes)
    if len(sc) != n or len(mn) != n or any(len(c["center"]) != n for c in cl):
        raise ExportError(f"{loc}: K-means block: {n} axes but scale/mean/centroids of other "
                          "lengths")
    return {"axes": axes, "scale": sc, "mean": mn, "clusters": cl, "source": clusters.file}


def _gmm_axes(V: _Vars, loc: str, cfg: Any) -> dict[str, Any]:
    if isinstance(cfg, InitList):
        ref = cfg.get("anom_axis")
        if isinstance(ref, (Ident, AddressOf)) and V.get(ref.name) is not None:
            return {"axes": _int_list(V.get(ref.name).value, ref.name)}  # type: ignore[union-attr]
    raise ExportError(f"{loc}: the GMM anomaly block's axes (anom_axis) are missing")
