"""An impulse, loaded from a bundle, classifying whole recordings window by window in
whole-array native calls.

Public API (stable; the dataset tools build on it)::

    from edgert.runtime.impulse import Impulse
    imp = Impulse.load("examples/motion-demo", backend="auto")   # BundleError when invalid
    imp.frequency, imp.axes, imp.labels                # 62.5, ("accX", ...), ("idle", ...)
    imp.window_samples, imp.window_increase_samples    # W, S (samples at imp.frequency)
    imp.window_size_ms, imp.window_increase_ms, imp.zero_pad, imp.variants
    imp.feature_labels                                  # one name per DSP feature column

    res = imp.classify(values, frequency=None, variant=None, axes=None, threads=1)
        # values: (n, len(imp.axes)) array, or a flat interleaved 1-D array;
        # frequency: the recording's (default imp.frequency; resampled when different);
        # axes: the recording's column names (reordered to imp.axes);
        # variant: "float32" / "int8" / None (float32 when the bundle has it).
    res -> edgert.runtime.results.ClassificationResult:
        len(res), res[w] / iter(res) -> WindowResult(index, start_ms, end_ms, scores{label: p},
            anomaly, top_label, top_score, label (Studio's prediction), anomalous)
        res.start_rows, res.start_ms, res.end_ms, res.probabilities (n, L) float32,
        res.anomaly (n,) float32, res.outputs {learn id: array}, res.predictions,
        res.anomalous, res.variant, res.labels, res.min_score, res.anomaly_threshold,
        res.features {dsp id: (n, F)}, res.summary(),
        res.to_studio_json(sample=Recording|mapping, sample_id=.., category=..)
    feats = imp.features(values, frequency=None, axes=None)
        -> edgert.runtime.results.FeatureResult(labels, features (n, F) float32, by_block, start_rows,
           start_ms); feats.to_json() -> {"labels": [...], "windows": [{start_ms, features}]}
    imp.run_learn(features_by_dsp: {dsp id: (n, F)}, variant=None) -> {learn id: array}
    imp.learn_blocks[i]: KerasRunner (.quantize_input(X, variant), .invoke(Xq, variant),
        .predict(X, variant)) / AnomalyRunner (.score(X))
    stream = imp.stream(smoothing=None, variant=None, continuous=None)
        # edgert.runtime.stream.Stream; audio impulses slice by slice
    stream.push(samples) -> list of StreamResult (results that became due)
    imp.classify_window(raw, variant=None) -> WindowResult   # ONE window, one C call
        # raw: window_samples rows of len(imp.axes) values at imp.frequency, in imp.axes
        # order ((W, axes) or flat interleaved); the faces' per-window entry point
    imp.plan(variant=None) -> edgert.runtime.impulse_plan.ImpulsePlan (the compiled C plan;
        plan.buffers() + plan.run_into(raw, buffers) for zero-allocation use);
        PlanUnsupportedError saying why for impulses it cannot represent, which then run
        through the batch path (imp.plan_unsupported_reason(variant))
    imp.prepare(values, frequency, axes) -> float32 (rows, axes) at imp.frequency (validated,
        resampled); imp.windows(n_rows) -> int32 window starts (InputError when none);
    imp.compute_features(data, starts) -> {dsp id: (n, F)}; imp.describe() -> dict (edgert info)
    imp.resolve_variant(variant) -> the variant that would run

Pipeline per call (whole recordings): check/resample the recording; cut the windows (``edgert.runtime.windowing``); each
DSP block computes all windows in one C call; each learn block's input is its DSP blocks'
features concatenated; a classifier runs all windows in one batched engine call (int8 models:
inputs quantized round-half-away-from-zero, outputs dequantized); K-means scores all windows in
one C call; GMM through the engine. Everything is float32 as Edge Impulse's SDK computes.

One window at a time (``classify_window``, :class:`~edgert.runtime.stream.Stream`, and
``classify`` of recordings of up to ``PLAN_MAX_WINDOWS`` windows) the whole impulse runs as
one compiled C plan (:mod:`edgert.runtime.impulse_plan`) in one call: the same kernels on the
same values, so the numbers are identical to the batch path's.
"""
from __future__ import annotations

import functools
import logging
import math
import operator
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from .anomaly import GmmScorer, KMeansScorer
from .bundle import Bundle, DspSpec, LearnSpec, load_bundle
from .._ffi import ffi, lib
from ..errors import BundleError, ConfigurationError, EdgertError, InputError, ModelError
from ..recording.data import Recording
from .axes import select_columns
from .results import ClassificationResult, FeatureResult, WindowResult
from .windowing import (dequantize_int8, quantize_int8, resample, window_geometry,
                        window_starts, zero_pad_to)

log = logging.getLogger("edgert.runtime.impulse")
_F32 = np.dtype(np.float32)
_NDARRAY = np.ndarray
_COPY_FINITE = lib.edgert_copy_finite
_FROM_BUFFER = ffi.from_buffer
_FLOATS = ffi.typeof("float[]")

#: ``classify`` runs recordings of up to this many windows through the compiled plan (one C
#: call: less fixed cost); longer ones through the whole-array batch calls (same numbers).
PLAN_MAX_WINDOWS = 64


@dataclass
class DspRunner:
    """A DSP block of the impulse: its spec, the dsp object and its output width. ``labels``
    (one name per feature) are built on first use: a raw block has one per value of the
    window, which loading and classifying never need."""
    spec: DspSpec
    block: Any
    n_features: int
    window_samples: int

    @functools.cached_property
    def labels(self) -> tuple[str, ...]:
        labels = tuple(self.block.labels(self.window_samples))
        if len(labels) != self.n_features:
            labels = tuple(f"{self.spec.id}.f{k}" for k in range(self.n_features))
        return labels

    def run(self, data: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
        if len(starts) == 0:
            return np.zeros((0, self.n_features), dtype=np.float32)
        out = self.block.features_batch(data, starts, window)
        return np.asarray(out, dtype=np.float32)


class KerasRunner:
    """A classifier block: one engine model per variant, loaded on first use."""

    def __init__(self, spec: LearnSpec, n_features: int, backend: str):
        self.spec = spec
        self.n_features = n_features
        self.backend = backend
        self._models: dict[str, Any] = {}

    @property
    def labels(self) -> tuple[str, ...]:
        return self.spec.labels

    def model(self, variant: str) -> Any:
        if variant not in self._models:
            from ..engine import load_model
            mf = self.spec.models[variant]
            try:
                self._models[variant] = load_model(mf.data, backend=self.backend)
            except EdgertError as exc:
                raise ModelError(f"learn block {self.spec.id} ({self.spec.name}), "
                                 f"{mf.name}: {exc}") from exc
        return self._models[variant]

    def quantize_input(self, x: np.ndarray, variant: str) -> np.ndarray:
        """The network input for float32 features ``x`` (n, F): int8-quantized for an int8
        input tensor, float32 otherwise; shaped (n, *input_shape[1:])."""
        tin = self.model(variant).inputs[0]
        shape = (x.shape[0],) + tuple(int(d) for d in tin.shape[1:])
        if np.dtype(tin.dtype) == np.int8:
            return quantize_int8(x, tin.scale, tin.zero_point).reshape(shape)
        if np.dtype(tin.dtype) != np.float32:
            raise ModelError(f"{self.spec.models[variant].name}: input type {tin.dtype} is not "
                             "supported (float32 or int8)")
        return np.ascontiguousarray(x, dtype=np.float32).reshape(shape)

    def invoke(self, xin: np.ndarray, variant: str) -> np.ndarray:
        """Raw network output (n, outputs) in the output tensor's dtype (one batched call)."""
        out = self.model(variant).invoke_batch(xin)
        if isinstance(out, (list, tuple)):
            out = out[0]
        return np.asarray(out).reshape(xin.shape[0], -1)

    def dequantize_output(self, raw: np.ndarray, variant: str) -> np.ndarray:
        tout = self.model(variant).outputs[0]
        if np.dtype(tout.dtype) == np.int8:
            return dequantize_int8(raw, tout.scale, tout.zero_point)
        return np.asarray(raw, dtype=np.float32)

    def predict(self, x: np.ndarray, variant: str) -> np.ndarray:
        """(n, labels) float32 probabilities of (n, F) float32 features."""
        if x.shape[0] == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return self.dequantize_output(self.invoke(self.quantize_input(x, variant), variant),
                                      variant)


class AnomalyRunner:
    """An anomaly block (K-means in C, or GMM through the engine)."""

    def __init__(self, spec: LearnSpec, n_features: int, backend: str):
        self.spec = spec
        self.n_features = n_features
        if spec.type == "anomaly":
            try:
                self.scorer: Any = KMeansScorer(spec.metadata or {}, n_features)
            except ConfigurationError as exc:
                raise BundleError(f"{spec.metadata_file}: {exc} (learn block {spec.id} gets "
                                  f"{n_features} features from DSP blocks {list(spec.dsp)})") \
                    from exc
        else:
            from ..engine import load_model
            mf = spec.models["float32"]
            self.scorer = GmmScorer(load_model(mf.data, backend=backend), spec.axes, n_features)

    def score(self, x: np.ndarray) -> np.ndarray:
        return self.scorer.score(x)


def _thread_count(threads: Any) -> int:
    """``threads`` as a count >= 1 (InputError for 0, negatives, bools and non-integers)."""
    try:
        if isinstance(threads, bool):
            raise TypeError
        n = operator.index(threads)
    except TypeError:
        raise InputError(f"threads must be a whole number >= 1, got {threads!r}") from None
    if n < 1:
        raise InputError(f"threads must be >= 1, got {n}")
    return n


class Impulse:
    """A loaded, validated impulse (see the module docstring for the API)."""

    def __init__(self, bundle: Bundle, backend: str = "auto"):
        from ..dsp import make_dsp_block
        self.bundle = bundle
        self.backend = backend
        inp = bundle.input
        self.frequency = float(inp.frequency)
        self.axes: tuple[str, ...] = inp.axes
        self._n_axes = len(self.axes)
        self.window_size_ms = float(inp.window_size_ms)
        self.window_increase_ms = float(inp.window_increase_ms)
        self.zero_pad = bool(inp.zero_pad)
        self.window_samples, self.window_increase_samples = window_geometry(
            self.window_size_ms, self.window_increase_ms, self.frequency)
        where = f"{bundle.source}/impulse.json"
        W = self.window_samples
        self.dsp_blocks: list[DspRunner] = []
        for i, spec in enumerate(bundle.dsp):
            try:
                blk = make_dsp_block(dict(spec.raw), self.frequency, list(self.axes))
                n = int(blk.n_features(W))
            except EdgertError as exc:
                raise BundleError(f"{where}: dsp[{i}] (id {spec.id}, {spec.type}): {exc}") \
                    from exc
            self.dsp_blocks.append(DspRunner(spec, blk, n, W))
        self._dsp_by_id = {d.spec.id: d for d in self.dsp_blocks}
        self.learn_blocks: list[Union[KerasRunner, AnomalyRunner]] = []
        for i, spec in enumerate(bundle.learn):
            n_in = sum(self._dsp_by_id[d].n_features for d in spec.dsp)
            if spec.type == "keras":
                for variant, mf in spec.models.items():
                    if mf.inputs[0].size != n_in:
                        raise BundleError(
                            f"{where}: learn[{i}].models.{variant}: {mf.name} takes "
                            f"{mf.inputs[0].size} features but DSP blocks {list(spec.dsp)} give "
                            f"{n_in} per window")
                self.learn_blocks.append(KerasRunner(spec, n_in, backend))
            else:
                self.learn_blocks.append(AnomalyRunner(spec, n_in, backend))
        keras = [b for b in self.learn_blocks if isinstance(b, KerasRunner)]
        self.labels: tuple[str, ...] = keras[0].labels if keras else ()
        variants = [set(b.spec.models) for b in keras]
        self.variants: tuple[str, ...] = tuple(v for v in ("float32", "int8")
                                               if variants and all(v in s for s in variants))
        if keras and not self.variants:
            raise BundleError(f"{where}: the classifiers have no model variant in common")
        self._plans: dict[Optional[str], Any] = {}   # variant -> ImpulsePlan or the reason
        self._plans_lock = threading.Lock()

    @functools.cached_property
    def feature_labels(self) -> tuple[str, ...]:
        """One name per DSP feature column (all blocks, in bundle order), built on first
        use."""
        return tuple(lab for d in self.dsp_blocks for lab in d.labels)

    @classmethod
    def load(cls, path: Union[str, Path], backend: str = "auto") -> "Impulse":
        """Load and fully validate a bundle (directory or .zip). ``backend``: the engine
        backend for the networks ("native", "tflite" or "auto")."""
        imp = cls(load_bundle(path), backend=backend)
        for b in imp.learn_blocks:   # parse every model now: errors belong to load time
            if isinstance(b, KerasRunner):
                for variant in b.spec.models:
                    b.model(variant)
        return imp

    # -------------------------------------------------------------------------- input
    def resolve_variant(self, variant: Optional[str]) -> Optional[str]:
        if not self.variants:
            if variant is not None and variant not in ("float32", "int8"):
                raise InputError(f"unknown model variant {variant!r} (expected float32 or int8)")
            return None
        if variant is None:
            return "float32" if "float32" in self.variants else self.variants[0]
        if variant not in ("float32", "int8"):
            raise InputError(f"unknown model variant {variant!r} (expected float32 or int8)")
        if variant not in self.variants:
            raise InputError(f"this bundle has no {variant} model (it has: "
                             f"{', '.join(self.variants)})")
        return variant

    def prepare(self, values: Any, frequency: Optional[float] = None,
                axes: Optional[Sequence[str]] = None,
                use_axes: Optional[Sequence[str]] = None) -> np.ndarray:
        """The recording as float32 (rows, len(self.axes)) at the impulse frequency.

        ``values``: a :class:`~edgert.recording.Recording` (its frequency and column names are
        used unless given), a (rows, columns) array, or a flat interleaved array.
        ``axes``: the names of the columns (matched to the impulse's axes by name; without
        names the columns must be the impulse's axes in its order). ``use_axes``: the columns
        to use, one per impulse axis in the impulse's order, when the names differ
        (see :mod:`edgert.runtime.axes`)."""
        if isinstance(values, Recording):
            if frequency is None:
                frequency = values.frequency
            if axes is None:
                axes = values.axes
            where = values.filename
            values = values.values
        else:
            where = "the recording"
        if use_axes is not None and axes is None:
            raise InputError("use_axes maps named recording columns to the impulse's axes: "
                             "give the recording's column names too (axes=...)")
        try:
            arr = np.asarray(values)
        except ValueError as exc:       # ragged nested lists
            raise InputError(f"recording values must be a (rows, axes) array: {exc}") from None
        if arr.dtype == object or np.issubdtype(arr.dtype, np.complexfloating) or not (
                np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise InputError(f"recording values must be real numbers, got dtype {arr.dtype}")
        n_axes = len(axes) if axes is not None else len(self.axes)
        if arr.ndim == 1:
            if arr.size % n_axes:
                raise InputError(f"a flat recording must hold a multiple of {n_axes} values "
                                 f"(interleaved {', '.join(axes or self.axes)}), got {arr.size}")
            arr = arr.reshape(-1, n_axes)
        if arr.ndim != 2:
            raise InputError(f"recording values must be (rows, axes), got shape {arr.shape}")
        if arr.shape[1] != n_axes:
            if axes is not None:
                raise InputError(f"the recording has {arr.shape[1]} values per row but names "
                                 f"{n_axes} axes ({', '.join(axes)})")
            raise InputError(f"the recording has {arr.shape[1]} axes per row but the impulse "
                             f"takes {len(self.axes)} ({', '.join(self.axes)})")
        if arr.shape[0] == 0:
            raise InputError("the recording is empty")
        with np.errstate(over="ignore"):   # too large for float32 -> inf, reported below
            data = np.ascontiguousarray(arr, dtype=np.float32)
        bad = ~np.isfinite(data)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise InputError(f"the recording holds {int(bad.sum())} NaN/inf values (first at "
                             f"row {int(r)}, axis {int(c)}; values beyond float32's range "
                             "count as inf); clean or drop them first")
        if axes is not None:
            data = select_columns(data, axes, self.axes, use_axes, where)
        if frequency is not None:
            try:
                if isinstance(frequency, bool):
                    raise TypeError
                f = float(frequency)
            except (TypeError, ValueError):
                raise InputError(f"the recording's frequency must be a number in Hz, got "
                                 f"{frequency!r}") from None
            if not (f > 0 and math.isfinite(f)):
                raise InputError(f"the recording's frequency must be positive, got {frequency}")
            if not math.isclose(f, self.frequency, rel_tol=1e-6):
                log.info("resampling %d rows from %g Hz to %g Hz", data.shape[0], f,
                         self.frequency)
                data = resample(data, f, self.frequency)
        return data

    def windows(self, n_rows: int) -> np.ndarray:
        """Start rows of the windows over n_rows samples (InputError when there is none)."""
        W, S = self.window_samples, self.window_increase_samples
        starts = window_starts(n_rows, W, S, self.zero_pad)
        if len(starts) == 0:
            raise InputError(
                f"the recording is {n_rows} samples ({n_rows * 1000.0 / self.frequency:g} ms at "
                f"{self.frequency:g} Hz), shorter than one window ({W} samples, "
                f"{self.window_size_ms:g} ms), and the impulse has zero-padding off")
        return starts

    # ---------------------------------------------------------------------- pipeline
    def compute_features(self, data: np.ndarray, starts: np.ndarray) -> dict[int, np.ndarray]:
        """{dsp id: (n, F) float32} for windows at ``starts`` of prepared ``data``."""
        W = self.window_samples
        if data.shape[0] < W:
            data = zero_pad_to(data, W)
        starts = np.ascontiguousarray(starts, dtype=np.int32)
        return {d.spec.id: d.run(data, starts, W) for d in self.dsp_blocks}

    def learn_input(self, spec: LearnSpec, feats: Mapping[int, np.ndarray]) -> np.ndarray:
        parts = [feats[d] for d in spec.dsp]
        x = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        return np.ascontiguousarray(x, dtype=np.float32)

    def run_learn(self, feats: Mapping[int, np.ndarray],
                  variant: Optional[str] = None) -> dict[int, np.ndarray]:
        """{learn id: output} from {dsp id: (n, F) features}: probabilities (n, labels) for
        classifiers, scores (n,) for anomaly blocks."""
        variant = self.resolve_variant(variant)
        out: dict[int, np.ndarray] = {}
        for b in self.learn_blocks:
            x = self.learn_input(b.spec, feats)
            if x.shape[1] != b.n_features:
                raise InputError(f"learn block {b.spec.id} takes {b.n_features} features per "
                                 f"window, got {x.shape[1]}")
            if isinstance(b, KerasRunner):
                out[b.spec.id] = b.predict(x, variant or "float32")
            else:
                out[b.spec.id] = b.score(x)
        return out

    def _compute(self, data: np.ndarray, starts: np.ndarray, variant: Optional[str],
                 threads: int) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
        def work(part: np.ndarray):
            f = self.compute_features(data, part)
            return f, self.run_learn(f, variant)
        if threads <= 1 or len(starts) < 2 * threads:
            return work(starts)
        parts = np.array_split(starts, threads)
        with ThreadPoolExecutor(max_workers=threads) as ex:
            done = list(ex.map(work, parts))
        feats = {k: np.concatenate([d[0][k] for d in done]) for k in done[0][0]}
        outs = {k: np.concatenate([d[1][k] for d in done]) for k in done[0][1]}
        return feats, outs

    def _classify_plan(self, values: Any, data: Optional[np.ndarray], frequency: Any,
                       variant: Optional[str]) -> Optional[ClassificationResult]:
        """``classify`` of a short recording in ONE C call through the compiled plan (the
        batch path's numbers, a fraction of its fixed cost), or None when that path does not
        apply: more than PLAN_MAX_WINDOWS windows, no plan for this impulse, or - for raw
        ``values`` (``data`` None: a float32 (rows, axes) C-contiguous array at the impulse
        frequency, no axis names) - NaN/inf in it (the batch path then says where)."""
        n_rows = (data if data is not None else values).shape[0]
        W, S = self.window_samples, self.window_increase_samples
        n = (n_rows - W) // S + 1 if n_rows >= W else (1 if self.zero_pad else 0)
        if not 0 < n <= PLAN_MAX_WINDOWS:
            return None
        plan = self._plan_or_none(variant)
        if plan is None:
            return None
        buf = plan.thread_buffers()
        src = values if data is None else data
        if n > buf.capacity or n_rows > len(buf.staging):   # PLAN_MAX_WINDOWS > PASS_WINDOWS
            return None
        # copy into the staging rows, checking every value (prepare() checked ``data``)
        if _COPY_FINITE(_FROM_BUFFER(_FLOATS, src), src.size, buf.staging_ptr):
            return None
        if n_rows < W:
            buf.staging[n_rows:W] = 0.0
        st = buf.call(buf.staging_ptr, n_rows if n_rows > W else W, n)
        if st:
            raise plan._fail(st)
        # the plan's rows, copied (buf is reused); the per-block arrays, the window objects
        # and the rest are cut from them when something reads them
        return ClassificationResult.from_plan_rows(
            bundle=self.bundle, variant=variant, frequency=self.frequency,
            source_frequency=float(frequency) if frequency else self.frequency,
            data=src, window_samples=W, plan=plan, outputs=buf.outputs[:n].copy(),
            features=buf.features[:n].copy(), prediction_index=buf.prediction[:n].copy())

    # ------------------------------------------------------------------ one window
    def _plan_or_none(self, variant: Optional[str]) -> Any:
        """The compiled plan of a resolved variant, or None when the impulse has a part it
        cannot represent (built once; the reason is logged once)."""
        got = self._plans.get(variant)
        if got is None:
            from .impulse_plan import ImpulsePlan, PlanUnsupportedError
            with self._plans_lock:
                got = self._plans.get(variant)
                if got is None:
                    try:
                        got = ImpulsePlan(self, variant)
                    except PlanUnsupportedError as exc:
                        got = exc
                        log.info("%s: one-window calls use the batch path: %s",
                                 self.bundle.source, exc)
                    self._plans[variant] = got
        return None if isinstance(got, Exception) else got

    def plan(self, variant: Optional[str] = None) -> Any:
        """The whole impulse compiled into one C plan for ``variant`` (built once, cached):
        an :class:`edgert.runtime.impulse_plan.ImpulsePlan`. Raises
        :class:`~edgert.runtime.impulse_plan.PlanUnsupportedError` saying what the plan
        cannot represent."""
        variant = self.resolve_variant(variant)
        plan = self._plan_or_none(variant)
        if plan is None:
            raise self._plans[variant]
        return plan

    def plan_unsupported_reason(self, variant: Optional[str] = None) -> Optional[str]:
        """Why one-window calls of ``variant`` run through the batch path (None when they
        run the compiled plan)."""
        variant = self.resolve_variant(variant)
        return None if self._plan_or_none(variant) is not None else str(self._plans[variant])

    def classify_window(self, raw: Any, variant: Optional[str] = None) -> WindowResult:
        """Classify ONE window: ``raw`` holds ``window_samples`` rows of ``len(axes)``
        values at the impulse's frequency, axes in :attr:`axes` order ((W, axes) array or
        flat interleaved; float32 C-contiguous avoids a conversion). One C call through the
        compiled plan (the batch path's numbers); impulses the plan cannot represent take the
        batch path on the window. The result's index is 0 and its span 0 .. window_size_ms.
        For a zero-allocation loop use ``plan(variant).run_into(raw, buffers)``."""
        variant = self.resolve_variant(variant)
        plan = self._plan_or_none(variant)
        if plan is not None:
            return plan.classify_window(raw)
        arr = np.asarray(raw)
        n_axes = len(self.axes)
        if arr.size != self.window_samples * n_axes or (arr.ndim == 2 and
                                                       arr.shape[1] != n_axes) or arr.ndim > 2:
            raise InputError(f"a window is {self.window_samples} rows x {n_axes} axes, got "
                             f"shape {arr.shape}")
        data = self.prepare(arr.reshape(self.window_samples, n_axes))
        starts = np.zeros(1, dtype=np.int32)
        feats, outs = self._compute(data, starts, variant, 1)
        return ClassificationResult(
            bundle=self.bundle, variant=variant, frequency=self.frequency,
            source_frequency=self.frequency, data=data, start_rows=starts,
            window_samples=self.window_samples, outputs=outs, features=feats)[0]

    def classify(self, values: Any, frequency: Optional[float] = None,
                 variant: Optional[str] = None, axes: Optional[Sequence[str]] = None,
                 threads: int = 1, use_axes: Optional[Sequence[str]] = None
                 ) -> ClassificationResult:
        """Classify every window of a whole recording (see the module docstring; ``values``,
        ``frequency``, ``axes`` and ``use_axes`` as :meth:`prepare` takes them).
        ``threads`` > 1 splits the windows over that many threads (the C calls release the
        GIL)."""
        if threads.__class__ is not int or threads < 1:
            threads = _thread_count(threads)          # InputError for anything but >= 1
        if type(values) is _NDARRAY and values.dtype is _F32 and axes is None and \
                use_axes is None and (frequency is None or frequency == self.frequency):
            # the lean path: a float32 (rows, axes) C-contiguous recording at the impulse
            # frequency, up to PLAN_MAX_WINDOWS windows - one checked copy, one C call
            shape = values.shape
            if len(shape) == 2 and shape[1] == self._n_axes and shape[0] > 0 and \
                    values.flags.c_contiguous:
                res = self._classify_plan(values, None, frequency,
                                          self.resolve_variant(variant))
                if res is not None:
                    return res
        if isinstance(values, Recording) and frequency is None:
            frequency = values.frequency
        variant = self.resolve_variant(variant)
        data = self.prepare(values, frequency, axes, use_axes)
        starts = self.windows(data.shape[0])
        res = self._classify_plan(values, data, frequency, variant)
        if res is not None:
            return res
        feats, outs = self._compute(data, starts, variant, threads)
        return ClassificationResult(
            bundle=self.bundle, variant=variant, frequency=self.frequency,
            source_frequency=float(frequency) if frequency else self.frequency, data=data,
            start_rows=starts, window_samples=self.window_samples, outputs=outs,
            features=feats)

    def features(self, values: Any, frequency: Optional[float] = None,
                 axes: Optional[Sequence[str]] = None,
                 use_axes: Optional[Sequence[str]] = None) -> FeatureResult:
        """DSP features of every window (no learn block needed); arguments as
        :meth:`prepare`."""
        data = self.prepare(values, frequency, axes, use_axes)
        starts = self.windows(data.shape[0])
        feats = self.compute_features(data, starts)
        parts = [feats[d.spec.id] for d in self.dsp_blocks]
        allf = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        return FeatureResult(self.feature_labels, allf, feats, starts.astype(np.int64),
                             starts * (1000.0 / self.frequency), self.frequency)

    def stream(self, smoothing: Any = None, variant: Optional[str] = None,
               continuous: Optional[bool] = None):
        """A streaming classifier over this impulse (see :mod:`edgert.runtime.stream`): audio
        impulses slice by slice (``continuous``: None = when possible, False = whole windows,
        True = slice by slice or ConfigurationError)."""
        from .stream import Stream
        return Stream(self, smoothing=smoothing, variant=variant, continuous=continuous)

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (what `edgert info` prints)."""
        b = self.bundle
        return {
            "bundle": b.source,
            "project": dict(b.project),
            "impulse_id": b.impulse_id,
            "input": {"frequency": self.frequency, "axes": list(self.axes),
                      "window_size_ms": self.window_size_ms,
                      "window_increase_ms": self.window_increase_ms,
                      "window_samples": self.window_samples,
                      "window_increase_samples": self.window_increase_samples,
                      "zero_pad": self.zero_pad},
            "dsp": [{"id": d.spec.id, "type": d.spec.type,
                     "implementation_version": d.spec.implementation_version,
                     "axes": list(d.spec.axes), "features": d.n_features}
                    for d in self.dsp_blocks],
            "learn": [self._describe_learn(b) for b in self.learn_blocks],
            "variants": list(self.variants),
            **({"provenance": dict(b.provenance)} if b.provenance else {}),
        }

    def _describe_learn(self, b: Union[KerasRunner, AnomalyRunner]) -> dict[str, Any]:
        s = b.spec
        d: dict[str, Any] = {"id": s.id, "type": s.type, "name": s.name, "title": s.title,
                             "dsp": list(s.dsp), "input_features": b.n_features,
                             "thresholds": {t.key: t.value for t in s.thresholds}}
        if isinstance(b, KerasRunner):
            d["labels"] = list(s.labels)
            models = {}
            for v, mf in s.models.items():
                m = b.model(v)
                models[v] = {"file": mf.name, "bytes": len(mf.data),
                             "input": {"shape": list(mf.inputs[0].shape),
                                       "dtype": mf.inputs[0].dtype},
                             "output": {"shape": list(mf.outputs[0].shape),
                                        "dtype": mf.outputs[0].dtype},
                             "arena_bytes": getattr(m, "arena_bytes", None),
                             **_engine_of(m, mf.data)}
            d["models"] = models
        elif s.type == "anomaly":
            d["axes"] = list(s.axes)
            d["clusters"] = len((s.metadata or {}).get("clusters", []))
            d["metadata"] = s.metadata_file
        else:
            d["axes"] = list(s.axes)
            d["models"] = {v: mf.name for v, mf in s.models.items()}
        return d


__all__ = ["Impulse", "KerasRunner", "AnomalyRunner", "DspRunner"]


def _engine_of(model: Any, data: bytes) -> dict[str, Any]:
    """Which engine runs a model, and when it is not the native one, the operator (the
    compiler's message) that keeps it off it."""
    from ..engine.model import InterpreterModel
    if not isinstance(model, InterpreterModel):
        return {"engine": "native"}
    from ..engine.compiler import unsupported_reason
    from ..engine.reader import read_graph
    try:
        reason = unsupported_reason(read_graph(data))
    except Exception as exc:  # noqa: BLE001 - a description, not a check
        reason = str(exc)
    return {"engine": "tflite-interpreter", "native_unsupported": reason}
