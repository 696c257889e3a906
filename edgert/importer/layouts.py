"""Field orders of the DSP configuration structs across Edge Impulse SDK eras.

Exports write DSP configurations as *positional* C initializers (``{ 3, 1.0f, "low", ... }``),
and the struct they fill changed between SDK versions: fields were added at the front
(``implementation_version`` in 2021, ``block_id`` in 2023) and at the end
(``do_log``/``do_fft_overlap``, the wavelet fields, ``input_decimation_ratio``,
``extra_low_freq``, ``moving_avg_num_windows``). To name the values the reader uses, in order:

1. designated initializers (``.field = value``), when the export uses them;
2. the ``typedef struct`` of the export itself (2020-2023 exports carry it in
   ``model_metadata.h``);
3. the comment after each value (2023+ exports write ``3, // int implementationVersion``);
4. this table, keyed by struct and number of values, for an export that has none of these.

The table lists every layout seen in the public exports surveyed (docs/import.md).
Names are Studio's parameter keys with ``_`` for ``-``; ``axes`` is the axis count.
"""
from __future__ import annotations

from typing import Optional

KNOWN_LAYOUTS: dict[tuple[str, int], tuple[str, ...]] = {
    # spectral analysis
    ("spectral_analysis", 9): ("axes", "scale_axes", "filter_type", "filter_cutoff", "filter_order",
                               "fft_length", "spectral_peaks_count", "spectral_peaks_threshold",
                               "spectral_power_edges"),                                   # 2020
    ("spectral_analysis", 10): ("implementation_version", "axes", "scale_axes", "filter_type",
                                "filter_cutoff", "filter_order", "fft_length",
                                "spectral_peaks_count", "spectral_peaks_threshold",
                                "spectral_power_edges"),                                  # 2021-22
    ("spectral_analysis", 12): ("implementation_version", "axes", "scale_axes", "filter_type",
                                "filter_cutoff", "filter_order", "fft_length",
                                "spectral_peaks_count", "spectral_peaks_threshold",
                                "spectral_power_edges", "do_log", "do_fft_overlap"),      # 2022
    ("spectral_analysis", 15): ("implementation_version", "axes", "scale_axes", "filter_type",
                                "filter_cutoff", "filter_order", "analysis_type", "fft_length",
                                "spectral_peaks_count", "spectral_peaks_threshold",
                                "spectral_power_edges", "do_log", "do_fft_overlap",
                                "wavelet_level", "wavelet"),                              # 2023
    ("spectral_analysis", 16): ("block_id", "implementation_version", "axes", "scale_axes",
                                "filter_type", "filter_cutoff", "filter_order", "analysis_type",
                                "fft_length", "spectral_peaks_count", "spectral_peaks_threshold",
                                "spectral_power_edges", "do_log", "do_fft_overlap",
                                "wavelet_level", "wavelet"),                              # 2023
    ("spectral_analysis", 18): ("block_id", "implementation_version", "axes", "scale_axes",
                                "input_decimation_ratio", "filter_type", "filter_cutoff",
                                "filter_order", "analysis_type", "fft_length",
                                "spectral_peaks_count", "spectral_peaks_threshold",
                                "spectral_power_edges", "do_log", "do_fft_overlap",
                                "wavelet_level", "wavelet", "extra_low_freq"),            # 2023-26
    # flatten
    ("flatten", 6): ("axes", "scale_axes", "average", "minimum", "maximum", "rms"),        # 2020
    ("flatten", 9): ("axes", "scale_axes", "average", "minimum", "maximum", "rms", "stdev",
                     "skewness", "kurtosis"),                                              # 2020-21
    ("flatten", 10): ("implementation_version", "axes", "scale_axes", "average", "minimum",
                      "maximum", "rms", "stdev", "skewness", "kurtosis"),                  # 2021-24
    ("flatten", 11): ("block_id", "implementation_version", "axes", "scale_axes", "average",
                      "minimum", "maximum", "rms", "stdev", "skewness", "kurtosis"),       # 2023
    ("flatten", 12): ("block_id", "implementation_version", "axes", "scale_axes", "average",
                      "minimum", "maximum", "rms", "stdev", "skewness", "kurtosis",
                      "moving_avg_num_windows"),                                           # 2024-26
    # audio blocks (their fields are Studio's parameter names)
    ("mfcc", 12): ("implementation_version", "axes", "num_cepstral", "frame_length",
                   "frame_stride", "num_filters", "fft_length", "win_size", "low_frequency",
                   "high_frequency", "pre_cof", "pre_shift"),                             # 2021
    ("mfcc", 15): ("block_id", "implementation_version", "axes", "named_axes",
                   "named_axes_size", "num_cepstral", "frame_length", "frame_stride",
                   "num_filters", "fft_length", "win_size", "low_frequency", "high_frequency",
                   "pre_cof", "pre_shift"),                                               # 2024-26
    ("mfe", 9): ("implementation_version", "axes", "frame_length", "frame_stride",
                 "num_filters", "fft_length", "low_frequency", "high_frequency",
                 "win_size"),                                                             # 2021
    ("mfe", 11): ("block_id", "implementation_version", "axes", "frame_length", "frame_stride",
                  "num_filters", "fft_length", "low_frequency", "high_frequency", "win_size",
                  "noise_floor_db"),                                                      # 2023
    ("mfe", 13): ("block_id", "implementation_version", "axes", "named_axes",
                  "named_axes_size", "frame_length", "frame_stride", "num_filters",
                  "fft_length", "low_frequency", "high_frequency", "win_size",
                  "noise_floor_db"),                                                      # 2025
    ("spectrogram", 6): ("implementation_version", "axes", "frame_length", "frame_stride",
                         "fft_length", "show_axes"),                                      # 2021
    ("spectrogram", 8): ("block_id", "implementation_version", "axes", "frame_length",
                         "frame_stride", "fft_length", "noise_floor_db", "show_axes"),    # 2023
    # raw
    ("raw", 2): ("axes", "scale_axes"),                                                    # 2020-21
    ("raw", 3): ("implementation_version", "axes", "scale_axes"),                          # 2021-24
    ("raw", 4): ("block_id", "implementation_version", "axes", "scale_axes"),              # 2023-26
}

# the comment spellings of fields whose Studio key differs from the C field name
_COMMENT_NAMES = {"blockid": "block_id", "implementationversion": "implementation_version",
                  "length of axes": "axes", "named axes": "named_axes",
                  "size of the named axes array": "named_axes_size"}


def name_from_comment(comment: str) -> Optional[str]:
    """``int implementationVersion`` -> ``implementation_version``; ``float scale-axes`` ->
    ``scale_axes``; ``int length of axes`` -> ``axes``; '' -> None."""
    c = comment.strip()
    if not c:
        return None
    low = c.lower()
    for k, v in _COMMENT_NAMES.items():
        if low.endswith(k):
            return v
    word = c.split()[-1]
    return word.replace("-", "_")


def layout_for(kind: str, count: int) -> Optional[tuple[str, ...]]:
    return KNOWN_LAYOUTS.get((kind, count))
