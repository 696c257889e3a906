/*
 * fft.c - real FFT for power-of-two lengths 2..65536, in double.
 *
 * A real transform of length n is computed as a complex transform of length m = n/2 on the
 * packed sequence z[j] = x[2j] + i*x[2j+1] (iterative radix-2, decimation in time, input
 * loaded in bit-reversed order), followed by the usual split into even/odd spectra.
 * Twiddles exp(-2*pi*i*k/n), k < n/2, are computed once into a plan in caller memory (the
 * spectral block builds one plan per batch call); nothing is allocated, nothing is static.
 */
#include <math.h>
#include <string.h>

#include "edgert.h"
#include "spectral_internal.h"

#define EDGERT_PI 3.14159265358979323846264338327950288

static int valid_length(int32_t n)
{
    return n >= 2 && n <= EDGERT_FFT_MAX_LENGTH && (n & (n - 1)) == 0;
}

static size_t align8(size_t b) { return (b + 7u) & ~(size_t)7u; }

size_t edgert__rfft_plan_bytes(int32_t n)
{
    if (!valid_length(n))
        return 0;
    return align8((size_t)n * sizeof(double)) + align8((size_t)(n / 2) * sizeof(int32_t));
}

int edgert__rfft_plan_init(edgert__rfft_plan *plan, int32_t n, void *mem)
{
    double *tw;
    int32_t *br;
    int32_t m, k, bits, j;
    if (plan == NULL || mem == NULL)
        return EDGERT_ERR_NULL;
    if (!valid_length(n))
        return EDGERT_ERR_ARG;
    m = n / 2;
    tw = (double *)mem;
    br = (int32_t *)((unsigned char *)mem + align8((size_t)n * sizeof(double)));
    /* exact values on the axes, the rest from cos/sin of the reduced angle for symmetry */
    for (k = 0; k < m; k++) {
        double ang = 2.0 * EDGERT_PI * (double)k / (double)n;
        double c, s;
        if (4 * k == n) {
            c = 0.0;
            s = 1.0;
        } else if (8 * k <= n) {
            c = cos(ang);
            s = sin(ang);
        } else if (8 * k <= 3 * n) {
            /* ang in (pi/4, 3pi/4]: use the complement for accuracy */
            double a2 = 2.0 * EDGERT_PI * (double)(n / 4 - k) / (double)n;
            c = sin(a2);
            s = cos(a2);
        } else {
            double a2 = 2.0 * EDGERT_PI * (double)(n / 2 - k) / (double)n;
            c = -cos(a2);
            s = sin(a2);
        }
        tw[2 * k] = c;
        tw[2 * k + 1] = -s;
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

/* In-place complex FFT of length m on interleaved z, input already in bit-reversed order. */
static void cfft_bitrev_input(const edgert__rfft_plan *plan, double *z, int32_t m)
{
    const double *tw = plan->tw;
    int32_t n = plan->n;
    int32_t len, i, j;
    /* first stage: length-2 butterflies, twiddle 1 */
    for (i = 0; i + 1 < m; i += 2) {
        double *a = z + 2 * i, *b = a + 2;
        double br = b[0], bi = b[1];
        b[0] = a[0] - br;
        b[1] = a[1] - bi;
        a[0] += br;
        a[1] += bi;
    }
    /* second stage: length 4, twiddles 1 and -i */
    if (m >= 4) {
        for (i = 0; i < m; i += 4) {
            double *a0 = z + 2 * i;
            double *a1 = a0 + 2, *b0 = a0 + 4, *b1 = a0 + 6;
            double tr = b0[0], ti = b0[1];
            double ur = b1[1], ui = -b1[0]; /* b1 * (-i) */
            b0[0] = a0[0] - tr;
            b0[1] = a0[1] - ti;
            a0[0] += tr;
            a0[1] += ti;
            b1[0] = a1[0] - ur;
            b1[1] = a1[1] - ui;
            a1[0] += ur;
            a1[1] += ui;
        }
    }
    for (len = 8; len <= m; len <<= 1) {
        int32_t half = len >> 1;
        int32_t step = n / len; /* exp(-2 pi i j / len) = tw[j * step] */
        for (j = 0; j < half; j++) {
            double wr = tw[2 * j * step], wi = tw[2 * j * step + 1];
            for (i = j; i < m; i += len) {
                double *a = z + 2 * i, *b = z + 2 * (i + half);
                double tr = wr * b[0] - wi * b[1];
                double ti = wr * b[1] + wi * b[0];
                b[0] = a[0] - tr;
                b[1] = a[1] - ti;
                a[0] += tr;
                a[1] += ti;
            }
        }
    }
}

/* Pack x (zero-padded past len) into work in bit-reversed order and transform. */
static void packed_transform(const edgert__rfft_plan *plan, const double *x, int32_t len,
                             double *work)
{
    int32_t m = plan->n / 2;
    const int32_t *br = plan->bitrev;
    int32_t j;
    if (len >= plan->n) {
        for (j = 0; j < m; j++) {
            double *d = work + 2 * br[j];
            d[0] = x[2 * j];
            d[1] = x[2 * j + 1];
        }
    } else {
        if (len < 0)
            len = 0;
        for (j = 0; j < m; j++) {
            double *d = work + 2 * br[j];
            int32_t t = 2 * j;
            d[0] = t < len ? x[t] : 0.0;
            d[1] = t + 1 < len ? x[t + 1] : 0.0;
        }
    }
    cfft_bitrev_input(plan, work, m);
}

/* X_k for k = 0..m from the packed transform Z (length m). */
#define RFFT_SPLIT(K, XR, XI)                                                   \
    do {                                                                        \
        int32_t k_ = (K), c_ = (m - k_) & (m - 1);                              \
        double ar_ = work[2 * (k_ & (m - 1))], ai_ = work[2 * (k_ & (m - 1)) + 1]; \
        double br_ = work[2 * c_], bi_ = work[2 * c_ + 1];                       \
        double er_ = 0.5 * (ar_ + br_), ei_ = 0.5 * (ai_ - bi_);                 \
        double or_ = 0.5 * (ai_ + bi_), oi_ = -0.5 * (ar_ - br_);                \
        double wr_, wi_;                                                        \
        if (k_ < m) {                                                           \
            wr_ = tw[2 * k_];                                                   \
            wi_ = tw[2 * k_ + 1];                                               \
        } else {                                                                \
            wr_ = -1.0;                                                         \
            wi_ = 0.0;                                                          \
        }                                                                       \
        (XR) = er_ + (wr_ * or_ - wi_ * oi_);                                   \
        (XI) = ei_ + (wr_ * oi_ + wi_ * or_);                                   \
    } while (0)

void edgert__rfft_d(const edgert__rfft_plan *plan, const double *x, int32_t len, double *re,
                    double *im, double *work)
{
    int32_t m = plan->n / 2, k;
    const double *tw = plan->tw;
    packed_transform(plan, x, len, work);
    re[0] = work[0] + work[1];
    im[0] = 0.0;
    re[m] = work[0] - work[1];
    im[m] = 0.0;
    for (k = 1; k < m; k++) {
        double xr, xi;
        RFFT_SPLIT(k, xr, xi);
        re[k] = xr;
        im[k] = xi;
    }
}

void edgert__rfft_power(const edgert__rfft_plan *plan, const double *x, int32_t len, double *pw,
                        double *work)
{
    int32_t m = plan->n / 2, k;
    const double *tw = plan->tw;
    double d0, dm;
    packed_transform(plan, x, len, work);
    d0 = work[0] + work[1];
    dm = work[0] - work[1];
    pw[0] = d0 * d0;
    pw[m] = dm * dm;
    for (k = 1; k < m; k++) {
        double xr, xi;
        RFFT_SPLIT(k, xr, xi);
        pw[k] = xr * xr + xi * xi;
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
