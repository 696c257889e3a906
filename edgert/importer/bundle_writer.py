"""Turning a read export into an ``edgert-impulse/1`` bundle.

The bundle is written into a temporary folder next to the destination, loaded and validated
completely with :meth:`edgert.impulse.Impulse.load` (models compiled, feature counts checked),
and only then moved into place: an import either gives a bundle that runs or an error, never a
bundle that fails later. What edgert cannot run is refused before anything is written, with
the block named and what edgert supports.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import EdgertError
from .export import AUDIO_DSP, SUPPORTED_TEXT, ImpulseExport, read_export
from .source import ExportError, find_export

log = logging.getLogger(__name__)

#: block types with implementation versions 1-4 (the names used in messages)
VERSIONED = {"spectral-analysis": "spectral analysis", "mfcc": "MFCC", "mfe": "MFE",
             "spectrogram": "spectrogram"}

DSP_TITLES = {"spectral-analysis": "Spectral Analysis", "raw": "Raw Data", "flatten": "Flatten",
              "mfcc": "Audio (MFCC)", "mfe": "Audio (MFE)", "spectrogram": "Spectrogram"}
AUDIO_NOTE = ("a Syntiant NDP audio front end, which only Syntiant's NDP chips run; an MFCC or "
              "MFE block in Studio gives an impulse edgert runs")


@dataclass
class ImportReport:
    """What was imported: the bundle's path, its impulse.json and per-model notes."""
    bundle: str
    document: dict[str, Any]
    models: dict[str, str] = field(default_factory=dict)     # file -> "tflite array"/"EON rebuilt"
    notes: list[str] = field(default_factory=list)


def check_supported(exp: ImpulseExport) -> None:
    """Refuse an impulse with a block edgert cannot run, naming the block."""
    loc = exp.files.location
    for b in exp.dsp:
        if b.type is None:
            what = f"DSP block {b.id} ({b.kind.replace('_', ' ')}, extract_{b.kind}_features)"
            if b.kind in AUDIO_DSP:
                raise ExportError(f"{loc}: {what}: {AUDIO_NOTE}; {SUPPORTED_TEXT}")
            raise ExportError(f"{loc}: {what} is not supported; {SUPPORTED_TEXT}")
        if b.type in VERSIONED and not 1 <= b.implementation_version <= 4:
            raise ExportError(f"{loc}: DSP block {b.id}: {VERSIONED[b.type]} implementation "
                              f"version {b.implementation_version}; edgert runs versions 1-4")
        for a in b.axes:
            if not 0 <= a < len(exp.axis_names):
                raise ExportError(f"{loc}: DSP block {b.id} uses input axis {a} but the impulse "
                                  f"has {len(exp.axis_names)} axes")
    if exp.frequency <= 0:
        raise ExportError(f"{loc}: not a time-series impulse (frequency {exp.frequency})")


def _model_bytes(exp: ImpulseExport, name: str) -> tuple[bytes, str]:
    src = exp.models[name]
    if src.tflite is not None:
        return src.tflite, "TFLite flatbuffer array (byte for byte)"
    from .eon import rebuild_tflite
    assert src.eon is not None
    return rebuild_tflite(src.eon, f"{exp.files.location}: {src.file}"), \
        "rebuilt from EON-compiled tables"


def build_document(exp: ImpulseExport, source: str) -> tuple[dict[str, Any], dict[str, bytes],
                                                              list[str]]:
    """impulse.json, the other files of the bundle (name -> bytes), notes for the user."""
    from ..runtime.bundle import parse_tflite_io
    check_supported(exp)
    notes: list[str] = []
    files: dict[str, bytes] = {}
    names = exp.axis_names
    window_ms = exp.window_size_ms
    slices = exp.defines.get("EI_CLASSIFIER_SLICES_PER_MODEL_WINDOW", "4").strip()
    slices_n = int(slices) if slices.isdigit() and int(slices) > 0 else 4
    dsp_docs = []
    for b in exp.dsp:
        params = {k: v for k, v in b.params.items() if not isinstance(v, (list, dict)) and
                  k not in ("axes", "block-id", "implementation-version")}
        if b.type == "flatten":
            # the 2020 flatten had only average/minimum/maximum/rms: a statistic the export's
            # layout does not have is off (edgert's defaults would turn it on)
            from ..dsp.flatten import FLATTEN_STATS
            for stat_name in FLATTEN_STATS:
                params.setdefault(stat_name, False)
            mav = params.pop("moving-avg-num-windows", None)
            if isinstance(mav, (int, float)) and mav > 1:
                notes.append(f"DSP block {b.id}: moving-avg-num-windows {mav} applies to "
                             "continuous inference in the SDK; edgert computes each window alone")
        dsp_docs.append({"id": b.id, "type": b.type, "name": DSP_TITLES[b.type or ""],
                         "title": DSP_TITLES[b.type or ""],
                         "implementation_version": b.implementation_version,
                         "axes": [names[a] for a in b.axes], "params": params})
    used_ids = {b.id for b in exp.dsp}
    learn_docs = []
    model_notes: dict[str, str] = {}
    eon: list[str] = []
    for lb in exp.learn:
        bid = lb.id
        if bid < 1 or bid in used_ids:
            bid = max(used_ids) + 1
            notes.append(f"learn block {lb.id} renumbered {bid} (ids must be unique and >= 1)")
        used_ids.add(bid)
        deps = [d for d in lb.dsp if d in {b.id for b in exp.dsp}] or [b.id for b in exp.dsp]
        if lb.kind == "keras":
            data, how = _model_bytes(exp, lb.model_name or "")
            ins, _outs = parse_tflite_io(data, f"{exp.files.location}: {lb.model_name}")
            variant = "int8" if ins[0].dtype == "int8" else "float32"
            fname = f"nn-{bid}-{'i8' if variant == 'int8' else 'f32'}.tflite"
            files[fname] = data
            model_notes[fname] = how
            if "EON" in how:
                eon.append(fname)
            if not exp.labels:
                raise ExportError(f"{exp.files.location}: learn block {lb.id} is a classifier "
                                  "but the export lists no labels")
            learn_docs.append({"id": bid, "type": "keras", "name": "NN Classifier",
                               "title": "Classification (Keras)", "dsp": deps,
                               "labels": list(exp.labels), "models": {variant: fname},
                               "thresholds": [{"key": "min_score", "value": 0.6}]})
        elif lb.kind == "anomaly":
            a = lb.anomaly or {}
            meta = {"scale": a["scale"], "mean": a["mean"], "axes": a["axes"],
                    "clusters": a["clusters"],
                    "thresholds": [{"key": "min_anomaly_score", "value": 0.3}]}
            fname = f"anomaly-{bid}.json"
            files[fname] = json.dumps(meta, indent=1).encode()
            learn_docs.append({"id": bid, "type": "anomaly", "name": "Anomaly detection",
                               "title": "Anomaly detection (K-means)", "dsp": deps,
                               "metadata": fname})
        elif lb.kind == "anomaly-gmm":
            data, how = _model_bytes(exp, lb.model_name or "")
            fname = f"gmm-{bid}.tflite"
            files[fname] = data
            model_notes[fname] = how
            learn_docs.append({"id": bid, "type": "anomaly-gmm", "name": "Anomaly detection",
                               "title": "Anomaly detection (GMM)", "dsp": deps,
                               "axes": (lb.anomaly or {}).get("axes", []),
                               "models": {"float32": fname}})
    project = {k: exp.project[k] for k in ("id", "name", "owner", "deploy_version")
               if k in exp.project}
    impulse_id = exp.project.get("impulse_id")
    doc: dict[str, Any] = {
        "format": "edgert-impulse/1",
        "project": project,
        "impulse_id": impulse_id if isinstance(impulse_id, int) and impulse_id >= 1 else 1,
        "input": {"type": "time-series", "frequency": exp.frequency, "axes": names,
                  "window_size_ms": window_ms, "window_increase_ms": window_ms / slices_n,
                  "zero_pad": True},
        "dsp": dsp_docs,
        "learn": learn_docs,
        "provenance": {
            "source": os.path.abspath(source) if os.path.exists(source) else source,
            "export_path": exp.files.location,
            "sdk_era": exp.era,
            "imported_by": f"edgert {__version__}",
            "imported_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "files": [{"path": rel, "bytes": len(text.encode()),
                       "sha256": hashlib.sha256(text.encode()).hexdigest()}
                      for rel, text in sorted(exp.files.files.items())],
            "eon_rebuilt": eon,
            "notes": notes + exp.notes,
        },
    }
    if "impulse_name" in exp.project:
        doc["provenance"]["impulse_name"] = exp.project["impulse_name"]
    notes.extend(f"{k}: {v}" for k, v in model_notes.items())
    return doc, files, notes


def write_bundle(doc: dict[str, Any], files: dict[str, bytes], out: Path, force: bool) -> None:
    """Write, validate, then move into place (directory, or a .zip when ``out`` ends so)."""
    from ..runtime.impulse import Impulse
    if out.exists() and not force:
        raise ExportError(f"{out} exists; pass --force to replace it")
    parent = out.parent if str(out.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".edgert-import-", dir=parent))
    try:
        stage = tmp / "bundle"
        stage.mkdir()
        (stage / "impulse.json").write_text(json.dumps(doc, indent=2) + "\n")
        for name, data in files.items():
            (stage / name).write_bytes(data)
        try:
            Impulse.load(stage, backend="auto")
        except EdgertError as exc:
            raise ExportError(f"the imported impulse does not load: {exc}") from exc
        if out.suffix.lower() == ".zip":
            zpath = tmp / "bundle.zip"
            with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
                for p in sorted(stage.iterdir()):
                    zf.write(p, p.name)
            final = zpath
        else:
            final = stage
        if out.exists():
            if out.is_dir() and not out.is_symlink():
                shutil.rmtree(out)
            else:
                out.unlink()
        os.replace(final, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def import_export(source: str, output: str, force: bool = False) -> ImportReport:
    """``edgert import SOURCE -o BUNDLE``: locate, read, check, convert, validate, write."""
    files = find_export(source)
    exp = read_export(files)
    doc, extra, notes = build_document(exp, source)
    out = Path(output)
    write_bundle(doc, extra, out, force)
    rep = ImportReport(str(out), doc, notes=notes)
    for lb in doc["learn"]:
        for fname in (lb.get("models") or {}).values():
            rep.models[fname] = "EON rebuilt" if fname in doc["provenance"]["eon_rebuilt"] \
                else "tflite array"
    return rep


__all__ = ["import_export", "ImportReport", "build_document", "write_bundle",
           "check_supported", "read_export", "find_export"]
