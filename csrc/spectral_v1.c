/*
 * Spectral Analysis block, implementation version 1 (legacy), per axis: the ORIGINAL v1
 * algorithm (processing-blocks before Aug 2022, which the C++ SDK implements and which v1
 * impulses were trained with; see the spec's "Version 1 (legacy)"):
 *   1. x = raw * scale; x -= mean(x)
 *   2. Butterworth low/high-pass (type set and order > 0), causal, zero initial state
 *      (lfilter(b, a) of butter(order, 2 fc / fs); run as the equivalent cascade of
 *      second-order sections in double); no mean removal after the filter
 *   3. RMS of the filtered signal
 *   4. peaks of (2/N)|FFT_N(first N samples)| over bins 0..N/2-1 (peakutils.indexes with
 *      thres=0: strict rise then fall, plateaus resolved to their middle, value above the
 *      global minimum), kept when >= threshold, sorted by magnitude (descending, stable),
 *      first `count`, padded with (0, 0); the frequency of bin k is linspace(0, fs/2, N/2)[k]
 *      = k (fs/2) / (N/2 - 1) (the original block's quirk)
 *   5. spectral power: scipy.signal.periodogram(first min(L, N) samples, fs, nfft=N) with its
 *      defaults (constant detrend, boxcar, density, one-sided), the mean of the bins with
 *      e_i <= f_k < e_i+1 (0 when none) divided by 10, for each pair of consecutive edges.
 * Output per axis: [RMS, f1, h1, ..., fK, hK, P_1/10, ..., P_(E-1)/10].
 * "double" below is the working precision dsp_real (dsp_real.h): double on the host, float in
 * the microcontroller build, where only the filter design (per call) stays in double.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "spectral_internal.h"

#define V1_MAX_SECTIONS 4  /* order <= 8 */

#define V1_MAX_PEAKS (1 << 20)

int32_t edgert__v1_features_per_axis(const edgert_spectral_params *p)
{
    int32_t edges;
    if (p == NULL) return EDGERT_ERR_NULL;
    if (p->peaks_count < 0 || p->peaks_count > V1_MAX_PEAKS || p->n_power_edges < 0 ||
        p->n_power_edges > EDGERT_SPECTRAL_MAX_EDGES)
        return EDGERT_ERR_PARAM;
    edges = p->n_power_edges > 1 ? p->n_power_edges - 1 : 0;
    return 1 + 2 * p->peaks_count + edges;
}

/* floats needed for edgert_rfft's scratch of length N, or 0 when N is not supported */
static size_t rfft_scratch_floats(int32_t fft_length)
{
    size_t bytes = 0;
    if (edgert_rfft_scratch_size(fft_length, &bytes) != EDGERT_OK) return 0;
    return (bytes + sizeof(float) - 1) / sizeof(float);
}

/* Scratch layout (floats): y[n] | frame[N] | re[N/2+1] | im[N/2+1] | pad(4) | rfft scratch */
size_t edgert__v1_scratch_floats(const edgert_spectral_params *p, int32_t n)
{
    size_t nfft;
    if (p == NULL || n < 1 || p->fft_length < 2) return 0;
    nfft = (size_t)p->fft_length;
    return (size_t)n + nfft + 2 * (nfft / 2 + 1) + 4 + rfft_scratch_floats(p->fft_length);
}

/* Candidate ordering: larger magnitude first, ties by bin (a stable descending sort). */
static int peak_before(const float *mag, float a, float b)
{
    const int32_t ia = (int32_t)a, ib = (int32_t)b;
    if (mag[ia] != mag[ib]) return mag[ia] > mag[ib];
    return ia < ib;
}

/* Sift idx[root] down a heap of m entries whose top is the LAST one in output order. */
static void sift_peak(float *idx, int32_t root, int32_t m, const float *mag)
{
    for (;;) {
        int32_t child = 2 * root + 1;
        float t;
        if (child >= m) return;
        if (child + 1 < m && peak_before(mag, idx[child], idx[child + 1])) child++;
        if (!peak_before(mag, idx[root], idx[child])) return;
        t = idx[root]; idx[root] = idx[child]; idx[child] = t;
        root = child;
    }
}

/* Heapsort of bin indices (held as exact small floats) into peak_before order: O(m log m). */
static void sort_peaks(float *idx, int32_t m, const float *mag)
{
    int32_t i;
    for (i = m / 2 - 1; i >= 0; i--) sift_peak(idx, i, m, mag);
    for (i = m - 1; i > 0; i--) {
        const float t = idx[0];
        idx[0] = idx[i];
        idx[i] = t;
        sift_peak(idx, 0, i, mag);
    }
}

/* peakutils.indexes(mag, thres=0, min_dist=1) on m values: writes the peak bins (ascending)
 * into idx as floats and returns their count. dy: m-1 floats of workspace. */
int32_t edgert__v1_peak_indexes(const float *mag, int32_t m, float *dy, float *idx)
{
    int32_t i, zeros = 0, count = 0;
    float lo;
    if (m < 3) return 0;
    lo = mag[0];
    for (i = 1; i < m; i++) {
        if (mag[i] < lo) lo = mag[i];
    }
    for (i = 0; i + 1 < m; i++) {
        dy[i] = (float)((mag[i + 1] > mag[i]) - (mag[i + 1] < mag[i]));
        zeros += dy[i] == 0.0f;
    }
    if (zeros == m - 1) return 0;  /* totally flat */
    /* fill every run of zero differences (plateau) from its non-zero neighbours */
    i = 0;
    while (i < m - 1) {
        int32_t s, e, k;
        if (dy[i] != 0.0f) { i++; continue; }
        s = i;
        while (i < m - 1 && dy[i] == 0.0f) i++;
        e = i - 1;
        if (s == 0) {
            for (k = s; k <= e; k++) dy[k] = dy[e + 1];
        } else if (e == m - 2) {
            for (k = s; k <= e; k++) dy[k] = dy[s - 1];
        } else {
            /* k < the run's middle (s + e) / 2, exactly, in integers */
            const float left = dy[s - 1], right = dy[e + 1];
            for (k = s; k <= e; k++) dy[k] = (2 * k < s + e) ? left : right;
        }
    }
    for (i = 1; i + 1 < m; i++) {
        if (dy[i] < 0.0f && dy[i - 1] > 0.0f && mag[i] > lo) idx[count++] = (float)i;
    }
    return count;
}

/* A bound t (a threshold or band edge, double in the parameters) in the working precision,
 * such that for every value x of that precision x >= result exactly when x >= t, and
 * x < result exactly when x < t: t itself in double, the smallest float >= t in float. */
static dsp_real ceil_real(double t)
{
#ifdef EDGERT_DSP_FLOAT32
    float f = (float)t;
    if ((double)f < t) f = nextafterf(f, INFINITY);
    return f;
#else
    return t;
#endif
}

static int check_params(const edgert_spectral_params *p, int32_t n)
{
    int32_t nfft;
    if (n < 1) return EDGERT_ERR_ARG;
    nfft = p->fft_length;
    if (nfft < 2 || (nfft & (nfft - 1)) != 0) return EDGERT_ERR_PARAM;
    if (edgert__v1_features_per_axis(p) < 0) return EDGERT_ERR_PARAM;
    if (!(p->sampling_freq > 0.0) || !isfinite(p->sampling_freq) || !isfinite(p->scale_axes) ||
        !isfinite(p->peaks_threshold))
        return EDGERT_ERR_PARAM;
    return EDGERT_OK;
}

int edgert__v1_axis(const edgert_spectral_params *p, const float *x, int32_t n, float *out,
                    float *scratch)
{
    double design[6 * V1_MAX_SECTIONS];
    dsp_real sos[6 * V1_MAX_SECTIONS];
    dsp_real state[2 * V1_MAX_SECTIONS];
    int32_t n_sections = 0, nfft, half, n0, i, k, n_peaks, kept;
    size_t rfft_bytes = 0;
    float *y, *frame, *re, *im, *fft_scratch;
    uintptr_t addr;
    dsp_real sum, mean, fs, acc;
    float *o = out, scale_f;
    int st;

    if (p == NULL || x == NULL || out == NULL || scratch == NULL) return EDGERT_ERR_NULL;
    st = check_params(p, n);
    if (st != EDGERT_OK) return st;
    nfft = p->fft_length;
    half = nfft / 2;
    st = edgert_rfft_scratch_size(nfft, &rfft_bytes);
    if (st != EDGERT_OK) return st;
    fs = (dsp_real)p->sampling_freq;

    y = scratch;
    frame = y + n;
    re = frame + nfft;
    im = re + half + 1;
    addr = (uintptr_t)(im + half + 1);
    addr = (addr + 15u) & ~(uintptr_t)15u;  /* 16-byte aligned for the FFT's tables */
    fft_scratch = (float *)addr;

    if (p->filter_type != EDGERT_FILTER_NONE && p->filter_order > 0) {
        if (p->filter_type != EDGERT_FILTER_LOW && p->filter_type != EDGERT_FILTER_HIGH)
            return EDGERT_ERR_PARAM;
        if (p->filter_order > 2 * V1_MAX_SECTIONS) return EDGERT_ERR_PARAM;
        st = edgert__butter_sos(p->filter_type, p->filter_order, (double)p->filter_cutoff,
                                p->sampling_freq, design);
        if (st != EDGERT_OK) return st;
        n_sections = p->filter_order / 2;
        for (i = 0; i < 6 * n_sections; i++) sos[i] = (dsp_real)design[i];
    }

    /* 1. scale in float32 like the reference (float32 data times the scale), remove the mean
     *    (double accumulation) */
    scale_f = (float)p->scale_axes;
    sum = DSP_REAL(0.0);
    for (i = 0; i < n; i++) {
        if (!isfinite(x[i])) return EDGERT_ERR_NONFINITE;
        sum += (dsp_real)(x[i] * scale_f);
    }
    mean = sum / (dsp_real)n;
    /* 2. causal Butterworth, zero initial state, transposed direct form II in double */
    memset(state, 0, sizeof state);
    for (i = 0; i < n; i++) {
        dsp_real v = (dsp_real)(x[i] * scale_f) - mean;
        for (k = 0; k < n_sections; k++) {
            const dsp_real *s = sos + 6 * k;
            dsp_real *z = state + 2 * k;
            const dsp_real w = s[0] * v + z[0];
            z[0] = s[1] * v - s[4] * w + z[1];
            z[1] = s[2] * v - s[5] * w;
            v = w;
        }
        y[i] = (float)v;
    }

    /* 3. RMS */
    acc = DSP_REAL(0.0);
    for (i = 0; i < n; i++) acc += (dsp_real)y[i] * (dsp_real)y[i];
    *o++ = (float)dsp_sqrt(acc / (dsp_real)n);

    /* 4. peaks of the magnitude spectrum of the first N samples */
    n0 = n < nfft ? n : nfft;
    memcpy(frame, y, (size_t)n0 * sizeof(float));
    for (i = n0; i < nfft; i++) frame[i] = 0.0f;
    st = edgert_rfft(frame, nfft, re, im, fft_scratch, rfft_bytes);
    if (st != EDGERT_OK) return st;
    for (k = 0; k < half; k++) {  /* frame[0..half-1] := magnitudes */
        const dsp_real a = (dsp_real)re[k], b = (dsp_real)im[k];
        frame[k] = (float)(DSP_REAL(2.0) / (dsp_real)nfft * dsp_sqrt(a * a + b * b));
    }
    n_peaks = edgert__v1_peak_indexes(frame, half, re, im);
    kept = 0;
    {
        const dsp_real threshold = ceil_real(p->peaks_threshold);
        for (i = 0; i < n_peaks; i++) {  /* threshold, keeping ascending bin order */
            if ((dsp_real)frame[(int32_t)im[i]] >= threshold) im[kept++] = im[i];
        }
    }
    sort_peaks(im, kept, frame);
    for (i = 0; i < p->peaks_count; i++) {
        if (i < kept) {
            const int32_t b = (int32_t)im[i];
            *o++ = (float)((dsp_real)b * (fs / DSP_REAL(2.0)) / (dsp_real)(half - 1));
            *o++ = frame[b];
        } else {
            *o++ = 0.0f;
            *o++ = 0.0f;
        }
    }

    /* 5. periodogram of the first min(L, N) samples (their own mean removed), nfft = N */
    if (p->n_power_edges > 1) {
        dsp_real seg_mean = DSP_REAL(0.0);
        const dsp_real scale = DSP_REAL(1.0) / (fs * (dsp_real)n0);
        for (i = 0; i < n0; i++) seg_mean += (dsp_real)y[i];
        seg_mean /= (dsp_real)n0;
        for (i = 0; i < n0; i++) frame[i] = (float)((dsp_real)y[i] - seg_mean);
        for (i = n0; i < nfft; i++) frame[i] = 0.0f;
        st = edgert_rfft(frame, nfft, re, im, fft_scratch, rfft_bytes);
        if (st != EDGERT_OK) return st;
        for (i = 0; i + 1 < p->n_power_edges; i++) {
            const dsp_real lo = ceil_real(p->power_edges[i]);
            const dsp_real hi = ceil_real(p->power_edges[i + 1]);
            dsp_real total = DSP_REAL(0.0);
            int32_t count = 0;
            for (k = 0; k <= half; k++) {
                const dsp_real f = (dsp_real)k * fs / (dsp_real)nfft;
                if (f >= lo && f < hi) {
                    const dsp_real a = (dsp_real)re[k], b = (dsp_real)im[k];
                    dsp_real pk = (a * a + b * b) * scale;
                    if (k != 0 && k != half) pk *= DSP_REAL(2.0);
                    total += pk;
                    count++;
                }
            }
            *o++ = count ? (float)(total / (dsp_real)count / DSP_REAL(10.0)) : 0.0f;
        }
    }
    return EDGERT_OK;
}
