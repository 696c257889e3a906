/*
 * dsp_real.h - the working precision of the DSP hot path (internal, not in the cdef).
 *
 * Host build (default): dsp_real is double. The per-axis pipeline (moments, FFT, the
 * decimation and v1 filters, wavelet statistics, flatten statistics) runs in double so the
 * features track the float64 training reference; every host test asserts that, and these
 * macros expand to exactly the code that was written with `double` before.
 *
 * Microcontroller build (-DEDGERT_DSP_FLOAT32, e.g. a Cortex-M4F whose FPU is single
 * precision and emulates double in software): dsp_real is float and the float libm
 * functions are used, so the per-sample and per-bin work is hardware single precision.
 * What stays in double there is per-call set-up only (parameter validation, the FFT bin mask
 * computed like the reference's float64 rfftfreq, the Butterworth/Chebyshev designs, which the
 * reference computes in float64 and rounds) - see docs/mcu.md for the list and the measured
 * drift against the float64 reference and Edge Impulse's float32 SDK.
 *
 * DSP_REAL(x) converts a constant to the working precision at compile time (no run-time
 * double arithmetic, no -Wdouble-promotion warning in the float build).
 */
#ifndef EDGERT_DSP_REAL_H
#define EDGERT_DSP_REAL_H

#include <math.h>

#ifdef EDGERT_DSP_FLOAT32
typedef float dsp_real;
#define DSP_REAL(x) ((float)(x))
#define dsp_sqrt sqrtf
#define dsp_fabs fabsf
#define dsp_log logf
#define dsp_log10 log10f
#define dsp_cos cosf
#define dsp_sin sinf
#else
typedef double dsp_real;
#define DSP_REAL(x) ((double)(x))
#define dsp_sqrt sqrt
#define dsp_fabs fabs
#define dsp_log log
#define dsp_log10 log10
#define dsp_cos cos
#define dsp_sin sin
#endif

#endif
