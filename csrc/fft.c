/*
 * fft.c - real FFT for power-of-two lengths 2..65536, in the working precision dsp_real
 * (dsp_real.h: double on the host, float in the microcontroller build).
 *
 * A real transform of length n is computed as a complex transform of length m = n/2 on the
 * packed sequence z[j] = x[2j] + i*x[2j+1] (iterative radix-2, decimation in time, input
 * loaded in bit-reversed order), followed by the usual split into even/odd spectra.
 * Twiddles exp(-2*pi*i*k/n), k < n/2, are computed once into a plan in caller memory (the
 * spectral block builds one plan per batch call); nothing is allocated, nothing is static.
 */
#if defined(__GNUC__) && !defined(__clang__) && !defined(__OPTIMIZE_SIZE__)
/* the butterfly and split loops are written to vectorise; -O2 alone does not */
#pragma GCC optimize("O3")
#endif
#include <math.h>
#include <string.h>

#include "edgert.h"
#include "spectral_internal.h"

#define EDGERT_PI 3.14159265358979323846264338327950288

#if defined(__GNUC__) || defined(__clang__)
#define EDGERT_RESTRICT __restrict__
#elif defined(_MSC_VER)
#define EDGERT_RESTRICT __restrict
#else
#define EDGERT_RESTRICT restrict
#endif

static int valid_length(int32_t n)
{
    return n >= 2 && n <= EDGERT_FFT_MAX_LENGTH && (n & (n - 1)) == 0;
}

static size_t align8(size_t b) { return (b + 7u) & ~(size_t)7u; }

/* Plan memory: post[2m] (cos, -sin of 2 pi k / n, k < m, split: first m cos then m -sin),
 * stage[2m] (per butterfly stage of half-size h = 4, 8, ..., m/2: h cos then h -sin of
 * 2 pi j / (2h), contiguous so the butterfly loops vectorise), bitrev[m]. */
size_t edgert__rfft_plan_bytes(int32_t n)
{
    if (!valid_length(n))
        return 0;
    return align8((size_t)(n / 2) * 4u * sizeof(dsp_real)) +
           align8((size_t)(n / 2) * sizeof(int32_t));
}

#ifdef EDGERT_DSP_FLOAT32
/* cos and sin of |a| <= pi/4 in float: Taylor polynomials to a^10 / a^9 (truncation error
 * below 2e-9, under float resolution), Horner. Every twiddle of n = 8..65536 is within 2 ulp
 * of the correctly rounded value - the same as cosf/sinf of the float angle (checked on the
 * host) - without the C library's reduction of large angles (3 KB of flash on a Cortex-M4F),
 * which these angles never need. */
static float small_cos(float a)
{
    const float x2 = a * a;
    return 1.0f + x2 * (DSP_REAL(-1.0 / 2.0) +
                        x2 * (DSP_REAL(1.0 / 24.0) +
                              x2 * (DSP_REAL(-1.0 / 720.0) +
                                    x2 * (DSP_REAL(1.0 / 40320.0) +
                                          x2 * DSP_REAL(-1.0 / 3628800.0)))));
}

static float small_sin(float a)
{
    const float x2 = a * a;
    return a + a * x2 * (DSP_REAL(-1.0 / 6.0) +
                         x2 * (DSP_REAL(1.0 / 120.0) +
                               x2 * (DSP_REAL(-1.0 / 5040.0) + x2 * DSP_REAL(1.0 / 362880.0))));
}
#else
#define small_cos dsp_cos
#define small_sin dsp_sin
#endif

/* cos and sin of 2*pi*k/n, using symmetry so every value comes from an angle <= pi/4 */
static void unit_root(int32_t k, int32_t n, dsp_real *c, dsp_real *s)
{
    /* reduce to k in [0, n/2) */
    if (8 * (int64_t)k <= n) {
        dsp_real a = DSP_REAL(2.0 * EDGERT_PI) * (dsp_real)k / (dsp_real)n;
        *c = small_cos(a);
        *s = small_sin(a);
    } else if (8 * (int64_t)k <= 3 * (int64_t)n) {
        dsp_real a = DSP_REAL(2.0 * EDGERT_PI) * (dsp_real)(n / 4 - k) / (dsp_real)n;
        if (4 * (int64_t)k == n) {
            *c = DSP_REAL(0.0);
            *s = DSP_REAL(1.0);
            return;
        }
        *c = small_sin(a);
        *s = small_cos(a);
    } else {
        dsp_real a = DSP_REAL(2.0 * EDGERT_PI) * (dsp_real)(n / 2 - k) / (dsp_real)n;
        *c = -small_cos(a);
        *s = small_sin(a);
    }
}

int edgert__rfft_plan_init(edgert__rfft_plan *plan, int32_t n, void *mem)
{
    dsp_real *tw, *st;
    int32_t *br;
    int32_t m, k, bits, j, h;
    if (plan == NULL || mem == NULL)
        return EDGERT_ERR_NULL;
    if (!valid_length(n))
        return EDGERT_ERR_ARG;
    m = n / 2;
    tw = (dsp_real *)mem;
    st = tw + 2 * m;
    br = (int32_t *)((unsigned char *)mem + align8((size_t)m * 4u * sizeof(dsp_real)));
    for (k = 0; k < m; k++) {
        dsp_real c, s;
        unit_root(k, n, &c, &s);
        tw[k] = c;
        tw[m + k] = -s;
    }
    /* stage twiddles exp(-2 pi i j / (2h)) = post twiddle index j * (n / (2h)) */
    {
        dsp_real *o = st;
        for (h = 4; h < m; h <<= 1) {
            int32_t step = n / (2 * h);
            for (j = 0; j < h; j++) {
                o[j] = tw[j * step];
                o[h + j] = tw[m + j * step];
            }
            o += 2 * h;
        }
    }
    bits = 0;
    while ((1 << bits) < m)
        bits++;
    for (k = 0; k < m; k++) {
        int32_t r = 0, v = k;
        for (j = 0; j < bits; j++) {
            r = (r << 1) | (v & 1);
            v >>= 1;
        }
        br[k] = r;
    }
    plan->n = n;
    plan->tw = tw;
    plan->bitrev = br;
    return EDGERT_OK;
}

int edgert__rfft_plan_view(edgert__rfft_plan *plan, int32_t n, const void *mem)
{
    const int32_t *br;
    int32_t m, k;
    if (plan == NULL || mem == NULL)
        return EDGERT_ERR_NULL;
    if (!valid_length(n) || ((size_t)mem & 7u) != 0)
        return EDGERT_ERR_ARG;
    m = n / 2;
    br = (const int32_t *)((const unsigned char *)mem +
                           align8((size_t)m * 4u * sizeof(dsp_real)));
    for (k = 0; k < m; k++)
        if (br[k] < 0 || br[k] >= m)
            return EDGERT_ERR_ARG;
    plan->n = n;
    plan->tw = (const dsp_real *)mem;
    plan->bitrev = br;
    return EDGERT_OK;
}

/* In-place complex FFT of length m on split re/im, input in bit-reversed order. */
static void cfft_split(const edgert__rfft_plan *plan, dsp_real *EDGERT_RESTRICT re,
                       dsp_real *EDGERT_RESTRICT im, int32_t m)
{
    const dsp_real *st = plan->tw + 2 * m;
    int32_t i, j, h;
    if (m == 2) {
        dsp_real r0 = re[0], i0 = im[0];
        re[0] = r0 + re[1];
        im[0] = i0 + im[1];
        re[1] = r0 - re[1];
        im[1] = i0 - im[1];
        return;
    }
    if (m < 4)
        return;
    /* stages h = 1 and h = 2 as one radix-4 pass (twiddles 1 and -i) */
    for (i = 0; i < m; i += 4) {
        dsp_real a0r = re[i], a0i = im[i], a1r = re[i + 1], a1i = im[i + 1];
        dsp_real a2r = re[i + 2], a2i = im[i + 2], a3r = re[i + 3], a3i = im[i + 3];
        dsp_real s0r = a0r + a1r, s0i = a0i + a1i, d0r = a0r - a1r, d0i = a0i - a1i;
        dsp_real s1r = a2r + a3r, s1i = a2i + a3i, d1r = a2r - a3r, d1i = a2i - a3i;
        re[i] = s0r + s1r;
        im[i] = s0i + s1i;
        re[i + 2] = s0r - s1r;
        im[i + 2] = s0i - s1i;
        /* d1 * (-i) = (d1i, -d1r) */
        re[i + 1] = d0r + d1i;
        im[i + 1] = d0i - d1r;
        re[i + 3] = d0r - d1i;
        im[i + 3] = d0i + d1r;
    }
    for (h = 4; h < m; h <<= 1) {
        const dsp_real *EDGERT_RESTRICT wr = st;
        const dsp_real *EDGERT_RESTRICT wi = st + h;
        for (i = 0; i < m; i += 2 * h) {
            dsp_real *EDGERT_RESTRICT ar = re + i;
            dsp_real *EDGERT_RESTRICT ai = im + i;
            dsp_real *EDGERT_RESTRICT br = re + i + h;
            dsp_real *EDGERT_RESTRICT bi = im + i + h;
            for (j = 0; j < h; j++) {
                dsp_real tr = wr[j] * br[j] - wi[j] * bi[j];
                dsp_real ti = wr[j] * bi[j] + wi[j] * br[j];
                dsp_real xr = ar[j], xi = ai[j];
                br[j] = xr - tr;
                bi[j] = xi - ti;
                ar[j] = xr + tr;
                ai[j] = xi + ti;
            }
        }
        st += 2 * h;
    }
}

/* Pack x (zero-padded past len) into re/im in bit-reversed order and transform. */
static void packed_transform(const edgert__rfft_plan *plan, const dsp_real *x, int32_t len,
                             dsp_real *re, dsp_real *im)
{
    int32_t m = plan->n / 2;
    const int32_t *br = plan->bitrev;
    int32_t j;
    if (len >= plan->n) {
        for (j = 0; j < m; j++) {
            int32_t d = br[j];
            re[d] = x[2 * j];
            im[d] = x[2 * j + 1];
        }
    } else {
        int32_t full = len < 0 ? 0 : len / 2;
        for (j = 0; j < full; j++) {
            int32_t d = br[j];
            re[d] = x[2 * j];
            im[d] = x[2 * j + 1];
        }
        if (full < m) {
            re[br[full]] = (2 * full < len) ? x[2 * full] : DSP_REAL(0.0);
            im[br[full]] = DSP_REAL(0.0);
            for (j = full + 1; j < m; j++) {
                re[br[j]] = DSP_REAL(0.0);
                im[br[j]] = DSP_REAL(0.0);
            }
        }
    }
    cfft_split(plan, re, im, m);
}

/* Spectrum split: X_k = E_k + W^k O_k from Z_k and conj(Z_{m-k}), 0 < k < m. */
#define RFFT_SPLIT(K)                                                          \
    int32_t c_ = m - (K);                                                      \
    dsp_real ar_ = re[K], ai_ = im[K], br_ = re[c_], bi_ = im[c_];                \
    dsp_real er_ = DSP_REAL(0.5) * (ar_ + br_), ei_ = DSP_REAL(0.5) * (ai_ - bi_);  \
    dsp_real or_ = DSP_REAL(0.5) * (ai_ + bi_), oi_ = DSP_REAL(-0.5) * (ar_ - br_); \
    dsp_real wr_ = twc[K], wi_ = tws[K];                                         \
    dsp_real xr = er_ + (wr_ * or_ - wi_ * oi_);                                 \
    dsp_real xi = ei_ + (wr_ * oi_ + wi_ * or_)

void edgert__rfft_real(const edgert__rfft_plan *plan, const dsp_real *x, int32_t len, dsp_real *out_re,
                    dsp_real *out_im, dsp_real *work)
{
    int32_t m = plan->n / 2, k;
    dsp_real *re = work, *im = work + m;
    const dsp_real *twc = plan->tw, *tws = plan->tw + m;
    packed_transform(plan, x, len, re, im);
    out_re[0] = re[0] + im[0];
    out_im[0] = DSP_REAL(0.0);
    out_re[m] = re[0] - im[0];
    out_im[m] = DSP_REAL(0.0);
    for (k = 1; k < m; k++) {
        RFFT_SPLIT(k);
        out_re[k] = xr;
        out_im[k] = xi;
    }
}

void edgert__rfft_power(const edgert__rfft_plan *plan, const dsp_real *x, int32_t len, dsp_real *pw,
                        dsp_real *work)
{
    int32_t m = plan->n / 2, k;
    dsp_real *re = work, *im = work + m;
    const dsp_real *twc = plan->tw, *tws = plan->tw + m;
    dsp_real d0, dm;
    packed_transform(plan, x, len, re, im);
    d0 = re[0] + im[0];
    dm = re[0] - im[0];
    pw[0] = d0 * d0;
    pw[m] = dm * dm;
    for (k = 1; k < m; k++) {
        RFFT_SPLIT(k);
        pw[k] = xr * xr + xi * xi;
    }
}

/* n = 16 (the most common spectral configuration): the 8-point complex transform written
 * out (radix-2 DIT, twiddles 1, -i, (1-i)/sqrt2, (-1-i)/sqrt2), same arithmetic as the
 * generic path up to the order of additions. zr/zi: the 8 packed points in natural order. */
static void cfft8(dsp_real *zr, dsp_real *zi)
{
    const dsp_real h = DSP_REAL(0.70710678118654752440084436210484903928);
    /* bit-reversed order 0 4 2 6 1 5 3 7; stage 1 */
    dsp_real a0r = zr[0] + zr[4], a0i = zi[0] + zi[4], a1r = zr[0] - zr[4], a1i = zi[0] - zi[4];
    dsp_real a2r = zr[2] + zr[6], a2i = zi[2] + zi[6], a3r = zr[2] - zr[6], a3i = zi[2] - zi[6];
    dsp_real a4r = zr[1] + zr[5], a4i = zi[1] + zi[5], a5r = zr[1] - zr[5], a5i = zi[1] - zi[5];
    dsp_real a6r = zr[3] + zr[7], a6i = zi[3] + zi[7], a7r = zr[3] - zr[7], a7i = zi[3] - zi[7];
    /* stage 2: (a0, a2), (a1, -i a3), (a4, a6), (a5, -i a7) */
    dsp_real b0r = a0r + a2r, b0i = a0i + a2i, b2r = a0r - a2r, b2i = a0i - a2i;
    dsp_real b1r = a1r + a3i, b1i = a1i - a3r, b3r = a1r - a3i, b3i = a1i + a3r;
    dsp_real b4r = a4r + a6r, b4i = a4i + a6i, b6r = a4r - a6r, b6i = a4i - a6i;
    dsp_real b5r = a5r + a7i, b5i = a5i - a7r, b7r = a5r - a7i, b7i = a5i + a7r;
    /* stage 3: twiddles W8^k on b4..b7 */
    dsp_real t5r = h * (b5r + b5i), t5i = h * (b5i - b5r);     /* (1-i)/sqrt2 * b5 */
    dsp_real t6r = b6i, t6i = -b6r;                             /* -i * b6 */
    dsp_real t7r = h * (b7i - b7r), t7i = -h * (b7r + b7i);     /* (-1-i)/sqrt2 * b7 */
    zr[0] = b0r + b4r; zi[0] = b0i + b4i; zr[4] = b0r - b4r; zi[4] = b0i - b4i;
    zr[1] = b1r + t5r; zi[1] = b1i + t5i; zr[5] = b1r - t5r; zi[5] = b1i - t5i;
    zr[2] = b2r + t6r; zi[2] = b2i + t6i; zr[6] = b2r - t6r; zi[6] = b2i - t6i;
    zr[3] = b3r + t7r; zi[3] = b3i + t7i; zr[7] = b3r - t7r; zi[7] = b3i - t7i;
}

static void rfft16_power_max(const edgert__rfft_plan *plan, const dsp_real *x, int32_t len,
                             dsp_real scale, dsp_real *pmax)
{
    dsp_real re[8], im[8];
    const dsp_real *twc = plan->tw, *tws = plan->tw + 8;
    dsp_real d0, dm, v;
    int32_t j, k;
    if (len >= 16) {
        for (j = 0; j < 8; j++) {
            re[j] = x[2 * j];
            im[j] = x[2 * j + 1];
        }
    } else {
        for (j = 0; j < 8; j++) {
            re[j] = 2 * j < len ? x[2 * j] : DSP_REAL(0.0);
            im[j] = 2 * j + 1 < len ? x[2 * j + 1] : DSP_REAL(0.0);
        }
    }
    cfft8(re, im);
    d0 = re[0] + im[0];
    dm = re[0] - im[0];
    v = d0 * d0 * scale;
    if (v > pmax[0])
        pmax[0] = v;
    v = dm * dm * scale;
    if (v > pmax[8])
        pmax[8] = v;
    for (k = 1; k <= 4; k++) {
        int32_t c = 8 - k;
        dsp_real ar = re[k], ai = im[k], br = re[c], bi = im[c];
        dsp_real er = DSP_REAL(0.5) * (ar + br), ei = DSP_REAL(0.5) * (ai - bi);
        dsp_real or_ = DSP_REAL(0.5) * (ai + bi), oi = DSP_REAL(-0.5) * (ar - br);
        dsp_real wr = twc[k], wi = tws[k];
        dsp_real pr = wr * or_ - wi * oi, pi = wr * oi + wi * or_;
        dsp_real xr = er + pr, xi = ei + pi, yr = er - pr, yi = ei - pi;
        dsp_real p1 = (xr * xr + xi * xi) * scale, p2 = (yr * yr + yi * yi) * scale;
        pmax[k] = p1 > pmax[k] ? p1 : pmax[k];
        pmax[c] = p2 > pmax[c] ? p2 : pmax[c];
    }
}

void edgert__rfft_power_max(const edgert__rfft_plan *plan, const dsp_real *x, int32_t len,
                            dsp_real scale, dsp_real *pmax, dsp_real *work)
{
    int32_t m = plan->n / 2, k;
    dsp_real *re = work, *im = work + m;
    const dsp_real *twc = plan->tw, *tws = plan->tw + m;
    dsp_real d0, dm, v;
    if (plan->n == 16) {
        rfft16_power_max(plan, x, len, scale, pmax);
        return;
    }
    packed_transform(plan, x, len, re, im);
    d0 = re[0] + im[0];
    dm = re[0] - im[0];
    v = d0 * d0 * scale;
    if (v > pmax[0])
        pmax[0] = v;
    v = dm * dm * scale;
    if (v > pmax[m])
        pmax[m] = v;
    /* bins k and m-k from the same pair Z_k, Z_{m-k}: with E, O as in RFFT_SPLIT and
     * P = W^k O, X_k = E + P and X_{m-k} = conj(E - P) */
    for (k = 1; k <= m / 2; k++) {
        int32_t c = m - k;
        dsp_real ar = re[k], ai = im[k], br = re[c], bi = im[c];
        dsp_real er = DSP_REAL(0.5) * (ar + br), ei = DSP_REAL(0.5) * (ai - bi);
        dsp_real or_ = DSP_REAL(0.5) * (ai + bi), oi = DSP_REAL(-0.5) * (ar - br);
        dsp_real wr = twc[k], wi = tws[k];
        dsp_real pr = wr * or_ - wi * oi, pi = wr * oi + wi * or_;
        dsp_real xr = er + pr, xi = ei + pi, yr = er - pr, yi = ei - pi;
        dsp_real p1 = (xr * xr + xi * xi) * scale, p2 = (yr * yr + yi * yi) * scale;
        pmax[k] = p1 > pmax[k] ? p1 : pmax[k];
        pmax[c] = p2 > pmax[c] ? p2 : pmax[c];
    }
}

#if !defined(EDGERT_NO_SIMD) && !defined(EDGERT_DSP_FLOAT32) && (defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2))
#include <emmintrin.h>
#define EDGERT_FFT_SSE2 1
#endif

#ifdef EDGERT_FFT_SSE2
/* Two frames at once: lane 0 of every __m128d is frame A, lane 1 frame B; the arithmetic per
 * lane is exactly the single-frame path's (cfft_split and the paired split above). */
#define FFTL_NAME cfft_split2_stages
#define FFTL_POWER_NAME power_max2
#define FFTL_ATTR
#define FFTL_LANES 2
#define FFTL_V __m128d
#define FFTL_LD _mm_load_pd
#define FFTL_ST _mm_store_pd
#define FFTL_ADD _mm_add_pd
#define FFTL_SUB _mm_sub_pd
#define FFTL_MUL _mm_mul_pd
#define FFTL_SET1 _mm_set1_pd
#define FFTL_MAX _mm_max_pd
#define FFTL_ZERO _mm_setzero_pd
#include "fft_lanes.h"

static void cfft_split2(const edgert__rfft_plan *plan, double *re, double *im, int32_t m)
{
    if (m == 2) {
        __m128d r0 = _mm_load_pd(re), i0 = _mm_load_pd(im);
        __m128d r1 = _mm_load_pd(re + 2), i1 = _mm_load_pd(im + 2);
        _mm_store_pd(re, _mm_add_pd(r0, r1));
        _mm_store_pd(im, _mm_add_pd(i0, i1));
        _mm_store_pd(re + 2, _mm_sub_pd(r0, r1));
        _mm_store_pd(im + 2, _mm_sub_pd(i0, i1));
        return;
    }
    if (m >= 4)
        cfft_split2_stages(plan, re, im, m);
}

static void pack2(const edgert__rfft_plan *plan, const double *xa, int32_t la, const double *xb,
                  int32_t lb, double *re, double *im)
{
    int32_t m = plan->n / 2, j;
    const int32_t *br = plan->bitrev;
    if (la >= plan->n && lb >= plan->n) {
        for (j = 0; j < m; j++) {
            int32_t d = 2 * br[j];
            __m128d a = _mm_loadu_pd(xa + 2 * j), b = _mm_loadu_pd(xb + 2 * j);
            _mm_store_pd(re + d, _mm_unpacklo_pd(a, b));
            _mm_store_pd(im + d, _mm_unpackhi_pd(a, b));
        }
    } else {
        for (j = 0; j < m; j++) {
            int32_t d = 2 * br[j], t = 2 * j;
            re[d] = t < la ? xa[t] : 0.0;
            re[d + 1] = t < lb ? xb[t] : 0.0;
            im[d] = t + 1 < la ? xa[t + 1] : 0.0;
            im[d + 1] = t + 1 < lb ? xb[t + 1] : 0.0;
        }
    }
}

/* max-hold of two frames into lane-wise maxima lmax (2 doubles per bin: frame A's lane,
 * frame B's lane); work: 2n doubles, 16-byte aligned */
static void rfft_power_max2(const edgert__rfft_plan *plan, const double *xa, int32_t la,
                            const double *xb, int32_t lb, double scale, double *lmax,
                            double *work)
{
    int32_t m = plan->n / 2;
    double *re = work, *im = work + 2 * m;
    pack2(plan, xa, la, xb, lb, re, im);
    cfft_split2(plan, re, im, m);
    power_max2(plan, re, im, m, scale, lmax);
}
#endif

#if defined(EDGERT_FFT_SSE2) && !defined(EDGERT_NO_AVX2) && defined(__x86_64__) && \
    (defined(__GNUC__) || defined(__clang__)) && !defined(__AVX2__)
/* Four frames at once on CPUs with AVX2, chosen at run time (the library itself is built for
 * the x86-64 baseline). Lane f of every __m256d is frame f; the operations per lane are the
 * two-frame SSE2 path's, in the same order, and "avx2" alone (no "fma") keeps the compiler
 * from fusing multiply-adds: the spectra are bit-identical to the SSE2 and scalar paths. */
#include <immintrin.h>
#define EDGERT_FFT_AVX2 1
#define EDGERT_AVX2 __attribute__((target("avx2")))

/* called only for n >= 32 (m >= 16) */
#define FFTL_NAME cfft_split4
#define FFTL_POWER_NAME power_max4
#define FFTL_ATTR EDGERT_AVX2
#define FFTL_LANES 4
#define FFTL_V __m256d
#define FFTL_LD _mm256_loadu_pd
#define FFTL_ST _mm256_storeu_pd
#define FFTL_ADD _mm256_add_pd
#define FFTL_SUB _mm256_sub_pd
#define FFTL_MUL _mm256_mul_pd
#define FFTL_SET1 _mm256_set1_pd
#define FFTL_MAX _mm256_max_pd
#define FFTL_ZERO _mm256_setzero_pd
#include "fft_lanes.h"

/* frames f = 0..3 start at x + f*step with lengths lens[f] (zero-padded past them) */
static void pack4(const edgert__rfft_plan *plan, const double *x, int32_t step,
                  const int32_t *lens, double *re, double *im)
{
    int32_t m = plan->n / 2, j, f;
    const int32_t *br = plan->bitrev;
    for (j = 0; j < m; j++) {
        int32_t d = 4 * br[j], t = 2 * j;
        for (f = 0; f < 4; f++) {
            const double *xf = x + (size_t)f * (size_t)step;
            re[d + f] = t < lens[f] ? xf[t] : 0.0;
            im[d + f] = t + 1 < lens[f] ? xf[t + 1] : 0.0;
        }
    }
}

/* max-hold of four frames into lane-wise maxima lmax (4 doubles per bin); work: 4n doubles */
EDGERT_AVX2 static void rfft_power_max4(const edgert__rfft_plan *plan, const double *x,
                                        int32_t step, const int32_t *lens, double scale,
                                        double *lmax, double *work)
{
    int32_t m = plan->n / 2;
    double *re = work, *im = work + 4 * m;
    pack4(plan, x, step, lens, re, im);
    cfft_split4(plan, re, im, m);
    power_max4(plan, re, im, m, scale, lmax);
}

/* Frames ix, ix+step, ... four at a time while four start before len; returns the next
 * frame start. pmax gets the max over those frames. work: 6n + 4 doubles. */
static int32_t welch_frames4(const edgert__rfft_plan *plan, const double *y, int32_t len,
                             int32_t step, double scale, double *pmax, double *work)
{
    int32_t n = plan->n, half = n / 2, k, f, ix = 0;
    double *lmax = work + 4 * (size_t)n; /* 4 lanes per bin */
    for (k = 0; k < 4 * (half + 1); k++)
        lmax[k] = 0.0;
    for (; ix + 3 * step < len; ix += 4 * step) {
        int32_t lens[4];
        for (f = 0; f < 4; f++) {
            int32_t rest = len - (ix + f * step);
            lens[f] = rest < n ? rest : n;
        }
        rfft_power_max4(plan, y + ix, step, lens, scale, lmax, work);
    }
    for (k = 0; k <= half; k++) {
        const double *l = lmax + 4 * k;
        double a = l[0] > l[1] ? l[0] : l[1], b = l[2] > l[3] ? l[2] : l[3];
        pmax[k] = a > b ? a : b;
    }
    return ix;
}
#endif

void edgert__welch_max_hold(const edgert__rfft_plan *plan, const dsp_real *y, int32_t len,
                            int32_t step, dsp_real scale, dsp_real *pmax, dsp_real *work)
{
    int32_t n = plan->n, half = n / 2, k, ix = 0;
    for (k = 0; k <= half; k++)
        pmax[k] = DSP_REAL(0.0);
#ifdef EDGERT_FFT_AVX2
    if (n >= 32 && 3 * step < len && __builtin_cpu_supports("avx2"))
        ix = welch_frames4(plan, y, len, step, scale, pmax, work);
#endif
#ifdef EDGERT_FFT_SSE2
    if (n >= 32 && ((size_t)work & 15u) == 0 && ix + step < len) {
        dsp_real *lmax = work + 2 * n; /* 2 lanes per bin */
        for (k = 0; k <= 2 * half + 1; k++)
            lmax[k] = pmax[k >> 1]; /* continue the max of the frames done above */
        for (; ix + step < len; ix += 2 * step) {
            int32_t ib = ix + step;
            int32_t la = len - ix < n ? len - ix : n, lb = len - ib < n ? len - ib : n;
            rfft_power_max2(plan, y + ix, la, y + ib, lb, scale, lmax, work);
        }
        for (k = 0; k <= half; k++) {
            dsp_real a = lmax[2 * k], b = lmax[2 * k + 1];
            pmax[k] = a > b ? a : b;
        }
    }
#endif
    for (; ix < len; ix += step) {
        int32_t l = len - ix < n ? len - ix : n;
        edgert__rfft_power_max(plan, y + ix, l, scale, pmax, work);
    }
}

int edgert_rfft_scratch_size(int32_t n, size_t *bytes)
{
    if (bytes == NULL)
        return EDGERT_ERR_NULL;
    if (!valid_length(n))
        return EDGERT_ERR_ARG;
    /* plan + x (n doubles) + work (n doubles) + re/im (2 * (n/2+1) doubles) */
    *bytes = edgert__rfft_plan_bytes(n) + (size_t)n * 2u * sizeof(dsp_real) +
             (size_t)(n / 2 + 1) * 2u * sizeof(dsp_real) + 8u;
    return EDGERT_OK;
}

int edgert_rfft(const float *in, int32_t n, float *out_re, float *out_im, void *scratch,
                size_t scratch_bytes)
{
    size_t need;
    edgert__rfft_plan plan;
    unsigned char *base;
    dsp_real *x, *work, *re, *im;
    int32_t k;
    int st;
    if (in == NULL || out_re == NULL || out_im == NULL || scratch == NULL)
        return EDGERT_ERR_NULL;
    st = edgert_rfft_scratch_size(n, &need);
    if (st != EDGERT_OK)
        return st;
    if (scratch_bytes < need)
        return EDGERT_ERR_SCRATCH;
    base = (unsigned char *)scratch;
    base += (8u - ((size_t)base & 7u)) & 7u; /* align to 8 */
    st = edgert__rfft_plan_init(&plan, n, base);
    if (st != EDGERT_OK)
        return st;
    x = (dsp_real *)(base + edgert__rfft_plan_bytes(n));
    work = x + n;
    re = work + n;
    im = re + (n / 2 + 1);
    for (k = 0; k < n; k++) {
        if (!isfinite(in[k]))
            return EDGERT_ERR_NONFINITE;
        x[k] = (dsp_real)in[k];
    }
    edgert__rfft_real(&plan, x, n, re, im, work);
    for (k = 0; k <= n / 2; k++) {
        out_re[k] = (float)re[k];
        out_im[k] = (float)im[k];
    }
    return EDGERT_OK;
}
