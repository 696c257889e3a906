/*
 * Internal contract between the spectral-analysis families (not public, not in the cdef):
 *   spectral.c (dispatcher, FFT path v2-v4, pre-processing) calls into
 *   spectral_v1.c (legacy v1 block) and wavelet.c (wavelet path of v3/v4), and both of those
 *   use the FFT and the Butterworth design of fft.c / filter.c.
 * All functions are reentrant: memory comes from the caller's float scratch, sized by the
 * matching *_scratch_floats() query. Statuses are edgert_status codes.
 */
#ifndef EDGERT_SPECTRAL_INTERNAL_H
#define EDGERT_SPECTRAL_INTERNAL_H

#include "edgert.h"

/* ---- filter.c ---- */
/* Butterworth low/high-pass of even order 2..8 as order/2 second-order sections in scipy's
 * sos layout (b0 b1 b2 a0 a1 a2, a0 == 1), designed in double at cutoff fc for rate fs.
 * type is EDGERT_FILTER_LOW or EDGERT_FILTER_HIGH. */
int edgert__butter_sos(int32_t type, int32_t order, double fc, double fs, double *sos);

/* ---- spectral_v1.c ---- */
/* Features per axis of a v1 block: 1 + 2*peaks_count + (n_power_edges - 1). */
int32_t edgert__v1_features_per_axis(const edgert_spectral_params *p);
/* floats of scratch edgert__v1_axis needs for n samples */
size_t edgert__v1_scratch_floats(const edgert_spectral_params *p, int32_t n);
/* One axis of the v1 block. x: the n raw (unscaled) values of this axis, contiguous;
 * the function scales, removes the mean, filters etc. itself (spec "Version 1").
 * out: edgert__v1_features_per_axis(p) floats. */
int edgert__v1_axis(const edgert_spectral_params *p, const float *x, int32_t n, float *out,
                    float *scratch);

/* ---- wavelet.c ---- */
/* Validate level/wavelet and the window length (>= 32 * 2^level samples). */
int edgert__wavelet_check(const edgert_spectral_params *p, int32_t n);
/* Features per axis: 14 * (level + 1). */
int32_t edgert__wavelet_features_per_axis(const edgert_spectral_params *p);
size_t edgert__wavelet_scratch_floats(const edgert_spectral_params *p, int32_t n);
/* One axis of the wavelet path. y: n samples AFTER scale, (decimation,) filter and mean
 * removal, done by spectral.c exactly as for the FFT path. */
int edgert__wavelet_axis(const edgert_spectral_params *p, const float *y, int32_t n,
                         float *out, float *scratch);

#endif
