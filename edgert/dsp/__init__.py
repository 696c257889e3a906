"""DSP blocks of an impulse: Spectral Analysis (versions 1-4), ``raw``, ``flatten``, and the
audio blocks ``mfcc``, ``mfe`` and ``spectrogram`` (versions 1-4, :mod:`edgert.dsp.audio`).

Every block has the same interface (:class:`DspBlock`)::

    block = make_dsp_block(bundle["dsp"][0], frequency=62.5, input_axes=["accX", "accY", "accZ"])
    block.n_features(125)            # features per window of 125 samples -> 33
    block.labels(125)                # ["accX RMS", "accX Skewness", ..., "accZ Spectral Power ..."]
    X = block.features_batch(data, starts, 125)
    #   data: (n_rows, len(input_axes)) recording, any real dtype (converted to float32);
    #   starts: first row of every window; ALL windows in one C call;
    #   returns (len(starts), n_features) float32
    block.features(window)           # one window: (n_samples, n_axes) or flat interleaved

``make_dsp_block(block_dict, frequency, input_axes)`` takes a bundle's DSP entry
(``{"type": "spectral-analysis" | "raw" | "flatten" | "mfcc" | "mfe" | "spectrogram",
"implementation_version": 4,
"axes": [...], "params": {Studio keys}}``); the block picks its axes from ``input_axes`` by name.
Configuration problems raise :class:`edgert.errors.ConfigurationError`, bad data
:class:`edgert.errors.InputError`, both with a message saying what to change.
``features_batch`` is safe to call from several threads at once (the C core is reentrant and
scratch memory is allocated per call).

Blocks can also be built directly: ``SpectralAnalysis(params, sampling_freq, axes,
implementation_version)``, ``RawBlock(params, sampling_freq, axes)``,
``FlattenBlock(params, sampling_freq, axes)``, ``MFCC(params, sampling_freq, axes,
implementation_version)`` (likewise ``MFE``, ``Spectrogram``); ``SpectralAnalysis.axis_labels(n)``
gives the per-axis names exactly as the reference block reports them. Audio blocks also run
slice by slice for continuous audio: ``block.continuous(window_samples, slice_samples)``
(:class:`edgert.dsp.audio.ContinuousFeatures`).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..errors import ConfigurationError
from ._common import DspBlock
from .audio import AUDIO_BLOCKS, MFCC, MFE, AudioBlock, ContinuousFeatures, Spectrogram
from .flatten import FlattenBlock, RawBlock
from .spectral import DEFAULTS as SPECTRAL_DEFAULTS
from .spectral import SpectralAnalysis, legacy_available

BLOCK_TYPES = ("spectral-analysis", "raw", "flatten", "mfcc", "mfe", "spectrogram")


def make_dsp_block(block: Mapping[str, Any], frequency: float,
                   input_axes: Sequence[str]) -> DspBlock:
    """Build the DSP block described by a bundle's ``dsp`` entry.

    ``frequency``: the sampling rate of the input (Hz); ``input_axes``: the column names of the
    recordings that will be passed to ``features_batch``. The block's own ``axes`` (default:
    all input axes) are looked up there by name.
    """
    if not isinstance(block, Mapping):
        raise ConfigurationError(f"a DSP block must be a mapping, got {type(block).__name__}")
    btype = str(block.get("type", "")).strip()
    input_axes = [str(a) for a in input_axes]
    axes = [str(a) for a in (block.get("axes") or input_axes)]
    missing = [a for a in axes if a not in input_axes]
    if missing:
        raise ConfigurationError(
            f"DSP block {block.get('id', '?')} ({btype}) uses axes {missing} that the input does "
            f"not have (input axes: {input_axes})"
        )
    columns = [input_axes.index(a) for a in axes]
    params = block.get("params") or {}
    if btype == "spectral-analysis":
        version = block.get("implementation_version", 4)
        return SpectralAnalysis(params, frequency, axes, version, columns=columns)
    if btype == "raw":
        return RawBlock(params, frequency, axes, columns=columns)
    if btype == "flatten":
        return FlattenBlock(params, frequency, axes, columns=columns)
    if btype in AUDIO_BLOCKS:
        # exports from before implementation_version existed (Feb 2021) are version 1
        version = block.get("implementation_version", 1)
        return AUDIO_BLOCKS[btype](params, frequency, axes, version, columns=columns)
    raise ConfigurationError(
        f"unsupported DSP block type {btype!r}: edgert implements {', '.join(BLOCK_TYPES)}"
    )


__all__ = [
    "AUDIO_BLOCKS",
    "AudioBlock",
    "BLOCK_TYPES",
    "ContinuousFeatures",
    "MFCC",
    "MFE",
    "Spectrogram",
    "DspBlock",
    "FlattenBlock",
    "RawBlock",
    "SPECTRAL_DEFAULTS",
    "SpectralAnalysis",
    "legacy_available",
    "make_dsp_block",
]
