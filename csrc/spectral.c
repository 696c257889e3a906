/*
 * spectral.c - the Spectral Analysis DSP block: validation, feature counts, scratch sizing,
 * the per-axis pre-processing shared by every path (scale, v4 input decimation, Butterworth,
 * mean removal) and the FFT path of versions 2-4. Version 1 (spectral_v1.c) and the wavelet
 * path (wavelet.c) are called from here per axis.
 *
 * Numerics follow the training reference (processing-blocks spectral_analysis, numpy 2 /
 * scipy): the raw window is float32 and scaled in float32; without input decimation the
 * reference filters (float32 sos) and removes the mean (numpy's pairwise float32 sum) in
 * float32, and those steps are reproduced operation for operation, so the float32 rounding of
 * e.g. a high-pass filter on a gravity offset is the same as in training. With decimation
 * (float64 Chebyshev stages) everything after runs in double, as in the reference. Statistics
 * and the FFT run in double. "double" above is the working precision dsp_real (dsp_real.h):
 * float in the microcontroller build (-DEDGERT_DSP_FLOAT32), where only per-call set-up
 * (validation, bin mask, filter designs) uses double.
 */
#if defined(__GNUC__) && !defined(__clang__) && !defined(__OPTIMIZE_SIZE__)
/* per-sample loops (gather, mean removal, moments) vectorise at O3 */
#pragma GCC optimize("O3")
#endif
#include <float.h>
#include <math.h>
#include <string.h>

#include "edgert.h"
#include "spectral_internal.h"
#include "window_internal.h"

#if !defined(EDGERT_NO_SIMD) && !defined(EDGERT_DSP_FLOAT32) && (defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2))
#include <emmintrin.h>
#define EDGERT_SPECTRAL_SSE2 1
#endif

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif


typedef struct {
    int32_t L;              /* samples per window (raw rate) */
    int32_t n_axes;
    int32_t n_stages;       /* input decimation stages (v4) */
    int32_t stage_r[3];
    double fs1;             /* rate after input decimation */
    int32_t Ld;             /* samples after input decimation */
    int32_t butter;         /* Butterworth runs (type low/high, order > 0) */
    int32_t fft;            /* FFT path (v2-v4 and analysis FFT) */
    int32_t f32;            /* float32 pre-processing (no decimation) */
    int32_t k_lo, k_hi;     /* kept bins, main */
    int32_t lf;             /* extra low frequency block */
    int32_t Llf;            /* samples of the low-frequency signal */
    int32_t k_lo_lf, k_hi_lf;
    int32_t per_axis;       /* features per axis, main block */
    int32_t per_axis_lf;    /* features per axis, low-frequency block (0 if none) */
    int32_t n_features;
} layout;

static int is_pow2(int32_t n) { return n >= 2 && n <= EDGERT_FFT_MAX_LENGTH && (n & (n - 1)) == 0; }

static int ratio_stages(int32_t r, int32_t *st)
{
    switch (r) {
    case 1: return 0;
    case 3: st[0] = 3; return 1;
    case 10: st[0] = 10; return 1;
    case 30: st[0] = 3; st[1] = 10; return 2;
    case 100: st[0] = 10; st[1] = 10; return 2;
    case 1000: st[0] = 10; st[1] = 10; st[2] = 10; return 3;
    default: return -1;
    }
}

/* Bins kept by the masking rules, as the reference computes them (float64, rfftfreq). */
static int mask_bins(int32_t type, double cutoff, double fs, int32_t N, int32_t *lo,
                     int32_t *hi)
{
    double val = 1.0 / ((double)N * (1.0 / fs));
    double half = val / 2.0;
    double fc = cutoff;
    int32_t k, first = -1, last = -1;
    if (type != EDGERT_FILTER_NONE && fc > fs / 2.0)
        fc = fs / 2.0;
    for (k = 1; k <= N / 2; k++) {
        double f = (double)k * val;
        if (type == EDGERT_FILTER_LOW && f - half > fc)
            break;
        if (type == EDGERT_FILTER_HIGH && f + half < fc)
            continue;
        if (first < 0)
            first = k;
        last = k;
    }
    if (first < 0)
        return EDGERT_ERR_MASKED_ALL;
    *lo = first;
    *hi = last;
    return EDGERT_OK;
}

/* The reference's design check: poles of each float32 section (from the tan() formulation)
 * inside the unit circle. The reference finds the roots in float32 (LAPACK), so designs with
 * a pole within rounding of the circle go either way; here only poles clearly outside
 * (|p| > 1 + 1e-5) are rejected and the Python layer applies the reference's exact test. */
static int butter_stable(int32_t order, double fc, double fs)
{
    const double pi = 3.14159265358979323846264338327950288;
    float a = (float)tan(pi * fc / fs);
    float a2 = (float)pow((double)a, 2.0);
    int32_t k;
    for (k = 0; k < order / 2; k++) {
        double r = sin(pi * ((2.0 * k) + 1.0) / (2.0 * order));
        double s = (double)a2 + (2.0 * (double)a * r) + 1.0;
        float one_m = 1.0f - a2; /* float32 in the reference too */
        float d1 = (float)((double)(2.0f * one_m) / s);
        float d2 = (float)(-((double)a2 - (2.0 * (double)a * r) + 1.0) / s);
        /* poles: roots of z^2 - d1 z - d2 */
        double disc = (double)d1 * (double)d1 + 4.0 * (double)d2;
        double mag;
        if (disc < 0.0) {
            mag = sqrt(-(double)d2);
        } else {
            double sq = sqrt(disc);
            double r1 = fabs(((double)d1 + sq) / 2.0), r2 = fabs(((double)d1 - sq) / 2.0);
            mag = r1 > r2 ? r1 : r2;
        }
        if (!(mag <= 1.0 + 1e-5))
            return 0;
    }
    return 1;
}

static int make_layout(const edgert_spectral_params *p, int32_t L, int32_t A, layout *ly)
{
    int32_t N, i, filt;
    double fs;
    int st;
    memset(ly, 0, sizeof(*ly));
    if (p == NULL)
        return EDGERT_ERR_NULL;
    if (L < 1 || A < 1)
        return EDGERT_ERR_ARG;
    if (p->version < 1 || p->version > 4)
        return EDGERT_ERR_PARAM;
    N = p->fft_length;
    if (!is_pow2(N))
        return EDGERT_ERR_PARAM;
    if (!(p->sampling_freq > 0.0) || !isfinite(p->sampling_freq) || !isfinite(p->scale_axes))
        return EDGERT_ERR_PARAM;
    if (p->filter_type < EDGERT_FILTER_NONE || p->filter_type > EDGERT_FILTER_HIGH)
        return EDGERT_ERR_PARAM;
    if (!isfinite(p->filter_cutoff))
        return EDGERT_ERR_PARAM;
    filt = p->filter_type != EDGERT_FILTER_NONE;
    ly->L = L;
    ly->n_axes = A;
    ly->n_stages = ratio_stages(p->decimation_ratio, ly->stage_r);
    if (ly->n_stages < 0)
        return EDGERT_ERR_PARAM;
    if (ly->n_stages > 0) {
        if (p->version < 4)
            return EDGERT_ERR_PARAM;
        if (filt && p->filter_cutoff > p->sampling_freq / 2.0 / p->decimation_ratio * 0.9)
            return EDGERT_ERR_PARAM;
        if (!EDGERT_WITH_SPECTRAL_FILTERS)
            return EDGERT_ERR_UNSUPPORTED;
    }
    fs = p->sampling_freq;
    ly->Ld = L;
    for (i = 0; i < ly->n_stages; i++) {
        fs /= (double)ly->stage_r[i];
        ly->Ld = (ly->Ld + ly->stage_r[i] - 1) / ly->stage_r[i];
    }
    ly->fs1 = fs;
    ly->f32 = ly->n_stages == 0;
    if (filt && p->filter_order != 0) {
        double fsb = p->sampling_freq / (double)p->decimation_ratio;
        if (p->filter_order < 0 || p->filter_order > 8 || (p->filter_order & 1))
            return EDGERT_ERR_PARAM;
        if (!(p->filter_cutoff > 0.0) || !(p->filter_cutoff * 2.0 / fsb < 1.0))
            return EDGERT_ERR_PARAM;
        if (!EDGERT_WITH_SPECTRAL_FILTERS)
            return EDGERT_ERR_UNSUPPORTED;
        if (!butter_stable(p->filter_order, p->filter_cutoff, fsb))
            return EDGERT_ERR_PARAM;
        ly->butter = 1;
    }
    if (p->version == 1) {
        int32_t f;
        if (!EDGERT_WITH_SPECTRAL_V1)
            return EDGERT_ERR_UNSUPPORTED;
        f = edgert__v1_features_per_axis(p);
        if (f < 0)
            return f;
        ly->per_axis = f;
    } else if (p->version >= 3 && p->analysis_type == EDGERT_ANALYSIS_WAVELET) {
        int32_t f;
        if (!EDGERT_WITH_WAVELET)
            return EDGERT_ERR_UNSUPPORTED;
        st = edgert__wavelet_check(p, ly->Ld);
        if (st != EDGERT_OK)
            return st;
        f = edgert__wavelet_features_per_axis(p);
        if (f < 0)
            return f;
        ly->per_axis = f;
    } else {
        if (p->version >= 3 && p->analysis_type != EDGERT_ANALYSIS_FFT)
            return EDGERT_ERR_PARAM;
        ly->fft = 1;
        st = mask_bins(p->filter_type, p->filter_cutoff, fs, N, &ly->k_lo, &ly->k_hi);
        if (st != EDGERT_OK)
            return st;
        ly->per_axis = (p->version >= 4 ? 5 : 3) + (ly->k_hi - ly->k_lo + 1);
        if (p->version >= 4 && p->extra_low_freq) {
            if (!EDGERT_WITH_SPECTRAL_FILTERS)
                return EDGERT_ERR_UNSUPPORTED;
            ly->lf = 1;
            ly->Llf = (ly->Ld + 9) / 10;
            if ((double)ly->Llf < (double)N / 2.0)
                return EDGERT_ERR_TOO_SHORT;
            st = mask_bins(p->filter_type, p->filter_cutoff, fs / 10.0, N, &ly->k_lo_lf,
                           &ly->k_hi_lf);
            if (st != EDGERT_OK)
                return st;
            ly->per_axis_lf = 5 + (ly->k_hi_lf - ly->k_lo_lf + 1);
        }
    }
    {
        double nf = (double)A * (double)(ly->per_axis + ly->per_axis_lf);
        if (nf > 2147483647.0)
            return EDGERT_ERR_OVERFLOW;
        ly->n_features = A * (ly->per_axis + ly->per_axis_lf);
    }
    return EDGERT_OK;
}

int edgert_spectral_check(const edgert_spectral_params *p, int32_t n_samples, int32_t n_axes,
                          int32_t *n_features)
{
    layout ly;
    int st;
    if (n_features == NULL)
        return EDGERT_ERR_NULL;
    st = make_layout(p, n_samples, n_axes, &ly);
    if (st != EDGERT_OK)
        return st;
    *n_features = ly.n_features;
    return EDGERT_OK;
}

/* Windows pre-processed together: two when the float32 Butterworth runs on at most 4 axes,
 * so the 4-lane filter recursions of two windows overlap (the recursion is latency bound).
 * The microcontroller build has no SIMD lanes to fill and keeps its scratch small: one. */
static int32_t window_group(const edgert_spectral_params *p, const layout *ly)
{
#ifdef EDGERT_DSP_FLOAT32
    (void)p;
    (void)ly;
    return 1;
#else
    return (p->version >= 2 && ly->f32 && ly->butter && ly->n_axes <= 4) ? 2 : 1;
#endif
}

/* Work memory of edgert__welch_max_hold: 6n + 4 values with the SIMD paths; one frame's
 * transform (n values) without them. */
#if defined(EDGERT_DSP_FLOAT32) || defined(EDGERT_NO_SIMD)
#define WELCH_WORK(N) (N)
#else
#define WELCH_WORK(N) (6 * (N) + 4)
#endif

/* ---- scratch ---- */
typedef struct {
    size_t plan, x, lf, work, pw, pmax, fbuf, callee, total;
} scratch_map;

static size_t al16(size_t b) { return (b + 15u) & ~(size_t)15u; }

static void map_scratch(const edgert_spectral_params *p, const layout *ly, scratch_map *m)
{
    size_t off = 0, N = (size_t)p->fft_length;
    memset(m, 0, sizeof(*m));
    m->x = off;
    off += al16((size_t)ly->L * (size_t)ly->n_axes * (size_t)window_group(p, ly) *
                sizeof(dsp_real));
    if (ly->fft) {
        m->plan = off;
        off += al16(edgert__rfft_plan_bytes(p->fft_length));
        m->work = off;
        off += al16(WELCH_WORK(N) * sizeof(dsp_real));
        m->pw = off;
        off += al16((N / 2 + 1) * sizeof(dsp_real));
        m->pmax = off;
        off += al16((N / 2 + 1) * sizeof(dsp_real));
        if (ly->lf) {
            m->lf = off;
            off += al16(((size_t)ly->Llf + 1) * sizeof(dsp_real));
        }
    } else {
        size_t cf;
        m->fbuf = off;
        off += al16((size_t)ly->L * sizeof(float));
        if (p->version == 1)
            cf = EDGERT_WITH_SPECTRAL_V1 ? edgert__v1_scratch_floats(p, ly->L) : 0;
        else
            cf = EDGERT_WITH_WAVELET ? edgert__wavelet_scratch_floats(p, ly->Ld) : 0;
        m->callee = off;
        off += al16(cf * sizeof(float));
    }
    m->total = off + 16u; /* alignment slack */
}

int edgert_spectral_scratch_size(const edgert_spectral_params *p, int32_t n_samples,
                                 int32_t n_axes, size_t *bytes)
{
    layout ly;
    scratch_map m;
    int st;
    if (bytes == NULL)
        return EDGERT_ERR_NULL;
    st = make_layout(p, n_samples, n_axes, &ly);
    if (st != EDGERT_OK)
        return st;
    map_scratch(p, &ly, &m);
    *bytes = m.total;
    return EDGERT_OK;
}

/* Feature count and scratch bytes from one parameter check (the impulse plan validates its
 * spectral blocks on every run: one check instead of two per block). */
int edgert__spectral_sizes(const edgert_spectral_params *p, int32_t n_samples, int32_t n_axes,
                           int32_t *n_features, size_t *scratch_bytes)
{
    layout ly;
    scratch_map m;
    int st = make_layout(p, n_samples, n_axes, &ly);
    if (st != EDGERT_OK)
        return st;
    map_scratch(p, &ly, &m);
    *n_features = ly.n_features;
    *scratch_bytes = m.total;
    return EDGERT_OK;
}

/* ---- numpy-compatible sums ---- */
/* numpy's pairwise summation (8 accumulators, blocks of 128), float32 */
static float pairwise_sum_f(const dsp_real *a, int32_t n)
{
    if (n < 8) {
        float r = 0.0f;
        int32_t i;
        for (i = 0; i < n; i++)
            r += (float)a[i];
        return r;
    } else if (n <= 128) {
        float r[8], res;
        int32_t i, j;
#ifdef EDGERT_SPECTRAL_SSE2
        /* the 8 accumulators as two 4-lane vectors: the same float additions, in order */
        __m128 lo = _mm_movelh_ps(_mm_cvtpd_ps(_mm_loadu_pd(a)), _mm_cvtpd_ps(_mm_loadu_pd(a + 2)));
        __m128 hi = _mm_movelh_ps(_mm_cvtpd_ps(_mm_loadu_pd(a + 4)),
                                  _mm_cvtpd_ps(_mm_loadu_pd(a + 6)));
        for (i = 8; i < n - (n % 8); i += 8) {
            const dsp_real *b = a + i;
            lo = _mm_add_ps(lo, _mm_movelh_ps(_mm_cvtpd_ps(_mm_loadu_pd(b)),
                                              _mm_cvtpd_ps(_mm_loadu_pd(b + 2))));
            hi = _mm_add_ps(hi, _mm_movelh_ps(_mm_cvtpd_ps(_mm_loadu_pd(b + 4)),
                                              _mm_cvtpd_ps(_mm_loadu_pd(b + 6))));
        }
        _mm_storeu_ps(r, lo);
        _mm_storeu_ps(r + 4, hi);
        (void)j;
#else
        for (j = 0; j < 8; j++)
            r[j] = (float)a[j];
        for (i = 8; i < n - (n % 8); i += 8)
            for (j = 0; j < 8; j++)
                r[j] += (float)a[i + j];
#endif
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += (float)a[i];
        return res;
    } else {
        int32_t n2 = n / 2;
        n2 -= n2 % 8;
        return pairwise_sum_f(a, n2) + pairwise_sum_f(a + n2, n - n2);
    }
}

static dsp_real pairwise_sum_real(const dsp_real *a, int32_t n)
{
    if (n < 8) {
        dsp_real r = DSP_REAL(0.0);
        int32_t i;
        for (i = 0; i < n; i++)
            r += a[i];
        return r;
    } else if (n <= 128) {
        dsp_real r[8], res;
        int32_t i, j;
        for (j = 0; j < 8; j++)
            r[j] = a[j];
        for (i = 8; i < n - (n % 8); i += 8)
            for (j = 0; j < 8; j++)
                r[j] += a[i + j];
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += a[i];
        return res;
    } else {
        int32_t n2 = n / 2;
        n2 -= n2 % 8;
        return pairwise_sum_real(a, n2) + pairwise_sum_real(a + n2, n - n2);
    }
}

/* y = x - mean(x), in float32 (numpy on a float32 array) or the working precision */
static void remove_mean(dsp_real *x, int32_t n, int f32)
{
    int32_t t;
    if (f32) {
        float m = pairwise_sum_f(x, n) / (float)n;
        for (t = 0; t < n; t++)
            x[t] = (dsp_real)((float)x[t] - m);
    } else {
        dsp_real m = pairwise_sum_real(x, n) / (dsp_real)n;
        for (t = 0; t < n; t++)
            x[t] -= m;
    }
}

/* population skewness and Fisher kurtosis; scipy's zero-variance test (m2 <= (eps*mean)^2)
 * gives NaN there, which the block reports as 0 and -3 (the C++ SDK convention). Also returns
 * mean(y^2) = m2 + mean^2 (for the RMS). Four partial sums per moment (dsp_real) so the loop is
 * not bound by the latency of one accumulator. */
static void moments(const dsp_real *y, int32_t n, dsp_real eps, dsp_real *skew, dsp_real *kurt,
                    dsp_real *meansq)
{
    dsp_real mean, m2, m3, m4;
    dsp_real s2[4] = {0, 0, 0, 0}, s3[4] = {0, 0, 0, 0}, s4[4] = {0, 0, 0, 0};
    int32_t t, j;
#ifdef EDGERT_DSP_FLOAT32
    /* A constant signal: in float the rounded mean can differ from the value and leave a
     * tiny variance (skewness +-1, kurtosis -2) where the reference's arithmetic is exact
     * (zero variance: 0, -3). Decided exactly; the scan stops at the first differing value. */
    for (t = 1; t < n && y[t] == y[0]; t++) {
    }
    if (t >= n) {
        if (meansq != NULL)
            *meansq = y[0] * y[0];
        *skew = DSP_REAL(0.0);
        *kurt = DSP_REAL(-3.0);
        return;
    }
#endif
    mean = pairwise_sum_real(y, n) / (dsp_real)n;
#ifdef EDGERT_SPECTRAL_SSE2
    {
        __m128d mv = _mm_set1_pd(mean);
        __m128d a2 = _mm_setzero_pd(), b2 = a2, a3 = a2, b3 = a2, a4 = a2, b4 = a2;
        for (t = 0; t + 4 <= n; t += 4) {
            __m128d d0 = _mm_sub_pd(_mm_loadu_pd(y + t), mv);
            __m128d d1 = _mm_sub_pd(_mm_loadu_pd(y + t + 2), mv);
            __m128d q0 = _mm_mul_pd(d0, d0), q1 = _mm_mul_pd(d1, d1);
            a2 = _mm_add_pd(a2, q0);
            b2 = _mm_add_pd(b2, q1);
            a3 = _mm_add_pd(a3, _mm_mul_pd(q0, d0));
            b3 = _mm_add_pd(b3, _mm_mul_pd(q1, d1));
            a4 = _mm_add_pd(a4, _mm_mul_pd(q0, q0));
            b4 = _mm_add_pd(b4, _mm_mul_pd(q1, q1));
        }
        _mm_storeu_pd(s2, a2);
        _mm_storeu_pd(s2 + 2, b2);
        _mm_storeu_pd(s3, a3);
        _mm_storeu_pd(s3 + 2, b3);
        _mm_storeu_pd(s4, a4);
        _mm_storeu_pd(s4 + 2, b4);
        (void)j;
    }
#else
    for (t = 0; t + 4 <= n; t += 4) {
        for (j = 0; j < 4; j++) {
            dsp_real d = y[t + j] - mean, d2 = d * d;
            s2[j] += d2;
            s3[j] += d2 * d;
            s4[j] += d2 * d2;
        }
    }
#endif
    for (; t < n; t++) {
        dsp_real d = y[t] - mean, d2 = d * d;
        s2[0] += d2;
        s3[0] += d2 * d;
        s4[0] += d2 * d2;
    }
    m2 = ((s2[0] + s2[1]) + (s2[2] + s2[3])) / (dsp_real)n;
    m3 = ((s3[0] + s3[1]) + (s3[2] + s3[3])) / (dsp_real)n;
    m4 = ((s4[0] + s4[1]) + (s4[2] + s4[3])) / (dsp_real)n;
    if (meansq != NULL)
        *meansq = m2 + mean * mean;
    if (m2 <= (eps * mean) * (eps * mean) || m2 <= DSP_REAL(0.0)) {
        *skew = DSP_REAL(0.0);
        *kurt = DSP_REAL(-3.0);
        return;
    }
    *skew = m3 / (m2 * dsp_sqrt(m2));
    *kurt = m4 / (m2 * m2) - DSP_REAL(3.0);
}

typedef struct {
    const edgert_spectral_params *p;
    const layout *ly;
    edgert__rfft_plan plan;
    dsp_real *work, *pw, *pmax;
} fft_ctx;

/* steps 5-9 of the FFT path on a mean-removed signal y of length n */
static void fft_block(const fft_ctx *c, const dsp_real *y, int32_t n, int spec_stats,
                      dsp_real eps, int32_t k_lo, int32_t k_hi, float *out)
{
    const edgert_spectral_params *p = c->p;
    int32_t N = p->fft_length, half = N / 2, k, step;
    dsp_real msq, sk, ku;
    dsp_real invN = DSP_REAL(1.0) / (dsp_real)N;
    dsp_real *pmax = c->pmax;
    moments(y, n, eps, &sk, &ku, &msq);
    *out++ = (float)dsp_sqrt(msq);
    *out++ = (float)sk;
    *out++ = (float)ku;
    step = p->do_fft_overlap ? N - N / 2 : N;
    edgert__welch_max_hold(&c->plan, y, n, step, invN, pmax, c->work);
    if (spec_stats) {
        moments(pmax, half + 1, DSP_REAL(DBL_EPSILON), &sk, &ku, NULL);
        *out++ = (float)sk;
        *out++ = (float)ku;
    }
    for (k = k_lo; k <= k_hi; k++) {
        dsp_real v = pmax[k];
        if (p->do_log)
            v = dsp_log10(v == DSP_REAL(0.0) ? DSP_REAL(1e-10) : v);
        *out++ = (float)v;
    }
}

int edgert_spectral_features_batch(const edgert_spectral_params *p, const float *data,
                                   int32_t n_rows, int32_t row_stride, const int32_t *axes,
                                   int32_t n_axes, const int32_t *starts, int32_t n_windows,
                                   int32_t n_samples, float *out, int32_t out_stride,
                                   void *scratch, size_t scratch_bytes)
{
    layout ly;
    scratch_map sm;
    unsigned char *base;
    dsp_real *x;
    float bsos_f[24];
    dsp_real bsos_r[24], bzi_r[8];
    dsp_real dsos[2][24], dzi[2][8]; /* decimation stages: [0] ratio 3, [1] ratio 10 */
    fft_ctx fc;
    int32_t nsec = 0, w, a, i, group;
    float scale_f;
    int st;

    if (p == NULL || data == NULL || axes == NULL || starts == NULL || out == NULL)
        return EDGERT_ERR_NULL;
    st = make_layout(p, n_samples, n_axes, &ly);
    if (st != EDGERT_OK)
        return st;
    if (out_stride < ly.n_features)
        return EDGERT_ERR_ARG;
    st = edgert_check_windows(axes, n_axes, row_stride, starts, n_windows, n_rows, n_samples);
    if (st != EDGERT_OK)
        return st;
    if (n_windows == 0)
        return EDGERT_OK;
    map_scratch(p, &ly, &sm);
    if (scratch == NULL)
        return EDGERT_ERR_NULL;
    if (scratch_bytes < sm.total)
        return EDGERT_ERR_SCRATCH;
    base = (unsigned char *)scratch;
    base += (16u - ((size_t)base & 15u)) & 15u;
    x = (dsp_real *)(base + sm.x);

    /* per-call designs (the EDGERT_WITH_* terms let a build without them drop the code) */
    if (EDGERT_WITH_SPECTRAL_FILTERS && ly.butter) {
        double d[24];
        nsec = p->filter_order / 2;
        st = edgert__butter_sos(p->filter_type, p->filter_order, p->filter_cutoff,
                                p->sampling_freq / (double)p->decimation_ratio, d);
        if (st != EDGERT_OK)
            return st;
        for (i = 0; i < 6 * nsec; i++) {
            bsos_f[i] = (float)d[i];
            bsos_r[i] = (dsp_real)bsos_f[i];
        }
    }
    if (EDGERT_WITH_SPECTRAL_FILTERS && (ly.n_stages > 0 || ly.lf)) {
        /* designed in double (like the reference), run in the working precision */
        double dd_sos[24], dd_zi[8];
        int32_t s;
        for (s = 0; s < 2; s++) {
            st = edgert_decimation_sos(s == 0 ? 3 : 10, dd_sos, dd_zi);
            if (st != EDGERT_OK)
                return st;
            for (i = 0; i < 24; i++)
                dsos[s][i] = (dsp_real)dd_sos[i];
            for (i = 0; i < 8; i++)
                dzi[s][i] = (dsp_real)dd_zi[i];
        }
    }
    if (ly.fft) {
        fc.p = p;
        fc.ly = &ly;
        st = edgert__rfft_plan_init(&fc.plan, p->fft_length, base + sm.plan);
        if (st != EDGERT_OK)
            return st;
        fc.work = (dsp_real *)(base + sm.work);
        fc.pw = (dsp_real *)(base + sm.pw);
        fc.pmax = (dsp_real *)(base + sm.pmax);
    }
    scale_f = (float)p->scale_axes;

    group = window_group(p, &ly);
    for (w = 0; w < n_windows; w += group) {
        int32_t t, n = n_samples, q, nq = n_windows - w < group ? n_windows - w : group;
        int32_t n_sig = nq * n_axes; /* signal s = q * n_axes + a at x + s * L */
        if (EDGERT_WITH_SPECTRAL_V1 && p->version == 1) {
            float *orow = out + (size_t)w * (size_t)out_stride;
            const float *win = data + (size_t)starts[w] * (size_t)row_stride;
            for (a = 0; a < n_axes; a++) {
                const float *col = win + axes[a];
                float *fb = (float *)(base + sm.fbuf);
                for (t = 0; t < n_samples; t++) {
                    fb[t] = col[(size_t)t * (size_t)row_stride];
                    if (!isfinite(fb[t]))
                        return EDGERT_ERR_NONFINITE;
                }
                st = edgert__v1_axis(p, fb, n_samples, orow + (size_t)a * ly.per_axis,
                                     (float *)(base + sm.callee));
                if (st != EDGERT_OK)
                    return st;
            }
            continue;
        }
        /* 1. scale, in float32 like the reference. NaN/inf in the raw values -> status
         * (after scaling a finite value can only overflow to inf, also caught). */
        {
            uint32_t bad = 0; /* exponent all ones: NaN or inf (branch-free, vectorises) */
            for (q = 0; q < nq; q++) {
                const float *win = data + (size_t)starts[w + q] * (size_t)row_stride;
                for (a = 0; a < n_axes; a++) {
                    const float *col = win + axes[a];
                    dsp_real *xa = x + (size_t)(q * n_axes + a) * (size_t)n_samples;
                    for (t = 0; t < n_samples; t++) {
                        float v = col[(size_t)t * (size_t)row_stride] * scale_f;
                        uint32_t u;
                        memcpy(&u, &v, sizeof(u));
                        bad |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
                        xa[t] = (dsp_real)v;
                    }
                }
            }
            if (bad)
                return EDGERT_ERR_NONFINITE;
        }
        /* 2. input decimation (v4), in the working precision (double on the host) */
        for (a = 0; a < n_sig; a++) {
            dsp_real *xa = x + (size_t)a * (size_t)n_samples;
            n = n_samples;
            for (i = 0; EDGERT_WITH_SPECTRAL_FILTERS && i < ly.n_stages; i++) {
                int r = ly.stage_r[i] == 3 ? 0 : 1;
                n = edgert__decimate_real(dsos[r], dzi[r], ly.stage_r[i], xa, n, xa);
            }
        }
        /* 3. Butterworth, zero initial state */
        if (EDGERT_WITH_SPECTRAL_FILTERS && ly.butter) {
            if (ly.f32) {
                edgert__sosfilt_f_axes(bsos_f, nsec, x, n, (size_t)n_samples, n_sig);
            } else {
                for (a = 0; a < n_sig; a++) {
                    memset(bzi_r, 0, sizeof(bzi_r));
                    edgert__sosfilt_real(bsos_r, nsec, x + (size_t)a * (size_t)n_samples, n,
                                         bzi_r);
                }
            }
        }
        for (q = 0; q < nq; q++) {
            float *orow = out + (size_t)(w + q) * (size_t)out_stride;
            for (a = 0; a < n_axes; a++) {
                dsp_real *xa = x + (size_t)(q * n_axes + a) * (size_t)n_samples;
                /* 4. mean removal */
                remove_mean(xa, n, ly.f32);
                if (!ly.fft) {
                    if (!EDGERT_WITH_WAVELET)
                        return EDGERT_ERR_UNSUPPORTED;
                    float *fb = (float *)(base + sm.fbuf);
                    for (t = 0; t < n; t++)
                        fb[t] = (float)xa[t];
                    st = edgert__wavelet_axis(p, fb, n, orow + (size_t)a * ly.per_axis,
                                              (float *)(base + sm.callee));
                    if (st != EDGERT_OK)
                        return st;
                    continue;
                }
                fft_block(&fc, xa, n, p->version >= 4,
                          ly.f32 ? DSP_REAL(FLT_EPSILON) : DSP_REAL(DBL_EPSILON), ly.k_lo,
                          ly.k_hi,
                          orow + (size_t)a * ly.per_axis);
                if (EDGERT_WITH_SPECTRAL_FILTERS && ly.lf) {
                    dsp_real *lf = (dsp_real *)(base + sm.lf);
                    int32_t m = edgert__decimate_real(dsos[1], dzi[1], 10, xa, n, lf);
                    remove_mean(lf, m, 0);
                    fft_block(&fc, lf, m, 1, DSP_REAL(DBL_EPSILON), ly.k_lo_lf, ly.k_hi_lf,
                              orow + (size_t)n_axes * ly.per_axis +
                                  (size_t)a * ly.per_axis_lf);
                }
            }
        }
    }
    return EDGERT_OK;
}
