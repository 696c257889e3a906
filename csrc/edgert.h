/*
 * edgert.h - the public C API of the edgert core, and (between the CDEF markers) the exact
 * text cffi compiles as its cdef.  Rules for everything in here:
 *   - functions return an int status: EDGERT_OK (0) or a negative edgert_status;
 *     edgert_strerror() names it;
 *   - no malloc, no mutable static state: every kernel is reentrant (cffi releases the GIL
 *     around calls, several threads run kernels at once);
 *   - parameters come in const structs; working memory is a caller-provided scratch buffer
 *     whose size a *_scratch_size() / *_buffer_size() query reports;
 *   - inside the CDEF block only plain C declarations and integer #defines (cffi's parser);
 *     include guards, #includes and extern "C" stay outside it.
 * Sections are owned by kernel families; keep each family's declarations in its section.
 */
#ifndef EDGERT_H
#define EDGERT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* EDGERT_CDEF_BEGIN */

/* ===================================================================== common ===== */

/* Version of the C core; edgert/_ffi.py refuses to import an extension whose version string
 * differs from the Python package's (a stale build). */
const char *edgert_version(void);

typedef enum {
    EDGERT_OK = 0,
    EDGERT_ERR_NULL = -1,          /* a required pointer was NULL */
    EDGERT_ERR_ARG = -2,           /* an argument is out of range (sizes, counts, strides) */
    EDGERT_ERR_PARAM = -3,         /* an invalid block/kernel configuration */
    EDGERT_ERR_NONFINITE = -4,     /* NaN or infinity in the input data */
    EDGERT_ERR_SCRATCH = -5,       /* scratch/arena buffer smaller than its size query said */
    EDGERT_ERR_OUTPUT = -6,        /* output buffer too small */
    EDGERT_ERR_SHAPE = -7,         /* tensor shapes do not agree */
    EDGERT_ERR_UNSUPPORTED = -8,   /* a type/op/option this build does not implement */
    EDGERT_ERR_TOO_SHORT = -9,     /* the signal is too short for the configuration */
    EDGERT_ERR_MASKED_ALL = -10,   /* spectral: the cutoff frequency masked all FFT bins */
    EDGERT_ERR_OVERFLOW = -11,     /* a size computation would overflow */
    EDGERT_ERR_MODEL = -12,        /* an inconsistent compiled model plan */
    EDGERT_ERR_INTERNAL = -99
} edgert_status;

/* Static, human-readable description of a status code (never NULL). */
const char *edgert_strerror(int status);

/* =================================================================== spectral ===== */
/* Spectral Analysis DSP block (all versions), `raw` and `flatten` blocks.
 * Owned by: csrc/spectral*.c, csrc/fft.c, csrc/filter.c, csrc/wavelet*.c, csrc/flatten.c */

#define EDGERT_FILTER_NONE 0
#define EDGERT_FILTER_LOW 1
#define EDGERT_FILTER_HIGH 2

#define EDGERT_ANALYSIS_FFT 0
#define EDGERT_ANALYSIS_WAVELET 1

#define EDGERT_SPECTRAL_MAX_EDGES 32

typedef struct {
    int32_t version;               /* implementation_version 1..4 */
    float sampling_freq;           /* Hz, of the raw input */
    float scale_axes;
    int32_t decimation_ratio;      /* 1, 3, 10, 30, 100, 1000 (v4 only when > 1) */
    int32_t filter_type;           /* EDGERT_FILTER_* */
    float filter_cutoff;           /* Hz */
    int32_t filter_order;          /* 0 or even 2..8 */
    int32_t analysis_type;         /* EDGERT_ANALYSIS_* (v3, v4) */
    int32_t fft_length;            /* power of two */
    int32_t do_log;
    int32_t do_fft_overlap;
    int32_t extra_low_freq;        /* v4 FFT */
    /* v1 */
    int32_t peaks_count;
    float peaks_threshold;
    int32_t n_power_edges;
    float power_edges[32];         /* EDGERT_SPECTRAL_MAX_EDGES */
    /* wavelet path */
    int32_t wavelet_level;         /* 1..7 */
    int32_t wavelet;               /* index from edgert_wavelet_index() */
} edgert_spectral_params;

/* Validate a configuration for windows of n_samples time steps and n_axes axes and report the
 * feature count per window. Returns EDGERT_ERR_PARAM / _MASKED_ALL / _TOO_SHORT as the Python
 * reference would raise for the same configuration. */
int edgert_spectral_check(const edgert_spectral_params *p, int32_t n_samples, int32_t n_axes,
                          int32_t *n_features);

/* Bytes of scratch edgert_spectral_features_batch() needs for this configuration. */
int edgert_spectral_scratch_size(const edgert_spectral_params *p, int32_t n_samples,
                                 int32_t n_axes, size_t *bytes);

/* Features of n_windows windows in one call.
 * data: n_rows time steps of row_stride floats each (interleaved, as recorded);
 * axes[a]: the column of data that is this block's axis a (n_axes of them);
 * window w covers rows starts[w] .. starts[w]+n_samples-1 (all must be inside 0..n_rows);
 * out: row w at out + w*out_stride, n_features floats (from edgert_spectral_check). */
int edgert_spectral_features_batch(const edgert_spectral_params *p,
                                   const float *data, int32_t n_rows, int32_t row_stride,
                                   const int32_t *axes, int32_t n_axes,
                                   const int32_t *starts, int32_t n_windows, int32_t n_samples,
                                   float *out, int32_t out_stride,
                                   void *scratch, size_t scratch_bytes);

/* Wavelet names as pywt spells them ("db4", "sym8", "bior2.2", "haar", ...):
 * index >= 0 to put in edgert_spectral_params.wavelet, or EDGERT_ERR_PARAM. */
int edgert_wavelet_index(const char *name);

/* Plain building blocks, exported for tests and for other families. */
/* Real FFT, n a power of two 2..65536: out_re/out_im get bins 0..n/2 (n/2+1 each). */
int edgert_rfft_scratch_size(int32_t n, size_t *bytes);
int edgert_rfft(const float *in, int32_t n, float *out_re, float *out_im,
                void *scratch, size_t scratch_bytes);
/* Second-order sections, scipy sosfilt layout: sos[6*k..6*k+5] = b0 b1 b2 a0 a1 a2 (a0 == 1).
 * zi: 2 floats per section (state in/out; NULL = zero state). In place allowed (in == out). */
int edgert_sosfilt(const float *sos, int32_t n_sections, const float *in, float *out,
                   int32_t n, float *zi);

/* raw block: values of the selected axes, interleaved, times scale. */
typedef struct {
    float scale_axes;
} edgert_raw_params;
int edgert_raw_features_batch(const edgert_raw_params *p,
                              const float *data, int32_t n_rows, int32_t row_stride,
                              const int32_t *axes, int32_t n_axes,
                              const int32_t *starts, int32_t n_windows, int32_t n_samples,
                              float *out, int32_t out_stride);

/* flatten block: per axis the enabled statistics in this order. */
typedef struct {
    float scale_axes;
    int32_t average, minimum, maximum, rms, stdev, skewness, kurtosis;
} edgert_flatten_params;
int edgert_flatten_check(const edgert_flatten_params *p, int32_t n_axes, int32_t *n_features);
int edgert_flatten_features_batch(const edgert_flatten_params *p,
                                  const float *data, int32_t n_rows, int32_t row_stride,
                                  const int32_t *axes, int32_t n_axes,
                                  const int32_t *starts, int32_t n_windows, int32_t n_samples,
                                  float *out, int32_t out_stride);

/* ============================================================== spectral end ===== */




/* ===================================================================== engine ===== */
/* Native TFLite engine: compiled plans, int8/float32 kernels, batched invoke.
 * Owned by: csrc/engine*.c, csrc/kernel_*.c */

/* (declarations go here) */

/* ================================================================ engine end ===== */




/* ==================================================================== impulse ===== */
/* Windowing, resampling helpers, K-means anomaly, int8 quantize/dequantize of model I/O.
 * Owned by: csrc/anomaly.c, csrc/window.c */

/* K-means anomaly scorer (learn block type `anomaly`; metadata of GET .../anomaly/{id}/metadata).
 * For each window: z_i = (x[axes[i]] - mean[i]) / scale[i];
 * score = min over clusters c of (||z - centers[c]||_2 - max_error[c]), running minimum
 * starting at 1000 (so a score never exceeds 1000), float32 as Edge Impulse's SDK computes. */
typedef struct {
    int32_t n_axes;                /* selected features per window (1..) */
    const int32_t *axes;           /* n_axes indices into a window's feature row */
    const float *mean;             /* n_axes */
    const float *scale;            /* n_axes, all != 0 */
    int32_t n_clusters;            /* 1.. */
    const float *centers;          /* n_clusters x n_axes, row-major */
    const float *max_error;        /* n_clusters */
} edgert_kmeans_params;

/* Validate the parameters against feature rows of n_features floats: every axis index in
 * 0..n_features-1, scales non-zero and finite, everything finite. */
int edgert_kmeans_check(const edgert_kmeans_params *p, int32_t n_features);

/* Scores of n_windows feature rows in one call: row w starts at features + w*stride
 * (stride >= max(axes)+1); scores[w] receives its score. A NaN/inf in a selected feature
 * gives EDGERT_ERR_NONFINITE (nothing is written past the failing row). */
int edgert_kmeans_score_batch(const edgert_kmeans_params *p, const float *features,
                              int32_t n_windows, int32_t stride, float *scores);

/* Sliding windows over a recording of n_rows time steps: window w covers rows
 * w*stride .. w*stride+window-1. count = floor((n_rows-window)/stride)+1 when
 * n_rows >= window; when shorter, 1 (a zero-padded window) if zero_pad else 0. */
int edgert_window_count(int64_t n_rows, int32_t window, int32_t stride, int32_t zero_pad,
                        int64_t *count);

/* int8 model I/O. Quantize: q = clamp(round_half_away_from_zero(x / scale) + zero_point,
 * -128, 127) with x/scale in float32 (TFLite's and the SDK's rule). A NaN/inf input gives
 * EDGERT_ERR_NONFINITE. Dequantize: x = (q - zero_point) * scale. */
int edgert_quantize_int8(const float *in, size_t n, float scale, int32_t zero_point,
                         int8_t *out);
int edgert_dequantize_int8(const int8_t *in, size_t n, float scale, int32_t zero_point,
                           float *out);

/* Polyphase resampling by up/down (the rational approximation of f_out/f_in) of n_in time
 * steps of n_axes interleaved channels. taps: the anti-aliasing FIR at the upsampled rate
 * (odd length, centred, gain `up` at DC; edgert/windowing.py designs a Kaiser-windowed sinc
 * like scipy.signal.resample_poly's default). out[m] = sum_j taps[j] * xup[m*down + h - j]
 * where h = (n_taps-1)/2 and xup is x with up-1 zeros after each sample, zero outside
 * the recording. n_out must be ceil(n_in*up/down). */
int edgert_resample_poly(const float *taps, int32_t n_taps, int32_t up, int32_t down,
                         const float *in, int32_t n_in, int32_t n_axes,
                         float *out, int32_t n_out);

/* =============================================================== impulse end ===== */

/* EDGERT_CDEF_END */

#ifdef __cplusplus
}
#endif

#endif /* EDGERT_H */
