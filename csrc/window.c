/* Sliding-window arithmetic, int8 quantization of model I/O, polyphase resampling.
 * Reentrant, no allocation. */
#include <math.h>
#include "edgert.h"
#include "window_internal.h"

static int finite_f(float v) { return v == v && v - v == 0.0f; }

int edgert_window_count(int64_t n_rows, int32_t window, int32_t stride, int32_t zero_pad,
                        int64_t *count)
{
    if (!count) return EDGERT_ERR_NULL;
    if (n_rows < 0 || window < 1 || stride < 1) return EDGERT_ERR_ARG;
    if (n_rows >= window)
        *count = (n_rows - window) / stride + 1;
    else
        *count = zero_pad ? 1 : 0;
    return EDGERT_OK;
}

int edgert_check_windows(const int32_t *axes, int32_t n_axes, int32_t row_stride,
                         const int32_t *starts, int32_t n_windows, int32_t n_rows,
                         int32_t n_samples)
{
    int32_t a, w;
    if (n_axes < 1 || row_stride < 1 || n_rows < 0 || n_windows < 0)
        return EDGERT_ERR_ARG;
    for (a = 0; a < n_axes; a++)
        if (axes[a] < 0 || axes[a] >= row_stride)
            return EDGERT_ERR_ARG;
    for (w = 0; w < n_windows; w++)
        if (starts[w] < 0 || starts[w] > n_rows - n_samples)
            return EDGERT_ERR_ARG;
    return EDGERT_OK;
}

int edgert_quantize_int8(const float *in, size_t n, float scale, int32_t zero_point,
                         int8_t *out)
{
    size_t i;
    if (!in || !out) return EDGERT_ERR_NULL;
    if (!finite_f(scale) || scale <= 0.0f || zero_point < -128 || zero_point > 127)
        return EDGERT_ERR_PARAM;
    for (i = 0; i < n; i++) {
        float v = in[i], r;
        long q;
        if (!finite_f(v)) return EDGERT_ERR_NONFINITE;
        r = roundf(v / scale); /* half away from zero */
        if (r > 1000.0f) r = 1000.0f;
        if (r < -1000.0f) r = -1000.0f;
        q = (long)r + zero_point;
        if (q > 127) q = 127;
        if (q < -128) q = -128;
        out[i] = (int8_t)q;
    }
    return EDGERT_OK;
}

int edgert_dequantize_int8(const int8_t *in, size_t n, float scale, int32_t zero_point,
                           float *out)
{
    size_t i;
    if (!in || !out) return EDGERT_ERR_NULL;
    if (!finite_f(scale) || zero_point < -128 || zero_point > 127) return EDGERT_ERR_PARAM;
    for (i = 0; i < n; i++)
        out[i] = (float)((int32_t)in[i] - zero_point) * scale;
    return EDGERT_OK;
}

int edgert_resample_poly(const float *taps, int32_t n_taps, int32_t up, int32_t down,
                         const float *in, int32_t n_in, int32_t n_axes,
                         float *out, int32_t n_out)
{
    int32_t m, a, half;
    int64_t expect;
    if (!taps || !in || !out) return EDGERT_ERR_NULL;
    if (n_taps < 1 || (n_taps % 2) == 0 || up < 1 || down < 1 || n_in < 1 || n_axes < 1)
        return EDGERT_ERR_ARG;
    expect = ((int64_t)n_in * up + down - 1) / down;
    if ((int64_t)n_out != expect) return EDGERT_ERR_OUTPUT;
    half = (n_taps - 1) / 2;
    for (m = 0; m < n_out; m++) {
        int64_t t = (int64_t)m * down + half;   /* position in the upsampled signal */
        int64_t j0 = t % up;                    /* first tap that hits a real sample */
        for (a = 0; a < n_axes; a++) {
            double acc = 0.0;
            int64_t j;
            for (j = j0; j < n_taps; j += up) {
                int64_t idx = (t - j) / up;
                if (idx < 0) break;
                if (idx >= n_in) continue;
                acc += (double)taps[j] * (double)in[idx * n_axes + a];
            }
            out[(size_t)m * (size_t)n_axes + (size_t)a] = (float)acc;
        }
    }
    return EDGERT_OK;
}
