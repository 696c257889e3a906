"""Continuous audio: an impulse's DSP features slice by slice, as Edge Impulse's
``run_classifier_continuous`` computes them, and the SDK's moving-average filter.

Edge Impulse's SDK (``classifier/ei_run_classifier.h``, ``run_classifier_continuous``) takes one
slice of ``EI_CLASSIFIER_SLICE_SIZE`` samples per call (the window divided by
``EI_CLASSIFIER_SLICES_PER_MODEL_WINDOW``, 4 by default), runs the MFCC, MFE or spectrogram
block on that slice alone, shifts the slice's frames into a feature matrix that holds one window,
then applies the block's whole-window step (the cepstral mean-variance normalisation of MFCC, the
normalisation of MFE and spectrogram) to a copy of the matrix and runs the network on it - once
per slice, once a window's worth of slices was seen (before that the result is all zeros). Any
other DSP block makes the call fail. Because the slice's frames are computed from the slice
alone, its first frame's pre-emphasis, frames that straddle slice joins and spectrogram v3's
rescale decision differ from what the block computes on the whole window (docs/audio.md
quantifies it).

:class:`SliceFeatures` does the same per slice - one slice in, the features of the window
ending with it out - with :class:`edgert.dsp.audio.ContinuousFeatures` per block: the frames a
slice adds are computed once and kept while the window slides, and the whole-window steps run on
the assembled window, so each window's features are **bit for bit** the block's whole-window
features (what Studio trained on), not the SDK's per-slice approximation.

:class:`MovingAverageFilter` is the SDK's smoothing of continuous results up to its April 2022
releases (``run_moving_average_filter``): per label, a ring of the last ``n`` probabilities,
zero-filled at the start (so the first ``n - 1`` averages are diluted by those zeros), a float32
running sum updated by subtracting the value leaving the ring and adding the new one, and the sum
divided by ``n`` (not by the number of results held); the anomaly score is not averaged; ``n``
was ``EI_CLASSIFIER_SLICES_PER_MODEL_WINDOW / 2``. Later releases dropped that filter (the
``enable_maf`` argument is ignored) in favour of "performance calibration", a post-processing
step configured in Studio and off by default: their continuous results are not averaged.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..errors import ConfigurationError

AUDIO_BLOCK_TYPES = ("mfcc", "mfe", "spectrogram")


def continuous_unsupported_reason(impulse: Any, slice_samples: Optional[int] = None
                                  ) -> Optional[str]:
    """Why :class:`SliceFeatures` cannot run ``impulse`` with slices of ``slice_samples``
    (default: its window increase), or None when it can: every DSP block must be an audio
    block (MFCC, MFE, spectrogram - the blocks the SDK's continuous mode has) and the slice
    between 1 sample and the window."""
    if not impulse.dsp_blocks:
        return "the impulse has no DSP block"
    others = [f"{d.spec.id} ({d.spec.type})" for d in impulse.dsp_blocks
              if d.spec.type not in AUDIO_BLOCK_TYPES or not hasattr(d.block, "continuous")]
    if others:
        return ("continuous (slice by slice) features exist for MFCC, MFE and spectrogram "
                f"blocks only; DSP block {', '.join(others)} is not one")
    S = impulse.window_increase_samples if slice_samples is None else int(slice_samples)
    W = impulse.window_samples
    if not 1 <= S <= W:
        return f"a slice of {S} samples does not fit the window of {W} samples"
    return None


class SliceFeatures:
    """The DSP features of ``impulse`` for a stream cut into slices of ``slice_samples`` rows:
    after each slice, once the stream holds a window, the features of the window that ends
    with that slice (its last ``window_samples`` rows) - bit for bit what
    ``Impulse.compute_features`` gives on that window.

    ``lead``: zero rows put before the stream (fewer than a slice). ``Impulse.stream()`` uses
    ``(-W) % S`` so that its windows - window k covers rows ``k*S .. k*S+W-1``, as
    ``Impulse.classify`` cuts them with a window increase of S - end on slice boundaries; the
    zeros never lie inside a window. The ``.eim`` runner uses 0: its windows end with the
    client's slices, as the SDK's do.

    :meth:`push` takes any number of rows; rows short of a whole slice wait for the next push.
    Not thread-safe (one per stream). Raises ConfigurationError (with
    :func:`continuous_unsupported_reason`'s text) for an impulse it cannot run.
    """

    def __init__(self, impulse: Any, slice_samples: int, lead: int = 0):
        reason = continuous_unsupported_reason(impulse, slice_samples)
        if reason is not None:
            raise ConfigurationError(reason)
        self.impulse = impulse
        self.slice_samples = S = int(slice_samples)
        self.window_samples = W = impulse.window_samples
        if not 0 <= int(lead) < S:
            raise ConfigurationError(f"lead must be 0..{S - 1} rows, got {lead}")
        self.lead = int(lead)
        self.n_axes = len(impulse.axes)
        axes = list(impulse.axes)
        #: (dsp id, column of its axis, ContinuousFeatures, features per window)
        self._blocks = [(d.spec.id, axes.index(d.spec.axes[0]), d.block.continuous(W, S),
                         d.n_features) for d in impulse.dsp_blocks]
        self._first = -(-W // S)    # slices (lead included) up to the first full window
        self.reset()

    def reset(self) -> None:
        """Forget the stream (the next rows start a new one)."""
        for _, _, cont, _ in self._blocks:
            cont.reset()
        self._slices = 0
        self._pending = np.zeros((self.lead, self.n_axes), dtype=np.float32)

    @property
    def windows_done(self) -> int:
        """Windows produced since the last reset (the index of the next one)."""
        return max(0, self._slices - self._first + 1)

    @property
    def reuses_frames(self) -> bool:
        """Whether frames computed for earlier windows are reused (see ContinuousFeatures)."""
        return all(cont.reuses_frames for _, _, cont, _ in self._blocks)

    def push(self, rows: np.ndarray) -> dict[int, np.ndarray]:
        """Append ``rows`` (float32 (n, axes), finite: the caller checks them once for the
        whole chunk) and return ``{dsp id: (m, F) float32}`` for the m windows they complete
        (new arrays)."""
        S = self.slice_samples
        if self._pending.shape[0]:
            rows = np.concatenate([self._pending, rows])
        k = rows.shape[0] // S
        self._pending = rows[k * S:].copy()
        m = max(0, self._slices + k - self._first + 1) - self.windows_done
        out = {bid: np.empty((m, F), dtype=np.float32) for bid, _, _, F in self._blocks}
        j = 0
        for q in range(k):
            piece = rows[q * S:(q + 1) * S]
            ready = False
            for bid, col, cont, _ in self._blocks:
                feats = cont.push_checked(piece[:, col])
                if feats is not None:
                    out[bid][j] = feats
                    ready = True
            self._slices += 1
            j += ready
        if j != m:   # the blocks share one window length: they fill up together
            raise AssertionError(f"continuous features: {j} windows, expected {m}")
        return out


class MovingAverageFilter:
    """The SDK's moving average of continuous results (see the module docstring): per label a
    zero-filled ring of ``n`` float32 probabilities and a float32 running sum, divided by
    ``n``. ``n`` = 1 passes results through unchanged."""

    def __init__(self, n: int, labels: int):
        n = int(n)
        if n < 1:
            raise ConfigurationError(f"the moving average must cover >= 1 result, got {n}")
        self.n = n
        self._values = np.zeros((n, labels), dtype=np.float32)
        self._sum = np.zeros(labels, dtype=np.float32)
        self._next = 0

    def reset(self) -> None:
        self._values[:] = 0
        self._sum[:] = 0
        self._next = 0

    def __call__(self, probabilities: np.ndarray) -> np.ndarray:
        """The averaged probabilities after this result (float32, a new array)."""
        p = np.asarray(probabilities, dtype=np.float32)
        if self.n == 1:
            return p.copy()
        i = self._next
        self._sum -= self._values[i]
        self._sum += p
        self._values[i] = p
        self._next = (i + 1) % self.n
        return self._sum / np.float32(self.n)


__all__ = ["SliceFeatures", "MovingAverageFilter", "continuous_unsupported_reason",
           "AUDIO_BLOCK_TYPES"]
