/*
 * fft.c - real FFT for power-of-two lengths 2..65536, in double.
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
    return align8((size_t)(n / 2) * 4u * sizeof(double)) +
           align8((size_t)(n / 2) * sizeof(int32_t));
}

/* cos and sin of 2*pi*k/n, using symmetry so every value comes from an angle <= pi/4 */
static void unit_root(int32_t k, int32_t n, double *c, double *s)
{
    /* reduce to k in [0, n/2) */
    if (8 * (int64_t)k <= n) {
        double a = 2.0 * EDGERT_PI * (double)k / (double)n;
        *c = cos(a);
        *s = sin(a);
    } else if (8 * (int64_t)k <= 3 * (int64_t)n) {
        double a = 2.0 * EDGERT_PI * (double)(n / 4 - k) / (double)n;
        if (4 * (int64_t)k == n) {
            *c = 0.0;
            *s = 1.0;
            return;
        }
        *c = sin(a);
        *s = cos(a);
    } else {
        double a = 2.0 * EDGERT_PI * (double)(n / 2 - k) / (double)n;
        *c = -cos(a);
        *s = sin(a);
    }
}

int edgert__rfft_plan_init(edgert__rfft_plan *plan, int32_t n, void *mem)
{
    double *tw, *st;
    int32_t *br;
    int32_t m, k, bits, j, h;
    if (plan == NULL || mem == NULL)
        return EDGERT_ERR_NULL;
    if (!valid_length(n))
        return EDGERT_ERR_ARG;
    m = n / 2;
    tw = (double *)mem;
    st = tw + 2 * m;
    br = (int32_t *)((unsigned char *)mem + align8((size_t)m * 4u * sizeof(double)));
    for (k = 0; k < m; k++) {
        double c, s;
        unit_root(k, n, &c, &s);
        tw[k] = c;
        tw[m + k] = -s;
    }
    /* stage twiddles exp(-2 pi i j / (2h)) = post twiddle index j * (n / (2h)) */
    {
        double *o = st;
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

/* In-place complex FFT of length m on split re/im, input in bit-reversed order. */
static void cfft_split(const edgert__rfft_plan *plan, double *EDGERT_RESTRICT re,
                       double *EDGERT_RESTRICT im, int32_t m)
{
    const double *st = plan->tw + 2 * m;
    int32_t i, j, h;
    if (m == 2) {
        double r0 = re[0], i0 = im[0];
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
        double a0r = re[i], a0i = im[i], a1r = re[i + 1], a1i = im[i + 1];
        double a2r = re[i + 2], a2i = im[i + 2], a3r = re[i + 3], a3i = im[i + 3];
        double s0r = a0r + a1r, s0i = a0i + a1i, d0r = a0r - a1r, d0i = a0i - a1i;
        double s1r = a2r + a3r, s1i = a2i + a3i, d1r = a2r - a3r, d1i = a2i - a3i;
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
        const double *EDGERT_RESTRICT wr = st;
        const double *EDGERT_RESTRICT wi = st + h;
        for (i = 0; i < m; i += 2 * h) {
            double *EDGERT_RESTRICT ar = re + i;
            double *EDGERT_RESTRICT ai = im + i;
            double *EDGERT_RESTRICT br = re + i + h;
            double *EDGERT_RESTRICT bi = im + i + h;
            for (j = 0; j < h; j++) {
                double tr = wr[j] * br[j] - wi[j] * bi[j];
                double ti = wr[j] * bi[j] + wi[j] * br[j];
                double xr = ar[j], xi = ai[j];
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
static void packed_transform(const edgert__rfft_plan *plan, const double *x, int32_t len,
                             double *re, double *im)
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
            re[br[full]] = (2 * full < len) ? x[2 * full] : 0.0;
            im[br[full]] = 0.0;
            for (j = full + 1; j < m; j++) {
                re[br[j]] = 0.0;
                im[br[j]] = 0.0;
            }
        }
    }
    cfft_split(plan, re, im, m);
}

/* Spectrum split: X_k = E_k + W^k O_k from Z_k and conj(Z_{m-k}), 0 < k < m. */
#define RFFT_SPLIT(K)                                                          \
    int32_t c_ = m - (K);                                                      \
    double ar_ = re[K], ai_ = im[K], br_ = re[c_], bi_ = im[c_];                \
    double er_ = 0.5 * (ar_ + br_), ei_ = 0.5 * (ai_ - bi_);                    \
    double or_ = 0.5 * (ai_ + bi_), oi_ = -0.5 * (ar_ - br_);                   \
    double wr_ = twc[K], wi_ = tws[K];                                         \
    double xr = er_ + (wr_ * or_ - wi_ * oi_);                                 \
    double xi = ei_ + (wr_ * oi_ + wi_ * or_)

void edgert__rfft_d(const edgert__rfft_plan *plan, const double *x, int32_t len, double *out_re,
                    double *out_im, double *work)
{
    int32_t m = plan->n / 2, k;
    double *re = work, *im = work + m;
    const double *twc = plan->tw, *tws = plan->tw + m;
    packed_transform(plan, x, len, re, im);
    out_re[0] = re[0] + im[0];
    out_im[0] = 0.0;
    out_re[m] = re[0] - im[0];
    out_im[m] = 0.0;
    for (k = 1; k < m; k++) {
        RFFT_SPLIT(k);
        out_re[k] = xr;
        out_im[k] = xi;
    }
}

void edgert__rfft_power(const edgert__rfft_plan *plan, const double *x, int32_t len, double *pw,
                        double *work)
{
    int32_t m = plan->n / 2, k;
    double *re = work, *im = work + m;
    const double *twc = plan->tw, *tws = plan->tw + m;
    double d0, dm;
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

void edgert__rfft_power_max(const edgert__rfft_plan *plan, const double *x, int32_t len,
                            double scale, double *pmax, double *work)
{
    int32_t m = plan->n / 2, k;
    double *re = work, *im = work + m;
    const double *twc = plan->tw, *tws = plan->tw + m;
    double d0, dm, v;
    packed_transform(plan, x, len, re, im);
    d0 = re[0] + im[0];
    dm = re[0] - im[0];
    v = d0 * d0 * scale;
    if (v > pmax[0])
        pmax[0] = v;
    v = dm * dm * scale;
    if (v > pmax[m])
        pmax[m] = v;
    for (k = 1; k < m; k++) {
        RFFT_SPLIT(k);
        v = (xr * xr + xi * xi) * scale;
        pmax[k] = v > pmax[k] ? v : pmax[k];
    }
}

int edgert_rfft_scratch_size(int32_t n, size_t *bytes)
{
    if (bytes == NULL)
        return EDGERT_ERR_NULL;
    if (!valid_length(n))
        return EDGERT_ERR_ARG;
    /* plan + x (n doubles) + work (n doubles) + re/im (2 * (n/2+1) doubles) */
    *bytes = edgert__rfft_plan_bytes(n) + (size_t)n * 2u * sizeof(double) +
             (size_t)(n / 2 + 1) * 2u * sizeof(double) + 8u;
    return EDGERT_OK;
}

int edgert_rfft(const float *in, int32_t n, float *out_re, float *out_im, void *scratch,
                size_t scratch_bytes)
{
    size_t need;
    edgert__rfft_plan plan;
    unsigned char *base;
    double *x, *work, *re, *im;
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
    x = (double *)(base + edgert__rfft_plan_bytes(n));
    work = x + n;
    re = work + n;
    im = re + (n / 2 + 1);
    for (k = 0; k < n; k++) {
        if (!isfinite(in[k]))
            return EDGERT_ERR_NONFINITE;
        x[k] = (double)in[k];
    }
    edgert__rfft_d(&plan, x, n, re, im, work);
    for (k = 0; k <= n / 2; k++) {
        out_re[k] = (float)re[k];
        out_im[k] = (float)im[k];
    }
    return EDGERT_OK;
}
