/*
 * Internal contract between the spectral-analysis families (not public, not in the cdef):
 *   spectral.c (dispatcher, FFT path v2-v4, pre-processing) calls into
 *   spectral_v1.c (legacy v1 block) and wavelet.c (wavelet path of v3/v4), and both of those
 *   use the FFT and the Butterworth design of fft.c / filter.c.
 * All functions are reentrant: memory comes from the caller's float scratch, sized by the
 * matching *_scratch_floats() query. Statuses are edgert_status codes.
 * dsp_real (dsp_real.h) is the working precision of the per-sample work: double on the host,
 * float in the microcontroller build (-DEDGERT_DSP_FLOAT32).
 */
#ifndef EDGERT_SPECTRAL_INTERNAL_H
#define EDGERT_SPECTRAL_INTERNAL_H

#include "edgert.h"
#include "dsp_real.h"
#include "edgert_config.h"

/* ---- feature count and batch scratch of a block in one check (impulse.c validates its
 * DSP blocks on every run) ---- */
/* edgert_spectral_check and edgert_spectral_scratch_size (spectral.c) */
int edgert__spectral_sizes(const edgert_spectral_params *p, int32_t n_samples, int32_t n_axes,
                           int32_t *n_features, size_t *scratch_bytes);
/* edgert_audio_check and edgert_audio_scratch_size's batch bytes (audio.c) */
int edgert__audio_sizes(const edgert_audio_params *p, int32_t n_samples, int32_t n_axes,
                        int32_t *n_features, size_t *batch_bytes);

/* ---- filter.c ---- */
/* Butterworth low/high-pass of even order 2..8 as order/2 second-order sections in scipy's
 * sos layout (b0 b1 b2 a0 a1 a2, a0 == 1), designed in double at cutoff fc for rate fs.
 * type is EDGERT_FILTER_LOW or EDGERT_FILTER_HIGH. Section order and gain placement follow
 * scipy's zpk2sos (whole gain in the first section). The spectral block rounds these to float32
 * (the reference casts butter's sos to float32) and runs them in float32 arithmetic like scipy's
 * float32 sosfilt (no input decimation) or in double (after decimation, float64 data). */
int edgert__butter_sos(int32_t type, int32_t order, double fc, double fs, double *sos);
/* Direct form II transposed cascade in the working precision, in place, scipy sosfilt
 * semantics. zi: 2 values per section, state in/out (must not be NULL; zero it for a zero
 * start). */
void edgert__sosfilt_real(const dsp_real *sos, int32_t n_sections, dsp_real *x, int32_t n,
                          dsp_real *zi);
/* float32 cascade (1..4 sections) with scipy's float32 sosfilt operation order, zero initial
 * state, on n_axes signals x + a*stride (float values held in dsp_real), in place. */
void edgert__sosfilt_f_axes(const float *sos, int32_t n_sections, dsp_real *x, int32_t n,
                            size_t stride, int32_t n_axes);
/* Filter x (length n) with a decimation stage (sos from edgert_decimation_sos in the working
 * precision, zi_unit its unit steady state, start state zi_unit * x[0]) and keep x[0], x[r],
 * ...: writes ceil(n/r) samples to out (out == x allowed). Returns the output length. */
int32_t edgert__decimate_real(const dsp_real *sos, const dsp_real *zi_unit, int32_t r,
                              const dsp_real *x, int32_t n, dsp_real *out);

/* ---- fft.c ---- */
/* A real-FFT plan for a power-of-two n (2..65536), living in caller memory (fft.c):
 * twiddles exp(-2*pi*i*k/n) for the spectrum split and per butterfly stage, and an
 * n/2-entry bit-reversal table. Twiddles and transforms are in the working precision
 * (dsp_real). */
typedef struct {
    int32_t n;
    const dsp_real *tw;     /* 2n values, layout private to fft.c */
    const int32_t *bitrev;  /* n/2 entries */
} edgert__rfft_plan;
/* bytes of plan memory (twiddles + table) for n; 0 when n is not a valid length */
size_t edgert__rfft_plan_bytes(int32_t n);
/* Fill a plan in mem (edgert__rfft_plan_bytes(n) bytes, 8-byte aligned). */
int edgert__rfft_plan_init(edgert__rfft_plan *plan, int32_t n, void *mem);
/* A plan over memory that edgert__rfft_plan_init() filled earlier (possibly copied since: the
 * layout is position-independent), without recomputing it. The bit-reversal table is checked
 * (EDGERT_ERR_ARG when an entry is out of range), so a corrupt buffer cannot index outside the
 * transform; mem must be 8-byte aligned. Used by audio.c's prepared state. */
int edgert__rfft_plan_view(edgert__rfft_plan *plan, int32_t n, const void *mem);
/* Power spectrum |X_k|^2 of the n real samples x (zero-padded past len; len may be < n):
 * pw[0..n/2]. work: n values. */
void edgert__rfft_power(const edgert__rfft_plan *plan, const dsp_real *x, int32_t len,
                        dsp_real *pw, dsp_real *work);
/* pmax[k] = max(pmax[k], scale * |X_k|^2), k = 0..n/2: one frame of a max-hold spectrum.
 * work: n values. */
void edgert__rfft_power_max(const edgert__rfft_plan *plan, const dsp_real *x, int32_t len,
                            dsp_real scale, dsp_real *pmax, dsp_real *work);
/* Max-hold power spectrum of y (length len): frames start at 0, step, 2*step, ... while
 * start < len, each n samples zero-padded past the end; pmax[k] = max over frames of
 * scale*|X_k|^2, k = 0..n/2. work: 6n + 4 values (16-byte aligned for the SIMD
 * path). */
void edgert__welch_max_hold(const edgert__rfft_plan *plan, const dsp_real *y, int32_t len,
                            int32_t step, dsp_real scale, dsp_real *pmax, dsp_real *work);
/* Full spectrum: re/im (n/2+1 each) of the n samples x (zero-padded past len). work: n values */
void edgert__rfft_real(const edgert__rfft_plan *plan, const dsp_real *x, int32_t len,
                       dsp_real *re, dsp_real *im, dsp_real *work);

/* ---- spectral_v1.c ---- */
/* Features per axis of a v1 block: 1 + 2*peaks_count + max(0, n_power_edges - 1);
 * EDGERT_ERR_PARAM (negative) for peaks_count outside 0..2^20 or n_power_edges outside 0..32. */
int32_t edgert__v1_features_per_axis(const edgert_spectral_params *p);
/* floats of scratch edgert__v1_axis needs for n samples (includes edgert_rfft's scratch and
 * 16 bytes of alignment slack; any float-aligned pointer will do) */
size_t edgert__v1_scratch_floats(const edgert_spectral_params *p, int32_t n);
/* One axis of the v1 block. x: the n raw (unscaled) values of this axis, contiguous;
 * the function scales, removes the mean, filters etc. itself (spec "Version 1").
 * out: edgert__v1_features_per_axis(p) floats. */
int edgert__v1_axis(const edgert_spectral_params *p, const float *x, int32_t n, float *out,
                    float *scratch);
/* peakutils.indexes(y, thres=0) on m values (strict rise then fall, plateaus resolved to
 * their middle, value above the global minimum): the peak positions in ascending order are
 * written to idx (as exact floats, up to m/2 of them) and counted in the return value.
 * dy: m-1 floats of workspace. Exposed for the unit tests. */
int32_t edgert__v1_peak_indexes(const float *y, int32_t m, float *dy, float *idx);

/* ---- wavelet.c ---- */
/* Validate level/wavelet and the window length (>= 32 * 2^level samples). */
int edgert__wavelet_check(const edgert_spectral_params *p, int32_t n);
/* Features per axis: 14 * (level + 1); EDGERT_ERR_PARAM (negative) for a level outside 1..7. */
int32_t edgert__wavelet_features_per_axis(const edgert_spectral_params *p);
size_t edgert__wavelet_scratch_floats(const edgert_spectral_params *p, int32_t n);
/* One axis of the wavelet path. y: n samples AFTER scale, (decimation,) filter and mean
 * removal, done by spectral.c exactly as for the FFT path. Scratch (sized for the longest
 * filter, independent of the wavelet): 3 * floor((n + 19) / 2) floats; no alignment needed.
 * out: [cA_L, cD_L, ..., cD_1] x 14 features (spec "Wavelet path"). */
int edgert__wavelet_axis(const edgert_spectral_params *p, const float *y, int32_t n,
                         float *out, float *scratch);

/* ---- wavelet_filters.c (generated by tools/gen_wavelet_filters.py) ---- */
#define EDGERT__N_WAVELETS 52          /* bior*, coif1-3, db2-10, haar, rbio*, sym2-10 */
#define EDGERT__WAVELET_MAX_TAPS 20    /* db10 / sym10 */
typedef struct {
    const char *name;                  /* pywt spelling */
    int32_t taps;                      /* pywt dec_len (zero padding of bior/rbio kept) */
    const float *dec_lo;
    const float *dec_hi;
} edgert__wavelet_filter;
extern const edgert__wavelet_filter edgert__wavelet_filters[EDGERT__N_WAVELETS];

#endif
