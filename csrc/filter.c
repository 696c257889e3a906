/*
 * filter.c - IIR filters of the spectral block: Butterworth low/high-pass designs, the
 * Chebyshev-I decimation stages, and second-order-section cascades (scipy sosfilt semantics:
 * direct form II transposed, per sample through all sections).
 *
 * Designs follow scipy.signal's route (analog prototype zeros/poles/gain, frequency
 * pre-warping, bilinear transform, pairing into sections with the whole gain in the first
 * section, the section whose poles are nearest the unit circle last), computed in double, so
 * the coefficients agree with butter()/cheby1() to rounding and the float32 casts the
 * reference makes round to the same floats. The cascades run in the working precision
 * dsp_real (dsp_real.h: double on the host, float in the microcontroller build); the designs
 * are per-call set-up and stay in double in both builds.
 */
#if defined(__GNUC__) && !defined(__clang__) && !defined(__OPTIMIZE_SIZE__)
/* the 4-lane filter loops are written to vectorise; -O2 alone does not */
#pragma GCC optimize("O3")
#endif
#include <math.h>
#include <string.h>

#include "edgert.h"
#include "spectral_internal.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define EDGERT_PI 3.14159265358979323846264338327950288

typedef struct {
    double re, im;
} cplx;

static cplx c_mul(cplx a, cplx b)
{
    cplx r;
    r.re = a.re * b.re - a.im * b.im;
    r.im = a.re * b.im + a.im * b.re;
    return r;
}

static cplx c_div(cplx a, cplx b)
{
    cplx r;
    double d = b.re * b.re + b.im * b.im;
    r.re = (a.re * b.re + a.im * b.im) / d;
    r.im = (a.im * b.re - a.re * b.im) / d;
    return r;
}

/*
 * Digital sections from analog poles p[0..npoles-1] (given as the upper-half-plane members of
 * conjugate pairs, npairs of them), all zeros of the digital filter at zero_at (+1 or -1),
 * digital gain k. Bilinear transform with fs = 2 (scipy's normalisation, fs2 = 4).
 * Writes npairs sections to sos, ordered like scipy's zpk2sos (nearest-to-unit-circle last).
 */
static void pairs_to_sos(const cplx *pa, int32_t npairs, double zero_at, double k_analog,
                         int32_t n_analog_zeros_at_origin, double *sos)
{
    cplx pd[8];
    double a1[8], a2[8], dist[8];
    int32_t order[8];
    int32_t i, j;
    cplx prod_num, prod_den, four;
    double kd;
    four.re = 4.0;
    four.im = 0.0;
    /* gain: k * prod(4 - z) / prod(4 - p), over all poles (pairs and their conjugates) */
    prod_num.re = 1.0;
    prod_num.im = 0.0;
    for (i = 0; i < n_analog_zeros_at_origin; i++)
        prod_num = c_mul(prod_num, four);
    prod_den.re = 1.0;
    prod_den.im = 0.0;
    for (i = 0; i < npairs; i++) {
        cplx a, b;
        a.re = 4.0 - pa[i].re;
        a.im = -pa[i].im;
        b.re = 4.0 - pa[i].re;
        b.im = pa[i].im;
        prod_den = c_mul(prod_den, a);
        prod_den = c_mul(prod_den, b);
    }
    kd = k_analog * c_div(prod_num, prod_den).re;
    for (i = 0; i < npairs; i++) {
        cplx num, den;
        num.re = 4.0 + pa[i].re;
        num.im = pa[i].im;
        den.re = 4.0 - pa[i].re;
        den.im = -pa[i].im;
        pd[i] = c_div(num, den);
        a1[i] = -2.0 * pd[i].re;
        a2[i] = pd[i].re * pd[i].re + pd[i].im * pd[i].im;
        dist[i] = fabs(1.0 - sqrt(a2[i]));
        order[i] = i;
    }
    /* farthest from the unit circle first */
    for (i = 1; i < npairs; i++) {
        int32_t v = order[i];
        j = i - 1;
        while (j >= 0 && dist[order[j]] < dist[v]) {
            order[j + 1] = order[j];
            j--;
        }
        order[j + 1] = v;
    }
    for (i = 0; i < npairs; i++) {
        double *s = sos + 6 * i;
        int32_t q = order[i];
        s[0] = 1.0;
        s[1] = -2.0 * zero_at;
        s[2] = 1.0;
        s[3] = 1.0;
        s[4] = a1[q];
        s[5] = a2[q];
    }
    sos[0] *= kd;
    sos[1] *= kd;
    sos[2] *= kd;
}

int edgert__butter_sos(int32_t type, int32_t order, double fc, double fs, double *sos)
{
    cplx pa[4];
    int32_t npairs, i;
    double wn, warped, k;
    if (sos == NULL)
        return EDGERT_ERR_NULL;
    if (type != EDGERT_FILTER_LOW && type != EDGERT_FILTER_HIGH)
        return EDGERT_ERR_PARAM;
    if (order < 2 || order > 8 || (order & 1))
        return EDGERT_ERR_PARAM;
    if (!(fs > 0.0) || !(fc > 0.0) || !isfinite(fc) || !isfinite(fs))
        return EDGERT_ERR_PARAM;
    wn = fc * 2.0 / fs;
    if (!(wn < 1.0))
        return EDGERT_ERR_PARAM;
    warped = 2.0 * 2.0 * tan(EDGERT_PI * wn / 2.0);
    npairs = order / 2;
    k = 1.0;
    /* prototype poles -exp(i*pi*m/(2N)), m = -N+1, -N+3, ..., N-1; upper half: m < 0 gives
     * im > 0 (since -exp(i*t) = (-cos t, -sin t)). Pair index i uses m = -N+1+2i. */
    for (i = 0; i < npairs; i++) {
        double t = EDGERT_PI * (double)(-order + 1 + 2 * i) / (2.0 * (double)order);
        cplx p;
        p.re = -cos(t);
        p.im = -sin(t);
        if (type == EDGERT_FILTER_LOW) {
            p.re *= warped;
            p.im *= warped;
        } else {
            cplx w;
            w.re = warped;
            w.im = 0.0;
            p = c_div(w, p);
            if (p.im < 0.0)
                p.im = -p.im;
        }
        pa[i] = p;
    }
    if (type == EDGERT_FILTER_LOW) {
        for (i = 0; i < order; i++)
            k *= warped;
        pairs_to_sos(pa, npairs, -1.0, k, 0, sos);
    } else {
        /* lp2hp: k = 1 / real(prod(-p_prototype)) = 1 for Butterworth (prod of unit poles) */
        cplx prod;
        prod.re = 1.0;
        prod.im = 0.0;
        for (i = 0; i < npairs; i++) {
            double t = EDGERT_PI * (double)(-order + 1 + 2 * i) / (2.0 * (double)order);
            cplx p, q;
            p.re = cos(t);
            p.im = sin(t); /* -(prototype pole) */
            q.re = p.re;
            q.im = -p.im;
            prod = c_mul(prod, p);
            prod = c_mul(prod, q);
        }
        k = 1.0 / prod.re;
        pairs_to_sos(pa, npairs, 1.0, k, order, sos);
    }
    return EDGERT_OK;
}

int edgert_butter_sos(int32_t type, int32_t order, double cutoff, double fs, float *sos)
{
    double d[24];
    int32_t i;
    int st;
    if (sos == NULL)
        return EDGERT_ERR_NULL;
    st = edgert__butter_sos(type, order, cutoff, fs, d);
    if (st != EDGERT_OK)
        return st;
    for (i = 0; i < 6 * (order / 2); i++)
        sos[i] = (float)d[i];
    return EDGERT_OK;
}

/* Chebyshev-I, order 8, 0.05 dB ripple, cutoff 0.8/ratio (fraction of Nyquist). */
int edgert_decimation_sos(int32_t ratio, double *sos, double *zi)
{
    const int32_t n = 8;
    const double rp = 0.05;
    cplx pa[4];
    double eps, mu, wn, warped, k;
    cplx prodp;
    int32_t i;
    if (sos == NULL)
        return EDGERT_ERR_NULL;
    if (ratio < 2)
        return EDGERT_ERR_PARAM;
    eps = sqrt(pow(10.0, 0.1 * rp) - 1.0);
    mu = asinh(1.0 / eps) / (double)n;
    /* poles -sinh(mu + i*theta), theta = pi*m/(2n), m = -n+1, ..., n-1 step 2 */
    prodp.re = 1.0;
    prodp.im = 0.0;
    for (i = 0; i < n; i++) {
        double th = EDGERT_PI * (double)(-n + 1 + 2 * i) / (2.0 * (double)n);
        cplx p, mp;
        /* sinh(a + ib) = sinh a cos b + i cosh a sin b */
        p.re = -sinh(mu) * cos(th);
        p.im = -cosh(mu) * sin(th);
        mp.re = -p.re;
        mp.im = -p.im;
        prodp = c_mul(prodp, mp);
        if (i < n / 2)
            pa[i] = p; /* th < 0: im > 0 */
    }
    k = prodp.re / sqrt(1.0 + eps * eps);
    wn = 0.8 / (double)ratio;
    warped = 4.0 * tan(EDGERT_PI * wn / 2.0);
    for (i = 0; i < n / 2; i++) {
        pa[i].re *= warped;
        pa[i].im *= warped;
    }
    for (i = 0; i < n; i++)
        k *= warped;
    pairs_to_sos(pa, n / 2, -1.0, k, 0, sos);
    if (zi != NULL) {
        /* steady state of each section for a constant input, scaled by the DC gain of the
         * sections before it (scipy sosfilt_zi) */
        double scale = 1.0;
        for (i = 0; i < n / 2; i++) {
            const double *s = sos + 6 * i;
            double g = (s[0] + s[1] + s[2]) / (1.0 + s[4] + s[5]);
            double z2 = s[2] - s[5] * g;
            double z1 = s[1] - s[4] * g + z2;
            zi[2 * i] = scale * z1;
            zi[2 * i + 1] = scale * z2;
            scale *= g;
        }
    }
    return EDGERT_OK;
}

void edgert__sosfilt_real(const dsp_real *sos, int32_t n_sections, dsp_real *x, int32_t n,
                          dsp_real *zi)
{
    int32_t t, s;
    if (n_sections == 2) {
        dsp_real z0 = zi[0], z1 = zi[1], z2 = zi[2], z3 = zi[3];
        const dsp_real *p = sos, *q = sos + 6;
        for (t = 0; t < n; t++) {
            dsp_real v = x[t], y;
            y = p[0] * v + z0;
            z0 = p[1] * v - p[4] * y + z1;
            z1 = p[2] * v - p[5] * y;
            v = y;
            y = q[0] * v + z2;
            z2 = q[1] * v - q[4] * y + z3;
            z3 = q[2] * v - q[5] * y;
            x[t] = y;
        }
        zi[0] = z0;
        zi[1] = z1;
        zi[2] = z2;
        zi[3] = z3;
        return;
    }
    for (t = 0; t < n; t++) {
        dsp_real v = x[t];
        for (s = 0; s < n_sections; s++) {
            const dsp_real *c = sos + 6 * s;
            dsp_real *z = zi + 2 * s;
            dsp_real y = c[0] * v + z[0];
            z[0] = c[1] * v - c[4] * y + z[1];
            z[1] = c[2] * v - c[5] * y;
            v = y;
        }
        x[t] = v;
    }
}

/* float32 cascade with scipy's operation order for up to 4 signals at once: lane a of every
 * array is signal a, so the compiler can run the 4 independent recursions as one SIMD
 * recursion (IEEE single-precision lanes round exactly like scalar floats: results are
 * bit-identical to the scalar loop). NS (sections) is a constant after inlining. */
#if defined(__GNUC__) || defined(__clang__)
#define EDGERT_INLINE static inline __attribute__((always_inline))
#else
#define EDGERT_INLINE static
#endif
#if defined(__clang__)
#define EDGERT_UNROLL _Pragma("unroll")
#elif defined(__GNUC__) && __GNUC__ >= 8
#define EDGERT_UNROLL _Pragma("GCC unroll 4")
#else
#define EDGERT_UNROLL
#endif
#if !defined(EDGERT_NO_SIMD) && !defined(EDGERT_DSP_FLOAT32) && (defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2))
#include <emmintrin.h>
#define EDGERT_SOS_SSE 1
#endif

#ifdef EDGERT_SOS_SSE
EDGERT_INLINE void sosfilt_f_group(const float *sos, const int NS, dsp_real *x, int32_t n,
                                   size_t stride, int G)
{
    __m128 z0[4], z1[4], c0[4], c1[4], c2[4], c4[4], c5[4];
    dsp_real *xs[4];
    int32_t t;
    int a, s;
    for (a = 0; a < 4; a++)
        xs[a] = x + (size_t)(a < G ? a : 0) * stride;
    for (s = 0; s < NS; s++) {
        z0[s] = _mm_setzero_ps();
        z1[s] = _mm_setzero_ps();
        c0[s] = _mm_set1_ps(sos[6 * s]);
        c1[s] = _mm_set1_ps(sos[6 * s + 1]);
        c2[s] = _mm_set1_ps(sos[6 * s + 2]);
        c4[s] = _mm_set1_ps(sos[6 * s + 4]);
        c5[s] = _mm_set1_ps(sos[6 * s + 5]);
    }
    for (t = 0; t < n; t++) {
        float o[4];
        __m128 v = _mm_set_ps((float)xs[3][t], (float)xs[2][t], (float)xs[1][t],
                              (float)xs[0][t]);
        EDGERT_UNROLL
        for (s = 0; s < NS; s++) {
            __m128 y = _mm_add_ps(_mm_mul_ps(c0[s], v), z0[s]);
            z0[s] = _mm_add_ps(_mm_sub_ps(_mm_mul_ps(c1[s], v), _mm_mul_ps(c4[s], y)), z1[s]);
            z1[s] = _mm_sub_ps(_mm_mul_ps(c2[s], v), _mm_mul_ps(c5[s], y));
            v = y;
        }
        _mm_storeu_ps(o, v);
        for (a = 0; a < G; a++)
            xs[a][t] = (dsp_real)o[a];
    }
}
#else
EDGERT_INLINE void sosfilt_f_group(const float *sos, const int NS, dsp_real *x, int32_t n,
                                   size_t stride, int G)
{
    float z0[4][4], z1[4][4];
    int32_t t;
    int a, s;
    for (s = 0; s < NS; s++)
        for (a = 0; a < 4; a++)
            z0[s][a] = z1[s][a] = 0.0f;
    for (t = 0; t < n; t++) {
        for (a = 0; a < G; a++) {
            float v = (float)x[(size_t)a * stride + (size_t)t];
            for (s = 0; s < NS; s++) {
                const float *c = sos + 6 * s;
                float y = c[0] * v + z0[s][a];
                float u = c[1] * v;
                float w = c[4] * y;
                z0[s][a] = (u - w) + z1[s][a];
                u = c[2] * v;
                w = c[5] * y;
                z1[s][a] = u - w;
                v = y;
            }
            x[(size_t)a * stride + (size_t)t] = (dsp_real)v;
        }
    }
}
#endif

#ifdef EDGERT_SOS_SSE
/* 5..8 signals: two 4-lane recursions in one loop, so their latencies overlap */
EDGERT_INLINE void sosfilt_f_group8(const float *sos, const int NS, dsp_real *x, int32_t n,
                                    size_t stride, int G)
{
    __m128 za0[4], za1[4], zb0[4], zb1[4], c0[4], c1[4], c2[4], c4[4], c5[4];
    dsp_real *xs[8];
    int32_t t;
    int a, s;
    for (a = 0; a < 8; a++)
        xs[a] = x + (size_t)(a < G ? a : 0) * stride;
    for (s = 0; s < NS; s++) {
        za0[s] = za1[s] = zb0[s] = zb1[s] = _mm_setzero_ps();
        c0[s] = _mm_set1_ps(sos[6 * s]);
        c1[s] = _mm_set1_ps(sos[6 * s + 1]);
        c2[s] = _mm_set1_ps(sos[6 * s + 2]);
        c4[s] = _mm_set1_ps(sos[6 * s + 4]);
        c5[s] = _mm_set1_ps(sos[6 * s + 5]);
    }
    for (t = 0; t < n; t++) {
        float o[8];
        __m128 va = _mm_set_ps((float)xs[3][t], (float)xs[2][t], (float)xs[1][t],
                               (float)xs[0][t]);
        __m128 vb = _mm_set_ps((float)xs[7][t], (float)xs[6][t], (float)xs[5][t],
                               (float)xs[4][t]);
        EDGERT_UNROLL
        for (s = 0; s < NS; s++) {
            __m128 ya = _mm_add_ps(_mm_mul_ps(c0[s], va), za0[s]);
            __m128 yb = _mm_add_ps(_mm_mul_ps(c0[s], vb), zb0[s]);
            za0[s] = _mm_add_ps(_mm_sub_ps(_mm_mul_ps(c1[s], va), _mm_mul_ps(c4[s], ya)), za1[s]);
            zb0[s] = _mm_add_ps(_mm_sub_ps(_mm_mul_ps(c1[s], vb), _mm_mul_ps(c4[s], yb)), zb1[s]);
            za1[s] = _mm_sub_ps(_mm_mul_ps(c2[s], va), _mm_mul_ps(c5[s], ya));
            zb1[s] = _mm_sub_ps(_mm_mul_ps(c2[s], vb), _mm_mul_ps(c5[s], yb));
            va = ya;
            vb = yb;
        }
        _mm_storeu_ps(o, va);
        _mm_storeu_ps(o + 4, vb);
        for (a = 0; a < G; a++)
            xs[a][t] = (dsp_real)o[a];
    }
}
#define EDGERT_GROUP_MAX 8
#else
#define EDGERT_GROUP_MAX 4
#endif

void edgert__sosfilt_f_axes(const float *sos, int32_t n_sections, dsp_real *x, int32_t n,
                            size_t stride, int32_t n_axes)
{
    int32_t a0;
    for (a0 = 0; a0 < n_axes; a0 += EDGERT_GROUP_MAX) {
        int g = n_axes - a0 < EDGERT_GROUP_MAX ? (int)(n_axes - a0) : EDGERT_GROUP_MAX;
        dsp_real *xa = x + (size_t)a0 * stride;
#ifdef EDGERT_SOS_SSE
        if (g > 4) {
            switch (n_sections) {
            case 1: sosfilt_f_group8(sos, 1, xa, n, stride, g); break;
            case 2: sosfilt_f_group8(sos, 2, xa, n, stride, g); break;
            case 3: sosfilt_f_group8(sos, 3, xa, n, stride, g); break;
            default: sosfilt_f_group8(sos, 4, xa, n, stride, g); break;
            }
            continue;
        }
#endif
        switch (n_sections) {
        case 1: sosfilt_f_group(sos, 1, xa, n, stride, g); break;
        case 2: sosfilt_f_group(sos, 2, xa, n, stride, g); break;
        case 3: sosfilt_f_group(sos, 3, xa, n, stride, g); break;
        default: sosfilt_f_group(sos, 4, xa, n, stride, g); break;
        }
    }
}

int32_t edgert__decimate_real(const dsp_real *sos, const dsp_real *zi_unit, int32_t r,
                              const dsp_real *x, int32_t n, dsp_real *out)
{
    dsp_real z[8];
    dsp_real x0;
    int32_t t, s, o = 0;
    if (n <= 0)
        return 0;
    x0 = x[0];
    for (s = 0; s < 8; s++)
        z[s] = zi_unit[s] * x0;
    for (t = 0; t < n; t++) {
        dsp_real v = x[t];
        for (s = 0; s < 4; s++) {
            const dsp_real *c = sos + 6 * s;
            dsp_real *zz = z + 2 * s;
            dsp_real y = c[0] * v + zz[0];
            zz[0] = c[1] * v - c[4] * y + zz[1];
            zz[1] = c[2] * v - c[5] * y;
            v = y;
        }
        if (t % r == 0)
            out[o++] = v;
    }
    return o;
}

int edgert_sosfilt(const float *sos, int32_t n_sections, const float *in, float *out, int32_t n,
                   float *zi)
{
    double dsos[6 * 16];
    double z[2 * 16];
    int32_t t, s;
    if (sos == NULL || in == NULL || out == NULL)
        return EDGERT_ERR_NULL;
    if (n_sections < 1 || n_sections > 16 || n < 0)
        return EDGERT_ERR_ARG;
    for (s = 0; s < n_sections; s++) {
        if (sos[6 * s + 3] != 1.0f)
            return EDGERT_ERR_PARAM;
        for (t = 0; t < 6; t++) {
            if (!isfinite(sos[6 * s + t]))
                return EDGERT_ERR_PARAM;
            dsos[6 * s + t] = (double)sos[6 * s + t];
        }
        z[2 * s] = zi ? (double)zi[2 * s] : 0.0;
        z[2 * s + 1] = zi ? (double)zi[2 * s + 1] : 0.0;
    }
    for (t = 0; t < n; t++) {
        double v = (double)in[t];
        for (s = 0; s < n_sections; s++) {
            const double *c = dsos + 6 * s;
            double *zz = z + 2 * s;
            double y = c[0] * v + zz[0];
            zz[0] = c[1] * v - c[4] * y + zz[1];
            zz[1] = c[2] * v - c[5] * y;
            v = y;
        }
        out[t] = (float)v;
    }
    if (zi != NULL)
        for (s = 0; s < 2 * n_sections; s++)
            zi[s] = (float)z[s];
    return EDGERT_OK;
}
