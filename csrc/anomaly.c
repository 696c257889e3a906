/* K-means anomaly scoring (learn block type `anomaly`), all windows of a recording per call.
 * Float32 arithmetic as Edge Impulse's SDK does it: scaled features in float, squared
 * differences summed (each step through double, as its pow() does), square root, minus the cluster's maxError; the running minimum starts
 * at 1000. Reentrant, no allocation. */
#include <math.h>
#include "edgert.h"

static int finite_f(float v) { return v == v && v - v == 0.0f; }

int edgert_kmeans_check(const edgert_kmeans_params *p, int32_t n_features)
{
    int32_t i;
    if (!p || !p->axes || !p->mean || !p->scale || !p->centers || !p->max_error)
        return EDGERT_ERR_NULL;
    if (p->n_axes < 1 || p->n_clusters < 1 || n_features < 1)
        return EDGERT_ERR_PARAM;
    for (i = 0; i < p->n_axes; i++) {
        if (p->axes[i] < 0 || p->axes[i] >= n_features) return EDGERT_ERR_PARAM;
        if (!finite_f(p->mean[i]) || !finite_f(p->scale[i]) || p->scale[i] == 0.0f)
            return EDGERT_ERR_PARAM;
    }
    for (i = 0; i < p->n_clusters; i++) {
        int32_t a;
        if (!finite_f(p->max_error[i])) return EDGERT_ERR_PARAM;
        for (a = 0; a < p->n_axes; a++)
            if (!finite_f(p->centers[(size_t)i * (size_t)p->n_axes + (size_t)a]))
                return EDGERT_ERR_PARAM;
    }
    return EDGERT_OK;
}

/* sum + d*d rounded to float. The SDK computes it in double (d*d is exact there: 48 bits)
 * and rounds the double sum to float. The microcontroller build (-DEDGERT_DSP_FLOAT32, no
 * double-precision FPU) uses one fused multiply-add instead: the exact sum rounded once to
 * float, which differs from the double-then-float result only when rounding to double lands
 * exactly halfway between two floats (see docs/mcu.md for how rare that is). */
static float accumulate_square(float sum, float d)
{
#ifdef EDGERT_DSP_FLOAT32
    return fmaf(d, d, sum);
#else
    return (float)((double)sum + (double)d * (double)d);
#endif
}

/* Scaled features of a window are kept on the stack for up to this many axes (the usual
 * case: a few RMS values); beyond it they are recomputed per cluster (same values, slower). */
#define KMEANS_STACK_AXES 64

static float scaled(const edgert_kmeans_params *p, const float *x, int32_t i)
{
    return (x[p->axes[i]] - p->mean[i]) / p->scale[i];
}

int edgert_kmeans_score_batch(const edgert_kmeans_params *p, const float *features,
                              int32_t n_windows, int32_t stride, float *scores)
{
    float z[KMEANS_STACK_AXES];
    int32_t w, i, c;
    int st, cached;
    if (!p || !features || !scores) return EDGERT_ERR_NULL;
    if (n_windows < 0 || stride < 1) return EDGERT_ERR_ARG;
    st = edgert_kmeans_check(p, stride);
    if (st != EDGERT_OK) return st;
    cached = p->n_axes <= KMEANS_STACK_AXES;
    for (w = 0; w < n_windows; w++) {
        const float *x = features + (size_t)w * (size_t)stride;
        float best = 1000.0f;
        for (i = 0; i < p->n_axes; i++) {
            float v = x[p->axes[i]];
            if (!finite_f(v)) return EDGERT_ERR_NONFINITE;
            if (cached) z[i] = scaled(p, x, i);
        }
        for (c = 0; c < p->n_clusters; c++) {
            const float *ctr = p->centers + (size_t)c * (size_t)p->n_axes;
            float sum = 0.0f, dist;
            for (i = 0; i < p->n_axes; i++) {
                /* the SDK's `dist += pow(x - c, 2)`: the square and the sum in double,
                 * stored back to float each step (bit-exact with it) */
                float d = (cached ? z[i] : scaled(p, x, i)) - ctr[i];
                sum = accumulate_square(sum, d);
            }
            dist = sqrtf(sum) - p->max_error[c];
            if (dist < best) best = dist;
        }
        scores[w] = best;
    }
    return EDGERT_OK;
}
