/*
 * Wavelet path of the Spectral Analysis block (versions 3 and 4, analysis-type "Wavelet"):
 * a multilevel discrete wavelet decomposition with pywt.wavedec semantics (mode='symmetric')
 * and 14 statistics per coefficient array.
 *
 * pywt's single-level DWT of x (length n) with a decomposition filter f (F taps) is the full
 * convolution of the half-sample symmetric extension of x (x[-1-m] = x[m], x[n+m] = x[n-1-m],
 * repeated with period 2n) with f, kept at the odd positions 1, 3, ... < n+F-1:
 *   c[o] = sum_j f[j] * xext[2o + 1 - j],  o = 0 .. floor((n+F-1)/2) - 1.
 * wavedec applies it `level` times to the approximation and returns [cA_L, cD_L, ..., cD_1];
 * it does not clamp the level to dwt_max_level (it only warns), so neither do we.
 *
 * Features of each array c (n values), in this order (the reference block's definitions):
 *   entropy   natural-log Shannon entropy of numpy.histogram(c, bins=100) / n
 *   zcross    #{i : (c[i] > 0) != (c[i+1] > 0)} / n
 *   mcross    the same about mean(c)
 *   n5 n25 n75 n95 median   sorted(c)[int((n-1)*p + 0.5)]
 *   mean, std (ddof 0), var (ddof 1), rms sqrt(mean(c^2)), skew, kurtosis (Fisher, biased)
 * Zero variance (scipy's NaN): skew 0, kurtosis -3, as the C++ SDK does.
 * Float data and filters; sums and moments in double (the working precision dsp_real of
 * dsp_real.h: float in the microcontroller build).
 */
#include <math.h>
#include <string.h>

#include "spectral_internal.h"

#define WAVELET_FEATURES 14
#define WAVELET_MAX_LEVEL 7
#define WAVEDEC_MAX_LEVEL 16
#define HIST_BINS 100

int edgert_wavelet_index(const char *name)
{
    int i;
    if (name == NULL) return EDGERT_ERR_PARAM;
    for (i = 0; i < EDGERT__N_WAVELETS; i++) {
        if (strcmp(name, edgert__wavelet_filters[i].name) == 0) return i;
    }
    return EDGERT_ERR_PARAM;
}

/* Length of one DWT level's outputs for an input of n samples and F taps. */
static int32_t dwt_len(int32_t n, int32_t taps)
{
    return (int32_t)(((int64_t)n + taps - 1) / 2);
}

/* x[m] of the half-sample symmetric extension (period 2n) */
static float sym_at(const float *x, int32_t n, int64_t m)
{
    int64_t period = 2 * (int64_t)n;
    int64_t r = m % period;
    if (r < 0) r += period;
    return r < n ? x[r] : x[period - 1 - r];
}

/* One level: approximation into ca, detail into cd (dwt_len(n, taps) values each). */
static void dwt_level(const float *x, int32_t n, const edgert__wavelet_filter *w,
                      float *ca, float *cd)
{
    const int32_t taps = w->taps;
    const float *lo = w->dec_lo, *hi = w->dec_hi;
    const int32_t m = dwt_len(n, taps);
    int32_t o, j;
    for (o = 0; o < m; o++) {
        const int64_t i = 2 * (int64_t)o + 1;  /* position in the full convolution */
        float sa = 0.0f, sd = 0.0f;
        if (i - (taps - 1) >= 0 && i < n) {    /* interior: no extension needed */
            const float *xp = x + i;
            for (j = 0; j < taps; j++) {
                sa += lo[j] * xp[-j];
                sd += hi[j] * xp[-j];
            }
        } else {
            for (j = 0; j < taps; j++) {
                const float v = sym_at(x, n, i - j);
                sa += lo[j] * v;
                sd += hi[j] * v;
            }
        }
        ca[o] = sa;
        cd[o] = sd;
    }
}

/* In-place ascending heapsort: O(n log n), no allocation, no recursion. */
static void sift_down(float *a, int32_t root, int32_t n)
{
    for (;;) {
        int32_t child = 2 * root + 1;
        float t;
        if (child >= n) return;
        if (child + 1 < n && a[child + 1] > a[child]) child++;
        if (!(a[child] > a[root])) return;
        t = a[root]; a[root] = a[child]; a[child] = t;
        root = child;
    }
}

static void heapsort_floats(float *a, int32_t n)
{
    int32_t i;
    for (i = n / 2 - 1; i >= 0; i--) sift_down(a, i, n);
    for (i = n - 1; i > 0; i--) {
        float t = a[0]; a[0] = a[i]; a[i] = t;
        sift_down(a, 0, i);
    }
}

static float median3(float x, float y, float z)
{
    if (x < y) {
        if (y < z) return y;
        return x < z ? z : x;
    }
    if (x < z) return x;
    return y < z ? z : y;
}

/* Quickselect (introselect): afterwards a[k] holds the value sorted order puts there, with
 * a[lo..k-1] <= a[k] <= a[k+1..hi]. Three-way partition around a median-of-three element
 * (runs of equal values, e.g. all-zero arrays, cost O(n)); after 2 log2(n) + 16 rounds the
 * remaining range is heapsorted, so the worst case stays O(n log n). */
static void select_kth(float *a, int32_t lo, int32_t hi, int32_t k)
{
    int32_t budget = 16, len;
    for (len = hi - lo + 1; len > 1; len >>= 1) budget += 2;
    while (hi > lo) {
        float pivot, t;
        int32_t lt = lo, i = lo, gt = hi;
        if (budget-- == 0) {
            heapsort_floats(a + lo, hi - lo + 1);
            return;
        }
        pivot = median3(a[lo], a[lo + (hi - lo) / 2], a[hi]);
        while (i <= gt) {
            if (a[i] < pivot) {
                t = a[lt]; a[lt] = a[i]; a[i] = t;
                lt++; i++;
            } else if (a[i] > pivot) {
                t = a[gt]; a[gt] = a[i]; a[i] = t;
                gt--;
            } else {
                i++;
            }
        }
        if (k < lt) hi = lt - 1;
        else if (k > gt) lo = gt + 1;
        else return;
    }
}

/* Place the order statistics ks[0] < ks[1] < ... (nk of them, inside lo..hi) at their sorted
 * positions: select the middle one, then recurse into each side (depth <= log2(nk) + 1). */
static void select_many(float *a, int32_t lo, int32_t hi, const int32_t *ks, int32_t nk)
{
    int32_t m, k;
    if (nk <= 0 || lo >= hi) return;
    m = nk / 2;
    k = ks[m];
    select_kth(a, lo, hi, k);
    select_many(a, lo, k - 1, ks, m);
    select_many(a, k + 1, hi, ks + m + 1, nk - m - 1);
}

/* sorted(c)[int((n-1) * percent/100 + 0.5)] index, in integers (see coeff_features) */
static int32_t percentile_index(int32_t n, int32_t percent)
{
    return (int32_t)(((int64_t)(n - 1) * percent + 50) / 100);
}

/* numpy.histogram(c, bins=100) (uniform bins over [min, max], last bin closed), then the
 * Shannon entropy (natural log) of counts / n. Bin assignment reproduces numpy's: index from
 * (x - first) / (last - first) * 100, corrected against the linspace edges. */
static dsp_real histogram_entropy(const float *c, int32_t n, dsp_real first, dsp_real last)
{
    int32_t counts[HIST_BINS];
    dsp_real edges[HIST_BINS + 1];
    dsp_real step, denom, h = DSP_REAL(0.0);
    int32_t i;
    if (first == last) { first -= DSP_REAL(0.5); last += DSP_REAL(0.5); }
    denom = last - first;
    step = denom / HIST_BINS;
    for (i = 0; i <= HIST_BINS; i++) edges[i] = (dsp_real)i * step + first;
    edges[HIST_BINS] = last;
    memset(counts, 0, sizeof counts);
    for (i = 0; i < n; i++) {
        const dsp_real v = (dsp_real)c[i];
        int32_t k = (int32_t)((v - first) / denom * HIST_BINS);
        if (k >= HIST_BINS) k = HIST_BINS - 1;
        if (k < 0) k = 0;
        if (v < edges[k] && k > 0) k--;
        if (k != HIST_BINS - 1 && v >= edges[k + 1]) k++;
        counts[k]++;
    }
    for (i = 0; i < HIST_BINS; i++) {
        if (counts[i] > 0) {
            const dsp_real pr = (dsp_real)counts[i] / (dsp_real)n;
            h -= pr * dsp_log(pr);
        }
    }
    return h;
}

/* The 14 features of one coefficient array; reorders c (partial sort for the percentiles). */
static void coeff_features(float *c, int32_t n, float *out)
{
    dsp_real sum = DSP_REAL(0.0), sum2 = DSP_REAL(0.0), mean;
    dsp_real m2 = DSP_REAL(0.0), m3 = DSP_REAL(0.0), m4 = DSP_REAL(0.0);
    dsp_real mn = (dsp_real)c[0], mx = (dsp_real)c[0];
    int32_t zc = 0, mc = 0, i;
    /* percentiles in percent; output order, and ascending */
    static const int32_t pct[5] = {5, 25, 75, 95, 50};
    static const int32_t pct_sorted[5] = {5, 25, 50, 75, 95};

    for (i = 0; i < n; i++) {
        const dsp_real v = (dsp_real)c[i];
        sum += v;
        sum2 += v * v;
        if (v < mn) mn = v;
        if (v > mx) mx = v;
    }
    mean = sum / (dsp_real)n;
    for (i = 0; i < n; i++) {
        const dsp_real d = (dsp_real)c[i] - mean, d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
        if (i + 1 < n) {
            zc += (c[i] > 0.0f) != (c[i + 1] > 0.0f);
            mc += ((dsp_real)c[i] > mean) != ((dsp_real)c[i + 1] > mean);
        }
    }
#ifdef EDGERT_DSP_FLOAT32
    /* a constant array: the float mean may round away from the value and leave a tiny
     * variance the reference (exact there) does not have */
    if (mn == mx) {
        mean = mn;
        m2 = m3 = m4 = DSP_REAL(0.0);
        mc = 0;
    }
#endif
    out[0] = (float)histogram_entropy(c, n, mn, mx);
    out[1] = (float)((dsp_real)zc / (dsp_real)n);
    out[2] = (float)((dsp_real)mc / (dsp_real)n);
    {   /* percentiles sorted(c)[int((n-1) p + 0.5)]: order statistics by selection, O(n).
         * The index in integers, floor(((n-1) P + 50) / 100) for P percent, equals the
         * reference's float64 int((n-1)*p + 0.5) for every n up to 2^28 (checked
         * exhaustively; windows are far shorter) and needs no floating point. */
        int32_t ks[5], nk = 0;
        for (i = 0; i < 5; i++) {  /* pct_sorted: ascending p, so non-decreasing indices */
            const int32_t k = percentile_index(n, pct_sorted[i]);
            if (nk == 0 || ks[nk - 1] != k) ks[nk++] = k;
        }
        select_many(c, 0, n - 1, ks, nk);
        for (i = 0; i < 5; i++) {
            out[3 + i] = c[percentile_index(n, pct[i])];
        }
    }
    out[8] = (float)mean;
    out[9] = (float)dsp_sqrt(m2 / (dsp_real)n);
    out[10] = n > 1 ? (float)(m2 / (dsp_real)(n - 1)) : 0.0f;
    out[11] = (float)dsp_sqrt(sum2 / (dsp_real)n);
    m2 /= (dsp_real)n; m3 /= (dsp_real)n; m4 /= (dsp_real)n;
    /* scipy.stats.skew/kurtosis: NaN when m2 <= (eps * mean)^2; the SDK convention 0 / -3 */
    if (m2 <= DSP_REAL(0.0) || m2 <= (DSP_REAL(2.220446049250313e-16) * mean) *
                                     (DSP_REAL(2.220446049250313e-16) * mean)) {
        out[12] = 0.0f;
        out[13] = -3.0f;
    } else {
        out[12] = (float)(m3 / (m2 * dsp_sqrt(m2)));
        out[13] = (float)(m4 / (m2 * m2) - DSP_REAL(3.0));
    }
}

static int level_ok(int32_t level, int32_t max_level)
{
    return level >= 1 && level <= max_level;
}

static int wavelet_ok(int32_t wavelet)
{
    return wavelet >= 0 && wavelet < EDGERT__N_WAVELETS;
}

/* ---------------------------------------------------------------- public: wavedec ---- */

int edgert_wavedec_size(int32_t wavelet, int32_t level, int32_t n, int32_t *n_coeffs,
                        size_t *scratch_bytes)
{
    int32_t len, total, k, taps, longest;
    if (n_coeffs == NULL || scratch_bytes == NULL) return EDGERT_ERR_NULL;
    if (!wavelet_ok(wavelet) || !level_ok(level, WAVEDEC_MAX_LEVEL)) return EDGERT_ERR_PARAM;
    if (n < 1 || n > (INT32_MAX / 4)) return EDGERT_ERR_ARG;
    taps = edgert__wavelet_filters[wavelet].taps;
    len = n;
    total = 0;
    longest = 0;
    for (k = 0; k < level; k++) {
        len = dwt_len(len, taps);  /* grows towards taps - 1 when n < taps - 1 */
        if (len > longest) longest = len;
        total += len;  /* cD_k */
    }
    total += len;      /* cA_L */
    *n_coeffs = total;
    *scratch_bytes = 2 * (size_t)longest * sizeof(float);
    return EDGERT_OK;
}

int edgert_wavedec(const float *x, int32_t n, int32_t wavelet, int32_t level,
                   float *out, int32_t *lengths, void *scratch, size_t scratch_bytes)
{
    const edgert__wavelet_filter *w;
    int32_t lens[WAVEDEC_MAX_LEVEL + 2];
    int32_t offs[WAVEDEC_MAX_LEVEL + 2];
    int32_t total, k, cur_n;
    size_t need;
    float *buf[2];
    const float *cur;
    int st = edgert_wavedec_size(wavelet, level, n, &total, &need);
    if (st != EDGERT_OK) return st;
    if (x == NULL || out == NULL || lengths == NULL || scratch == NULL) return EDGERT_ERR_NULL;
    if (scratch_bytes < need) return EDGERT_ERR_SCRATCH;
    w = &edgert__wavelet_filters[wavelet];
    /* lens[0] = cA_L, lens[1] = cD_L, ..., lens[level] = cD_1 (pywt order) */
    cur_n = n;
    for (k = 1; k <= level; k++) {
        cur_n = dwt_len(cur_n, w->taps);
        lens[level - k + 1] = cur_n;
    }
    lens[0] = cur_n;
    offs[0] = 0;
    for (k = 1; k <= level; k++) offs[k] = offs[k - 1] + lens[k - 1];
    buf[0] = (float *)scratch;
    buf[1] = buf[0] + need / (2 * sizeof(float));
    cur = x;
    cur_n = n;
    for (k = 1; k <= level; k++) {
        float *ca = (k == level) ? out : buf[k & 1];
        dwt_level(cur, cur_n, w, ca, out + offs[level - k + 1]);
        cur = ca;
        cur_n = dwt_len(cur_n, w->taps);
    }
    for (k = 0; k <= level; k++) lengths[k] = lens[k];
    return EDGERT_OK;
}

/* ------------------------------------------------------- internal: spectral contract ---- */

int edgert__wavelet_check(const edgert_spectral_params *p, int32_t n)
{
    if (p == NULL) return EDGERT_ERR_NULL;
    if (!wavelet_ok(p->wavelet) || !level_ok(p->wavelet_level, WAVELET_MAX_LEVEL))
        return EDGERT_ERR_PARAM;
    if (n < ((int32_t)32 << p->wavelet_level)) return EDGERT_ERR_TOO_SHORT;
    return EDGERT_OK;
}

int32_t edgert__wavelet_features_per_axis(const edgert_spectral_params *p)
{
    if (p == NULL) return EDGERT_ERR_NULL;
    if (!level_ok(p->wavelet_level, WAVELET_MAX_LEVEL)) return EDGERT_ERR_PARAM;
    return WAVELET_FEATURES * (p->wavelet_level + 1);
}

size_t edgert__wavelet_scratch_floats(const edgert_spectral_params *p, int32_t n)
{
    (void)p;
    if (n < 1) return 0;
    /* two approximation buffers (ping-pong) and one detail buffer of the first level's size,
     * for the longest filter so that the size does not depend on the wavelet */
    return 3 * (size_t)dwt_len(n, EDGERT__WAVELET_MAX_TAPS);
}

int edgert__wavelet_axis(const edgert_spectral_params *p, const float *y, int32_t n,
                         float *out, float *scratch)
{
    const edgert__wavelet_filter *w;
    int32_t level, k, cur_n, len1;
    float *appr[2], *det;
    const float *cur;
    int st;
    if (p == NULL || y == NULL || out == NULL || scratch == NULL) return EDGERT_ERR_NULL;
    st = edgert__wavelet_check(p, n);
    if (st != EDGERT_OK) return st;
    for (k = 0; k < n; k++) {
        if (!isfinite(y[k])) return EDGERT_ERR_NONFINITE;
    }
    w = &edgert__wavelet_filters[p->wavelet];
    level = p->wavelet_level;
    len1 = dwt_len(n, EDGERT__WAVELET_MAX_TAPS);
    appr[0] = scratch;
    appr[1] = scratch + len1;
    det = scratch + 2 * (size_t)len1;
    cur = y;
    cur_n = n;
    for (k = 1; k <= level; k++) {
        float *ca = appr[k & 1];
        const int32_t m = dwt_len(cur_n, w->taps);
        dwt_level(cur, cur_n, w, ca, det);
        /* cD_k goes to slot level - k + 1 of [cA_L, cD_L, ..., cD_1] */
        coeff_features(det, m, out + (size_t)WAVELET_FEATURES * (size_t)(level - k + 1));
        cur = ca;
        cur_n = m;
    }
    coeff_features(appr[level & 1], cur_n, out);
    return EDGERT_OK;
}
