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
 * Owned by: csrc/spectral*.c, csrc/fft.c, csrc/filter.c, csrc/wavelet*.c, csrc/flatten.c
 * Reference semantics: the project's spectral-analysis spec (Edge Impulse processing-blocks
 * spectral_analysis). Input is float32; the per-axis pipeline (filters, moments, FFT) runs in
 * double so the features track the float64 training reference closely - in float in the
 * microcontroller build (-DEDGERT_DSP_FLOAT32, csrc/dsp_real.h; docs/mcu.md gives the drift).
 * A build configured without some paths (csrc/edgert_config.h) returns EDGERT_ERR_UNSUPPORTED
 * for a configuration that needs them. */

#define EDGERT_FILTER_NONE 0
#define EDGERT_FILTER_LOW 1
#define EDGERT_FILTER_HIGH 2

#define EDGERT_ANALYSIS_FFT 0
#define EDGERT_ANALYSIS_WAVELET 1

#define EDGERT_SPECTRAL_MAX_EDGES 32
#define EDGERT_FFT_MAX_LENGTH 65536

typedef struct {
    int32_t version;               /* implementation_version 1..4 */
    double sampling_freq;          /* Hz, of the raw input */
    double scale_axes;
    int32_t decimation_ratio;      /* 1, 3, 10, 30, 100, 1000 (v4 only when > 1) */
    int32_t filter_type;           /* EDGERT_FILTER_* */
    double filter_cutoff;          /* Hz */
    int32_t filter_order;          /* 0 or even 2..8 */
    int32_t analysis_type;         /* EDGERT_ANALYSIS_* (v3, v4) */
    int32_t fft_length;            /* power of two 2..65536 (16..4096 in practice) */
    int32_t do_log;
    int32_t do_fft_overlap;
    int32_t extra_low_freq;        /* v4 FFT */
    /* v1 */
    int32_t peaks_count;
    double peaks_threshold;
    int32_t n_power_edges;
    double power_edges[32];        /* EDGERT_SPECTRAL_MAX_EDGES */
    /* wavelet path */
    int32_t wavelet_level;         /* 1..7 */
    int32_t wavelet;               /* index from edgert_wavelet_index() */
} edgert_spectral_params;

/* Validate a configuration for windows of n_samples time steps and n_axes axes and report the
 * feature count per window. Returns EDGERT_ERR_PARAM / _MASKED_ALL / _TOO_SHORT as the Python
 * reference would raise for the same configuration (EDGERT_ERR_ARG for n_samples/n_axes < 1). */
int edgert_spectral_check(const edgert_spectral_params *p, int32_t n_samples, int32_t n_axes,
                          int32_t *n_features);

/* Bytes of scratch edgert_spectral_features_batch() needs for this configuration. */
int edgert_spectral_scratch_size(const edgert_spectral_params *p, int32_t n_samples,
                                 int32_t n_axes, size_t *bytes);

/* Features of n_windows windows in one call (filter designs and FFT twiddles are computed once
 * per call).
 * data: n_rows time steps of row_stride floats each (interleaved, as recorded);
 * axes[a]: the column of data that is this block's axis a (n_axes of them, < row_stride);
 * window w covers rows starts[w] .. starts[w]+n_samples-1 (all must be inside 0..n_rows);
 * out: row w at out + w*out_stride (out_stride >= n_features), n_features floats (from
 * edgert_spectral_check). NaN/inf in a window -> EDGERT_ERR_NONFINITE (rows before it are
 * written). */
int edgert_spectral_features_batch(const edgert_spectral_params *p,
                                   const float *data, int32_t n_rows, int32_t row_stride,
                                   const int32_t *axes, int32_t n_axes,
                                   const int32_t *starts, int32_t n_windows, int32_t n_samples,
                                   float *out, int32_t out_stride,
                                   void *scratch, size_t scratch_bytes);

/* Wavelet names as pywt spells them ("db4", "sym8", "bior2.2", "haar", ...):
 * index >= 0 to put in edgert_spectral_params.wavelet, or EDGERT_ERR_PARAM. */
int edgert_wavelet_index(const char *name);
/* pywt.wavedec(x, wavelet, level, mode='symmetric') for level 1..16, n >= 1: coefficient
 * arrays in pywt's order [cA_L, cD_L, ..., cD_1] concatenated into out (n_coeffs floats),
 * lengths[0..level] = their lengths. Sizes from edgert_wavedec_size(). (wavelet.c) */
int edgert_wavedec_size(int32_t wavelet, int32_t level, int32_t n, int32_t *n_coeffs,
                        size_t *scratch_bytes);
int edgert_wavedec(const float *x, int32_t n, int32_t wavelet, int32_t level,
                   float *out, int32_t *lengths, void *scratch, size_t scratch_bytes);

/* Plain building blocks, exported for tests and for other families. */
/* Real FFT, n a power of two 2..65536: out_re/out_im get bins 0..n/2 (n/2+1 each).
 * Computed in double internally (float in the microcontroller build). */
int edgert_rfft_scratch_size(int32_t n, size_t *bytes);
int edgert_rfft(const float *in, int32_t n, float *out_re, float *out_im,
                void *scratch, size_t scratch_bytes);
/* Second-order sections, scipy sosfilt layout: sos[6*k..6*k+5] = b0 b1 b2 a0 a1 a2 (a0 == 1).
 * zi: 2 floats per section (state in/out; NULL = zero state). In place allowed (in == out).
 * Runs in double (direct form II transposed, like scipy). */
int edgert_sosfilt(const float *sos, int32_t n_sections, const float *in, float *out,
                   int32_t n, float *zi);
/* The Butterworth design the block runs: order/2 sections (order even 2..8), scipy's
 * butter(order, 2*cutoff/fs, type, output='sos') section order and gain placement, rounded to
 * float32 as the reference does. type EDGERT_FILTER_LOW / _HIGH; 0 < cutoff < fs/2. */
int edgert_butter_sos(int32_t type, int32_t order, double cutoff, double fs, float *sos);
/* The Chebyshev-I decimation stage for ratio r >= 2 (order 8, 0.05 dB ripple, cutoff 0.8/r of
 * Nyquist): 4 sections (24 doubles, scipy cheby1(..., output='sos') layout) and, when zi is
 * not NULL, the steady state for a unit constant input (8 doubles, scipy sosfilt_zi). */
int edgert_decimation_sos(int32_t ratio, double *sos, double *zi);

/* raw block: values of the selected axes, interleaved, times scale. */
typedef struct {
    double scale_axes;
} edgert_raw_params;
int edgert_raw_features_batch(const edgert_raw_params *p,
                              const float *data, int32_t n_rows, int32_t row_stride,
                              const int32_t *axes, int32_t n_axes,
                              const int32_t *starts, int32_t n_windows, int32_t n_samples,
                              float *out, int32_t out_stride);

/* flatten block: per axis the enabled statistics in this order. */
typedef struct {
    double scale_axes;
    int32_t average, minimum, maximum, rms, stdev, skewness, kurtosis;
} edgert_flatten_params;
int edgert_flatten_check(const edgert_flatten_params *p, int32_t n_axes, int32_t *n_features);
int edgert_flatten_features_batch(const edgert_flatten_params *p,
                                  const float *data, int32_t n_rows, int32_t row_stride,
                                  const int32_t *axes, int32_t n_axes,
                                  const int32_t *starts, int32_t n_windows, int32_t n_samples,
                                  float *out, int32_t out_stride);

/* ============================================================== spectral end ===== */




/* ====================================================================== audio ===== */
/* MFCC, MFE and Spectrogram DSP blocks (implementation versions 1-4).
 * Owned by: csrc/audio.c (framing, mel filterbank, cepstra, normalisation; the real FFT of
 * csrc/fft.c). Reference semantics: the project's audio-dsp spec (Edge Impulse processing-blocks
 * mfcc/, mfe/, spectrogram/ with their speechpy fork). Input is float32 (int16 sample values for
 * a microphone); framing, spectra, mel energies and cepstra run in double like the float64
 * reference, and in float32 exactly where the reference is float32 (the sliding normalisation's
 * output, MFE v1/v2 scaling, MFE v3/v4 input scaling and pre-emphasis). Output is float32.
 *
 * Every block is split in two stages so a continuous (sliding) caller can reuse work:
 *   frame rows: per-frame values (double) that depend only on that frame's samples - except the
 *     first `wrap_frames` frames, whose circular pre-emphasis reads the window's last samples;
 *   finish: what the block does over the whole window (sliding normalisation, 0-1 scaling, the
 *     spectrogram v3 rescale decision), on the F assembled rows.
 * A batch call computes both for every window and reuses the rows of frames an earlier window
 * already computed (windows whose starts are a multiple of the frame stride apart: consecutive
 * ones, or with a step of half a stride every other one; it keeps the rows of up to 4
 * windows), so results are the same bit for bit however they are computed. */

#define EDGERT_AUDIO_MFCC 0
#define EDGERT_AUDIO_MFE 1
#define EDGERT_AUDIO_SPECTROGRAM 2

#define EDGERT_AUDIO_MAX_FRAMES 500        /* the reference refuses more frames per window */
#define EDGERT_AUDIO_MAX_WIN_SIZE 10001    /* longest sliding-normalisation window accepted */

/* edgert_audio_layout.problem: the first configuration problem found, in the order the
 * reference checks (the reference's own errors) with edgert's sanity checks of values the
 * reference cannot process (BAD_*) first. */
#define EDGERT_AUDIO_OK 0
#define EDGERT_AUDIO_BAD_BLOCK 1           /* block is not one of EDGERT_AUDIO_* */
#define EDGERT_AUDIO_BAD_VERSION 2         /* version outside 1..4 */
#define EDGERT_AUDIO_BAD_RATE 3            /* sampling_freq not a finite number > 0 */
#define EDGERT_AUDIO_BAD_FRAME 4           /* frame_length not finite, or < 1 sample */
#define EDGERT_AUDIO_BAD_STRIDE 5          /* frame_stride not finite, or < 1 sample */
#define EDGERT_AUDIO_BAD_CEPSTRAL 6        /* MFCC num_cepstral < 1 */
#define EDGERT_AUDIO_BAD_WIN_SIZE 7        /* win_size < 0 or > EDGERT_AUDIO_MAX_WIN_SIZE */
#define EDGERT_AUDIO_BAD_FREQ 8            /* low/high_frequency not finite */
#define EDGERT_AUDIO_BAD_PRE_COF 9         /* MFCC pre_cof not finite */
#define EDGERT_AUDIO_BAD_NOISE_FLOOR 10    /* noise_floor_db not finite or >= -12 (v3/v4) */
#define EDGERT_AUDIO_FEW_FILTERS 11        /* num_filters < 2 */
#define EDGERT_AUDIO_FFT_NOT_POW2 12       /* fft_length not a power of two */
#define EDGERT_AUDIO_BAD_FFT_SIZE 13       /* fft_length 1 or > EDGERT_FFT_MAX_LENGTH */
#define EDGERT_AUDIO_AXES 14               /* n_axes != 1 */
#define EDGERT_AUDIO_EMPTY 15              /* spectrogram: no samples */
#define EDGERT_AUDIO_SHORT_FRAME 16        /* spectrogram: frame_length < 4 / sampling_freq */
#define EDGERT_AUDIO_SHORT_STRIDE 17       /* spectrogram: frame_stride < 4 / sampling_freq */
#define EDGERT_AUDIO_FEW_FRAMES 18         /* no frame fits in the window (F < 1) */
#define EDGERT_AUDIO_MANY_FRAMES 19        /* F > EDGERT_AUDIO_MAX_FRAMES */
#define EDGERT_AUDIO_BAD_SHIFT 20          /* MFCC pre_shift <= 0 */
#define EDGERT_AUDIO_LONG_SHIFT 21         /* MFCC pre_shift >= the window length */
#define EDGERT_AUDIO_HIGH_FREQ 22          /* high frequency > sampling_freq / 2 */
#define EDGERT_AUDIO_LOW_FREQ 23           /* low frequency < 0 */
#define EDGERT_AUDIO_LOW_ABOVE_HIGH 24     /* low frequency > high frequency */
#define EDGERT_AUDIO_EMPTY_FILTER 25       /* a mel filter has no non-zero weight */
#define EDGERT_AUDIO_EVEN_WINDOW 26        /* win_size even (MFCC: and > 0; MFE v1/v2: 0 too) */

typedef struct {
    int32_t block;                 /* EDGERT_AUDIO_MFCC / _MFE / _SPECTROGRAM */
    int32_t version;               /* implementation_version 1..4 */
    double sampling_freq;          /* Hz */
    double frame_length;           /* s */
    double frame_stride;           /* s */
    int32_t fft_length;            /* power of two 2..65536 */
    int32_t num_filters;           /* MFCC, MFE */
    int32_t num_cepstral;          /* MFCC */
    int32_t win_size;              /* MFCC (0 = no normalisation); MFE v1/v2 (odd) */
    double low_frequency;          /* Hz, MFCC/MFE (v1-v3: 0 means 300 Hz, spec quirk 3) */
    double high_frequency;         /* Hz, MFCC/MFE; 0 = sampling_freq / 2 */
    double pre_cof;                /* MFCC pre-emphasis coefficient (0 = none) */
    int32_t pre_shift;             /* MFCC pre-emphasis shift, samples */
    double noise_floor_db;         /* MFE v3/v4, spectrogram v3/v4 */
} edgert_audio_params;

typedef struct {
    int32_t problem;               /* EDGERT_AUDIO_OK or the first problem (see above) */
    int32_t n_frames;              /* F (also reported when F < 1 or > 500) */
    int32_t frame_length;          /* samples per frame (the FFT uses the first fft_length) */
    int32_t frame_stride;          /* samples between frame starts */
    int32_t per_frame;             /* features per frame: min(num_cepstral, num_filters),
                                    * num_filters, or fft_length/2+1 */
    int32_t n_features;            /* n_frames * per_frame */
    int32_t wrap_frames;           /* leading frames whose pre-emphasis reads the window's end */
    double low_frequency;          /* the mel range used (Hz), MFCC/MFE */
    double high_frequency;
} edgert_audio_layout;

/* Validate a configuration for windows of n_samples samples (n_axes axes: the blocks take
 * exactly one) and describe the output. Returns EDGERT_OK, or EDGERT_ERR_PARAM
 * (EDGERT_ERR_TOO_SHORT for EDGERT_AUDIO_FEW_FRAMES) with layout->problem saying which check
 * failed; EDGERT_ERR_ARG for n_samples < 0; EDGERT_ERR_OVERFLOW when sizes exceed 2^31. */
int edgert_audio_check(const edgert_audio_params *p, int32_t n_samples, int32_t n_axes,
                       edgert_audio_layout *layout);

/* Bytes of the prepared state (tables: FFT plan, mel filterbank, DCT basis; read-only once
 * initialised, shareable between threads, position-independent so it may be copied), of the
 * scratch edgert_audio_frame_rows()/edgert_audio_finish() need, and of the scratch
 * edgert_audio_features_batch() needs (it holds its own state). */
int edgert_audio_scratch_size(const edgert_audio_params *p, int32_t n_samples,
                              size_t *state_bytes, size_t *scratch_bytes, size_t *batch_bytes);

/* Features of n_windows windows in one call, the conventions of
 * edgert_spectral_features_batch: window w is rows starts[w] .. starts[w]+n_samples-1 of data
 * (n_rows rows of row_stride floats), column axes[0] (n_axes must be 1); out row w at
 * out + w*out_stride (>= n_features floats). NaN/inf in a window (or a float32 overflow of
 * the output) -> EDGERT_ERR_NONFINITE, rows before it written. */
int edgert_audio_features_batch(const edgert_audio_params *p,
                                const float *data, int32_t n_rows, int32_t row_stride,
                                const int32_t *axes, int32_t n_axes,
                                const int32_t *starts, int32_t n_windows, int32_t n_samples,
                                float *out, int32_t out_stride,
                                void *scratch, size_t scratch_bytes);

/* Continuous use. edgert_audio_state_init() prepares the tables for one configuration and
 * window length into state (8-byte aligned, state_bytes from edgert_audio_scratch_size).
 * edgert_audio_frame_rows() computes the rows of frames first .. first+count-1 of the window
 * x[0 .. n_samples-1] into rows (count x per_frame doubles, row k at rows + (k-first)*per_frame).
 * edgert_audio_finish() turns the F assembled rows of a window into its n_features outputs;
 * peak = max |x| over the window (only spectrogram v3 reads it: rescale when > 1).
 * A caller sliding by d*frame_stride samples keeps rows d..F-1 as rows 0..F-d-1 and recomputes
 * the first wrap_frames and the last d. Every call validates the state (EDGERT_ERR_ARG when it
 * was not initialised for this purpose). */
int edgert_audio_state_init(const edgert_audio_params *p, int32_t n_samples, void *state,
                            size_t state_bytes);
int edgert_audio_frame_rows(const void *state, size_t state_bytes, const float *x,
                            int32_t n_samples, int32_t first, int32_t count, double *rows,
                            void *scratch, size_t scratch_bytes);
int edgert_audio_finish(const void *state, size_t state_bytes, const double *rows, double peak,
                        float *out, void *scratch, size_t scratch_bytes);

/* ================================================================= audio end ===== */




/* ===================================================================== engine ===== */
/* Native TFLite engine: compiled plans, int8/float32 kernels, batched invoke.
 * Owned by: csrc/engine*.c, csrc/kernel_*.c */

/* A model is compiled (in Python, edgert/engine/compiler.py) into a *plan*: a table of
 * tensors placed either in the caller's arena (activations, lifetime-based reuse) or in one
 * read-only constant blob (weights, biases, per-channel multipliers), and an ordered table of
 * op records with every quantization parameter precomputed.  The plan is plain data (fixed
 * layout, 4-byte fields only), so the same C code runs it on a microcontroller from a
 * serialised plan: no malloc, arena size known ahead of time.  Every entry point validates the
 * plan against the buffers it is given and returns EDGERT_ERR_MODEL instead of crashing. */

#define EDGERT_DTYPE_FLOAT32 0
#define EDGERT_DTYPE_INT32 2
#define EDGERT_DTYPE_INT16 7
#define EDGERT_DTYPE_INT8 9

#define EDGERT_SPACE_ARENA 0
#define EDGERT_SPACE_CONST 1

#define EDGERT_OP_FULLY_CONNECTED 1
#define EDGERT_OP_CONV_2D 2
#define EDGERT_OP_DEPTHWISE_CONV_2D 3
#define EDGERT_OP_MAX_POOL_2D 4
#define EDGERT_OP_AVERAGE_POOL_2D 5
#define EDGERT_OP_COPY 6
#define EDGERT_OP_SOFTMAX 7
#define EDGERT_OP_LOGISTIC 8
#define EDGERT_OP_TANH 9
#define EDGERT_OP_RELU 10
#define EDGERT_OP_RELU6 11
#define EDGERT_OP_QUANTIZE 12
#define EDGERT_OP_DEQUANTIZE 13
#define EDGERT_OP_ADD 14
#define EDGERT_OP_MUL 15
#define EDGERT_OP_MEAN 16
#define EDGERT_OP_PAD 17
#define EDGERT_OP_CONCATENATION 18
#define EDGERT_OP_STRIDED_SLICE 19
#define EDGERT_OP_REQUANTIZE 20
#define EDGERT_OP_COUNT 21

#define EDGERT_OP_MAX_INPUTS 8
#define EDGERT_PLAN_MAX_IO 8
/* Arena base alignment every invoke requires (the compiler places tensors on this grid). */
#define EDGERT_ARENA_ALIGN 16
/* Largest depth (FULLY_CONNECTED) / kh*kw*ic (CONV_2D) for which a host plan carries packed
 * int16 weight copies (the kernels keep one row of that many int16 on the stack). */
#define EDGERT_ENGINE_WIDE_MAX 512

/* One tensor: dims is the shape right-aligned to 4-D (leading 1s), NHWC for images;
 * bytes == dims[0]*dims[1]*dims[2]*dims[3] * element size; offset aligned to the element size
 * inside its space. */
typedef struct {
    int32_t dtype;                 /* EDGERT_DTYPE_* */
    int32_t space;                 /* EDGERT_SPACE_* */
    uint32_t offset;               /* bytes into the arena / constant blob */
    uint32_t bytes;
    int32_t dims[4];
} edgert_tensor;

/* Fields shared by the quantized arithmetic ops. */
typedef struct {
    int32_t in_offset;             /* -input zero point */
    int32_t out_offset;            /* +output zero point */
    int32_t act_min, act_max;      /* int8 clamp (fused activation) */
    float f_min, f_max;            /* float32 clamp (fused activation) */
} edgert_act;

/* FULLY_CONNECTED: in [rows, depth] (flattened), weights [units, depth], inputs: x, w,
 * bias (int32 for int8 with input offset folded in: b[o] + in_offset*sum_d w[o][d]; float
 * for float32), int8 only: mult[units], shift[units] (int32), and optionally the weights
 * packed as int16 (groups of 4 rows x pairs of columns, see pack_fc_weights() in
 * edgert/engine/compiler.py; SIMD 16-bit multiply-add on the host, depth <= 512); float32
 * optionally: the weights transposed [depth][units rounded up to 8] (vectorizes over outputs,
 * same sums).
 * A microcontroller plan leaves the optional copies out to keep constants small. */
typedef struct {
    edgert_act a;
    int32_t rows, depth, units;
} edgert_fc_params;

/* CONV_2D / DEPTHWISE_CONV_2D: inputs x (NHWC), w (OHWI / 1HWO), bias (int32/float), int8
 * only: mult[oc], shift[oc], and for CONV_2D without groups optionally the filter as packed
 * int16 rows of kh*kw*ic (<= 512; im2col + SIMD matvec); float32 likewise optionally the
 * transposed filter [kh*kw*ic][oc rounded up to 8]. Padding already resolved. */
typedef struct {
    edgert_act a;
    int32_t stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
    int32_t depth_multiplier;      /* depthwise only */
} edgert_conv_params;

typedef struct {
    edgert_act a;
    int32_t stride_h, stride_w, filter_h, filter_w, pad_h, pad_w;
} edgert_pool_params;

/* SOFTMAX (int8: TFLite Micro gemmlowp fixed point; float: exp/sum). int8 inputs: x and
 * optionally an int32[256] table lut[k] = exp of the scaled difference -k (0 below diff_min),
 * from edgert_softmax_exp_lut(): the same values without 2 exp evaluations per element. */
typedef struct {
    float beta;
    int32_t in_mult, in_left_shift, diff_min;
} edgert_softmax_params;

/* LOGISTIC / TANH int8 (TFLite Micro: Q4.27 input, gemmlowp logistic/tanh). */
typedef struct {
    int32_t in_zp, range_radius, in_mult, in_shift;
} edgert_sigmoid_params;

/* RELU / RELU6 (int8: rescale then clamp), QUANTIZE / REQUANTIZE / DEQUANTIZE.
 * LOGISTIC, TANH, RELU, RELU6, REQUANTIZE int8 -> int8 may take a second input: an int8[256]
 * table lut[(uint8_t)x] (the compiler makes it by running the op on all 256 values). */
typedef struct {
    edgert_act a;
    int32_t mult, shift;           /* RELU int8, REQUANTIZE */
    float scale;                   /* QUANTIZE: output scale; DEQUANTIZE: input scale */
    int32_t zero_point;            /* QUANTIZE: output zp; DEQUANTIZE: input zp */
} edgert_unary_params;

/* ADD / MUL with 4-D broadcasting (the tensors' dims). */
typedef struct {
    edgert_act a;
    int32_t in2_offset;            /* -zero point of input 2 */
    int32_t left_shift;            /* ADD: 20 */
    int32_t in1_mult, in1_shift, in2_mult, in2_shift, out_mult, out_shift;
} edgert_binary_params;

/* MEAN over the axes whose bit is set in axis_mask (bit i = 4-D axis i). int8 modes:
 * 2 = TFLite Micro's QuantizedMeanOrSum: MBQM(sum - in_zp*count, mult, shift) + out_zp with
 * 1/count folded into mult/shift (what the compiler emits); 0 = sum / count truncated (same
 * scale and zero point); 1 = MBQM(sum - in_zp*count) then divide by count rounding half away
 * (older reference_integer_ops::Mean). */
typedef struct {
    int32_t axis_mask;
    int32_t mode;
    int32_t in_zp, out_zp, mult, shift;
    float in_scale, out_scale;
} edgert_mean_params;

/* PAD: before[i] elements of pad value before 4-D axis i (after = out - in - before). */
typedef struct {
    int32_t before[4];
    int32_t int_value;             /* int8 pad value (the output zero point) */
    float float_value;
} edgert_pad_params;

/* CONCATENATION along 4-D axis, of n_in inputs (all same dtype/quantization). */
typedef struct {
    int32_t axis;
} edgert_concat_params;

/* STRIDED_SLICE: out[i..] = in[begin + i*stride] per 4-D axis (output dims from tensor). */
typedef struct {
    int32_t begin[4];
    int32_t stride[4];
} edgert_slice_params;

typedef union {
    edgert_fc_params fc;
    edgert_conv_params conv;
    edgert_pool_params pool;
    edgert_softmax_params softmax;
    edgert_sigmoid_params sigmoid;
    edgert_unary_params unary;
    edgert_binary_params binary;
    edgert_mean_params mean;
    edgert_pad_params pad;
    edgert_concat_params concat;
    edgert_slice_params slice;
    int32_t raw[24];
} edgert_op_params;

typedef struct {
    int32_t type;                  /* EDGERT_OP_* */
    int32_t dtype;                 /* arithmetic: EDGERT_DTYPE_INT8 or _FLOAT32 */
    int32_t n_in;
    int32_t in[8];                 /* EDGERT_OP_MAX_INPUTS tensor indices, -1 = absent */
    int32_t out;                   /* tensor index */
    edgert_op_params p;
} edgert_op;

typedef struct {
    int32_t n_tensors;
    const edgert_tensor *tensors;
    int32_t n_ops;
    const edgert_op *ops;
    int32_t n_inputs, n_outputs;
    int32_t inputs[8];             /* EDGERT_PLAN_MAX_IO tensor indices (arena tensors) */
    int32_t outputs[8];
    uint32_t arena_bytes;          /* the arena every invoke needs */
    uint32_t consts_bytes;         /* size of the constant blob */
} edgert_plan;

/* Validate a plan against its constant blob (every tensor inside its space, aligned, sizes
 * consistent with dims; every op's params consistent with its tensors). EDGERT_ERR_MODEL when
 * not; EDGERT_ERR_UNSUPPORTED for an op whose family this build leaves out (a firmware
 * configured for one impulse, csrc/edgert_config.h). The invoke functions run the same
 * check. */
int edgert_engine_check(const edgert_plan *plan, const void *consts, size_t consts_bytes);

/* Run the plan once. inputs[i] holds model input i (tensor plan->inputs[i], its bytes),
 * outputs[i] receives model output i. arena: arena_bytes >= plan->arena_bytes, 16-byte
 * aligned; its contents are scratch. One arena per thread. */
int edgert_engine_invoke(const edgert_plan *plan, const void *consts, size_t consts_bytes,
                         void *arena, size_t arena_bytes,
                         const void *const *inputs, void *const *outputs);

/* The fixed arguments of repeated single invokes, bundled once (what a binding keeps per
 * thread: one arena each), so that a call passes two pointers instead of seven. */
typedef struct {
    const edgert_plan *plan;
    const void *consts;
    size_t consts_bytes;
    void *arena;
    size_t arena_bytes;
    void *const *outputs;          /* outputs[i] receives model output i */
} edgert_engine_session;

/* edgert_engine_invoke of a plan with ONE input, held in input[0..input_bytes) (input_bytes
 * must equal that tensor's bytes: EDGERT_ERR_SHAPE otherwise). Validates the plan as every
 * entry point does. */
int edgert_engine_invoke_one(const edgert_engine_session *session, const void *input,
                             size_t input_bytes);

/* Run the plan on n items in one call: item k of input i starts at
 * (const char *)inputs[i] + k * (bytes of input i), likewise for outputs (contiguous
 * batches). Items run one after another in the same arena. */
int edgert_engine_invoke_batch(const edgert_plan *plan, const void *consts,
                               size_t consts_bytes, void *arena, size_t arena_bytes,
                               const void *const *inputs, int32_t n, void *const *outputs);

/* Fixed-point primitives of the int8 kernels (exported for tests). */
int32_t edgert_fx_srdhm(int32_t a, int32_t b);
int32_t edgert_fx_rdbpot(int32_t x, int32_t exponent);
int32_t edgert_fx_mbqm(int32_t x, int32_t multiplier, int32_t shift);
/* gemmlowp exp_on_negative_values on a Q(integer_bits).(31-integer_bits) value -> Q0.31. */
int32_t edgert_fx_exp_on_negative_values(int32_t a, int32_t integer_bits);
int32_t edgert_fx_one_over_one_plus_x(int32_t a);

/* The 256-entry exp table of an int8 SOFTMAX (see edgert_softmax_params). */
int edgert_softmax_exp_lut(const edgert_softmax_params *p, int32_t *lut);

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

/* ============================================================== impulse plan ===== */
/* The whole impulse as one compiled plan: DSP blocks, the feature concatenation each learn
 * block takes, int8 input quantization, the networks (engine plans), output dequantization,
 * K-means / GMM anomaly scoring, thresholds -> prediction. One call runs one window (or N)
 * end to end with the same kernels as the whole-recording batch path (edgert_*_features_batch,
 * edgert_quantize_int8, edgert_engine_invoke_batch, edgert_dequantize_int8,
 * edgert_kmeans_score_batch), so both give identical numbers.
 * Owned by: csrc/impulse.c; built by edgert/runtime/impulse_plan.py.
 *
 * The plan is plain data: counts, indices, parameter structs, and pointers only to read-only
 * arrays (the DSP/learn tables, engine plans and their constant blobs, K-means arrays), so a
 * serialiser can write it as C initialisers (const tables whose addresses fill the pointer
 * fields) and a microcontroller runs exactly what the host tested. No malloc: working memory
 * is one caller-provided scratch buffer sized by edgert_impulse_scratch_size().
 * Every entry point validates the plan (every count, index, size, offset and parameter; the
 * engine plans with edgert_engine_check) and returns EDGERT_ERR_MODEL for an inconsistent
 * (tampered) plan; pointers are trusted to point at arrays of the sizes the counts give, as
 * every kernel trusts its pointers.
 *
 * DSP block types: spectral analysis, raw, flatten and the audio blocks (MFCC, MFE,
 * spectrogram: one code, the block in p.audio.block).
 * Adding a DSP block type: give it an EDGERT_DSP_* code and a member of edgert_dsp_params,
 * teach dsp_count()/dsp_features() in impulse.c to call its batch kernel, and register its
 * Python writer in edgert/runtime/impulse_plan.py (DSP_WRITERS). Until then bundles using it
 * run through the batch path (the plan builder says why). */

#define EDGERT_DSP_SPECTRAL 1          /* edgert_spectral_features_batch (all versions) */
#define EDGERT_DSP_RAW 2               /* edgert_raw_features_batch */
#define EDGERT_DSP_FLATTEN 3           /* edgert_flatten_features_batch */
#define EDGERT_DSP_AUDIO 4             /* edgert_audio_features_batch (p.audio.block) */

#define EDGERT_LEARN_CLASSIFIER 1      /* network -> per-label scores (keras) */
#define EDGERT_LEARN_KMEANS 2          /* K-means anomaly score (anomaly) */
#define EDGERT_LEARN_GMM 3             /* network output[0] of the selected features (anomaly-gmm) */

#define EDGERT_IMPULSE_MAX_AXES 16     /* axes one DSP block reads */
#define EDGERT_IMPULSE_MAX_DSP 8       /* DSP blocks per impulse, and per learn block */
#define EDGERT_IMPULSE_MAX_LEARN 8     /* learn blocks per impulse */
#define EDGERT_IMPULSE_MAX_LABELS 64   /* labels of the classifier a result carries */

#define EDGERT_PREDICTION_UNCERTAIN -1 /* top score below the classifier's min_score */
#define EDGERT_PREDICTION_ANOMALY -2   /* anomaly score above min_anomaly_score */

#define EDGERT_IMPULSE_STAGE_DSP 0
#define EDGERT_IMPULSE_STAGE_CLASSIFIER 1  /* classifier networks, quantize/dequantize included */
#define EDGERT_IMPULSE_STAGE_ANOMALY 2     /* K-means and GMM blocks */
#define EDGERT_IMPULSE_STAGES 3

typedef union {
    edgert_spectral_params spectral;
    edgert_raw_params raw;
    edgert_flatten_params flatten;
    edgert_audio_params audio;
} edgert_dsp_params;

/* One DSP block. Its features of a window occupy columns offset .. offset+n_features-1 of the
 * window's feature row (blocks in table order, contiguous: offset = sum of the previous
 * blocks' n_features). */
typedef struct {
    int32_t type;                  /* EDGERT_DSP_* */
    int32_t n_axes;                /* 1..EDGERT_IMPULSE_MAX_AXES */
    int32_t axes[16];              /* columns of the raw rows this block reads, in its order */
    int32_t n_features;            /* per window (what the block's check reports) */
    int32_t offset;
    edgert_dsp_params p;
} edgert_impulse_dsp;

/* One learn block. Its input is the features of DSP blocks dsp[0..n_dsp-1] concatenated in
 * that order (n_features values); its values of a window go to columns
 * output_offset .. output_offset+n_outputs-1 of the window's output row (blocks in table
 * order, contiguous). */
typedef struct {
    int32_t type;                  /* EDGERT_LEARN_* */
    int32_t n_dsp;                 /* 1..EDGERT_IMPULSE_MAX_DSP */
    int32_t dsp[8];                /* indices into the plan's dsp table */
    int32_t n_features;
    int32_t output_offset;
    int32_t n_outputs;             /* classifier: its labels (= network outputs); anomaly: 1 */
    float threshold;               /* classifier: min_score; anomaly: min_anomaly_score */
    /* CLASSIFIER and GMM: one engine plan with one input and one output */
    const edgert_plan *net;
    const void *consts;            /* the plan's constant blob (4-byte aligned) */
    uint32_t consts_bytes;
    int32_t in_dtype;              /* EDGERT_DTYPE_INT8 (quantized with in_scale/in_zero_point,
                                    * edgert_quantize_int8) or _FLOAT32; GMM: _FLOAT32 */
    float in_scale;
    int32_t in_zero_point;
    int32_t out_dtype;             /* EDGERT_DTYPE_INT8 (dequantized with out_scale/
                                    * out_zero_point) or _FLOAT32; GMM: _FLOAT32 */
    float out_scale;
    int32_t out_zero_point;
    /* GMM: the network input is features[select[0..n_select-1]] */
    int32_t n_select;
    const int32_t *select;
    /* KMEANS: axes index the block's input row (0..n_features-1) */
    edgert_kmeans_params kmeans;
} edgert_impulse_learn;

typedef struct {
    int32_t n_axes;                /* values per raw row (the impulse's input axes) */
    int32_t window_samples;        /* rows per window */
    int32_t n_dsp;                 /* 1..EDGERT_IMPULSE_MAX_DSP */
    const edgert_impulse_dsp *dsp;
    int32_t n_features;            /* sum of the DSP blocks' n_features */
    int32_t n_learn;               /* 0..EDGERT_IMPULSE_MAX_LEARN */
    const edgert_impulse_learn *learn;
    int32_t n_outputs;             /* sum of the learn blocks' n_outputs */
    int32_t classifier;            /* learn index whose scores/threshold the results carry
                                    * (the first CLASSIFIER), -1 when none */
    int32_t anomaly;               /* learn index of the first KMEANS/GMM block, -1 when none */
    int32_t n_labels;              /* the classifier's n_outputs (<= EDGERT_IMPULSE_MAX_LABELS), 0 */
} edgert_impulse_plan;

/* One window's result. prediction is Studio's rule: EDGERT_PREDICTION_ANOMALY when the
 * anomaly score is above the anomaly block's threshold, else EDGERT_PREDICTION_UNCERTAIN when
 * there is no classifier or its top score is below min_score, else the top label's index. */
typedef struct {
    int32_t prediction;
    int32_t top;                   /* index of the highest score (the first of equals), -1 */
    float anomaly;                 /* the anomaly block's score, 0 without one */
    int32_t n_labels;
    float scores[64];              /* EDGERT_IMPULSE_MAX_LABELS; n_labels of them are set */
} edgert_impulse_result;

/* Per-stage timing (optional). clock() returns a free-running counter - CPU cycles
 * (DWT->CYCCNT on a Cortex-M), nanoseconds, microseconds: the caller's choice and unit -
 * whose differences are taken modulo 2^32. A run sets ticks[EDGERT_IMPULSE_STAGE_*] to the
 * ticks spent in each stage over all its windows, and total to the whole call. */
typedef struct {
    uint32_t (*clock)(void *context);
    void *context;
    uint64_t ticks[3];             /* EDGERT_IMPULSE_STAGES */
    uint64_t total;
} edgert_impulse_timing;

/* Validate a plan (EDGERT_ERR_MODEL when anything is inconsistent; _NULL without a plan). */
int edgert_impulse_check(const edgert_impulse_plan *plan);

/* Bytes of scratch that let edgert_impulse_run() process n_windows >= 1 windows per pass
 * (DSP features, network I/O, the largest arena and DSP scratch). With less - but at least
 * the size for 1 - a run processes its windows in smaller passes (same results). */
int edgert_impulse_scratch_size(const edgert_impulse_plan *plan, int32_t n_windows,
                                size_t *bytes);

/* Run the impulse on n_windows >= 0 windows of a recording: data holds n_rows rows of
 * plan->n_axes interleaved floats; window w covers rows starts[w] .. starts[w] +
 * window_samples - 1 (all inside 0..n_rows, else EDGERT_ERR_ARG). results[w] receives window
 * w's result. Optional (NULL = not wanted): features (n_windows x plan->n_features floats,
 * every DSP block's features of window w in row w), outputs (n_windows x plan->n_outputs
 * floats: every learn block's values), timing. NaN/inf in a window's samples ->
 * EDGERT_ERR_NONFINITE (earlier windows' outputs may be written). Reentrant; scratch is
 * per call (one per thread). */
int edgert_impulse_run(const edgert_impulse_plan *plan, const float *data, int32_t n_rows,
                       const int32_t *starts, int32_t n_windows,
                       edgert_impulse_result *results, float *features, float *outputs,
                       edgert_impulse_timing *timing, void *scratch, size_t scratch_bytes);

/* The learn blocks only, on DSP features the caller computed (continuous audio computes them
 * slice by slice, edgert_audio_frame_rows/_finish): features holds n_windows rows of
 * plan->n_features floats laid out as edgert_impulse_run's features output (every DSP block,
 * table order). results, outputs and timing (DSP stage 0) as edgert_impulse_run; the same
 * numbers for the same features. NaN/inf in a row -> EDGERT_ERR_NONFINITE. */
int edgert_impulse_run_features(const edgert_impulse_plan *plan, const float *features,
                                int32_t n_windows, edgert_impulse_result *results,
                                float *outputs, edgert_impulse_timing *timing, void *scratch,
                                size_t scratch_bytes);

/* One window (the device loop): window holds n_values == window_samples * n_axes floats
 * (EDGERT_ERR_SHAPE otherwise), rows of interleaved axes. timing may be NULL. */
int edgert_impulse_run_window(const edgert_impulse_plan *plan, const float *window,
                              size_t n_values, edgert_impulse_result *result,
                              edgert_impulse_timing *timing, void *scratch,
                              size_t scratch_bytes);

/* edgert_impulse_run's fixed arguments, bound once: a binding that classifies window after
 * window into the same buffers passes only what changes (edgert_impulse_run_bound), which
 * keeps the per-call argument conversion of an interpreter's foreign-function layer small.
 * The fields mean what the parameters of edgert_impulse_run mean; features, outputs and
 * timing may be NULL. */
typedef struct {
    const edgert_impulse_plan *plan;
    const int32_t *starts;
    edgert_impulse_result *results;
    float *features;
    float *outputs;
    edgert_impulse_timing *timing;
    void *scratch;
    size_t scratch_bytes;
} edgert_impulse_args;

/* edgert_impulse_run(args->plan, data, n_rows, args->starts, n_windows, args->results, ...)
 * (EDGERT_ERR_NULL without args). */
int edgert_impulse_run_bound(const edgert_impulse_args *args, const float *data,
                             int32_t n_rows, int32_t n_windows);

/* Host clocks for edgert_impulse_timing.clock (context unused): the monotonic clock in
 * nanoseconds / microseconds, modulo 2^32 (a stage of 4.29 s / 71 min at most); 0 on a
 * platform without a POSIX or Windows clock (a microcontroller passes its own counter).
 * Owned by: csrc/clock.c. */
uint32_t edgert_clock_ns(void *context);
uint32_t edgert_clock_us(void *context);

/* Copy n floats (a chunk of stream samples into a ring buffer) and check them: EDGERT_OK when
 * all are finite, else EDGERT_ERR_NONFINITE (out then holds an unspecified prefix). One pass
 * instead of a check and a copy. */
int edgert_copy_finite(const float *in, size_t n, float *out);

/* ========================================================== impulse plan end ===== */

/* EDGERT_CDEF_END */

#ifdef __cplusplus
}
#endif

#endif /* EDGERT_H */
