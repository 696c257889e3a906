/*
 * flatten.c - the `raw` and `flatten` DSP blocks, batch form (all windows in one call).
 * raw: the window's values of the selected axes, interleaved, times scale-axes.
 * flatten: per axis the enabled statistics (mean, min, max, rms about zero, population std,
 * skewness, Fisher kurtosis), computed in double on the scaled values ("double" is the
 * working precision dsp_real of dsp_real.h: float in the microcontroller build).
 */
#include <float.h>
#include <math.h>

#include "edgert.h"
#include "dsp_real.h"
#include "window_internal.h"

static int check_common(const float *data, int32_t n_rows, int32_t row_stride,
                        const int32_t *axes, int32_t n_axes, const int32_t *starts,
                        int32_t n_windows, int32_t n_samples, const float *out)
{
    if (data == NULL || axes == NULL || starts == NULL || out == NULL)
        return EDGERT_ERR_NULL;
    if (n_samples < 1)
        return EDGERT_ERR_ARG;
    return edgert_check_windows(axes, n_axes, row_stride, starts, n_windows, n_rows, n_samples);
}

int edgert_raw_features_batch(const edgert_raw_params *p, const float *data, int32_t n_rows,
                              int32_t row_stride, const int32_t *axes, int32_t n_axes,
                              const int32_t *starts, int32_t n_windows, int32_t n_samples,
                              float *out, int32_t out_stride)
{
    int32_t w, t, a;
    dsp_real scale;
    int st;
    if (p == NULL)
        return EDGERT_ERR_NULL;
    st = check_common(data, n_rows, row_stride, axes, n_axes, starts, n_windows, n_samples, out);
    if (st != EDGERT_OK)
        return st;
    if (!isfinite(p->scale_axes))
        return EDGERT_ERR_PARAM;
    if ((int64_t)n_samples * n_axes > 2147483647)
        return EDGERT_ERR_OVERFLOW;
    if (out_stride < n_samples * n_axes)
        return EDGERT_ERR_ARG;
    scale = (dsp_real)p->scale_axes;
    for (w = 0; w < n_windows; w++) {
        const float *win = data + (size_t)starts[w] * (size_t)row_stride;
        float *o = out + (size_t)w * (size_t)out_stride;
        for (t = 0; t < n_samples; t++) {
            const float *row = win + (size_t)t * (size_t)row_stride;
            for (a = 0; a < n_axes; a++) {
                float v = row[axes[a]];
                if (!isfinite(v))
                    return EDGERT_ERR_NONFINITE;
                *o++ = (float)((dsp_real)v * scale);
            }
        }
    }
    return EDGERT_OK;
}

static int32_t flatten_per_axis(const edgert_flatten_params *p)
{
    return (p->average != 0) + (p->minimum != 0) + (p->maximum != 0) + (p->rms != 0) +
           (p->stdev != 0) + (p->skewness != 0) + (p->kurtosis != 0);
}

int edgert_flatten_check(const edgert_flatten_params *p, int32_t n_axes, int32_t *n_features)
{
    int32_t k;
    if (p == NULL || n_features == NULL)
        return EDGERT_ERR_NULL;
    if (n_axes < 1)
        return EDGERT_ERR_ARG;
    if (!isfinite(p->scale_axes))
        return EDGERT_ERR_PARAM;
    k = flatten_per_axis(p);
    if (k == 0)
        return EDGERT_ERR_PARAM;
    if ((int64_t)k * n_axes > 2147483647)
        return EDGERT_ERR_OVERFLOW;
    *n_features = k * n_axes;
    return EDGERT_OK;
}

int edgert_flatten_features_batch(const edgert_flatten_params *p, const float *data,
                                  int32_t n_rows, int32_t row_stride, const int32_t *axes,
                                  int32_t n_axes, const int32_t *starts, int32_t n_windows,
                                  int32_t n_samples, float *out, int32_t out_stride)
{
    int32_t w, t, a, nf;
    dsp_real scale;
    int st;
    st = edgert_flatten_check(p, n_axes, &nf);
    if (st != EDGERT_OK)
        return st;
    st = check_common(data, n_rows, row_stride, axes, n_axes, starts, n_windows, n_samples, out);
    if (st != EDGERT_OK)
        return st;
    if (out_stride < nf)
        return EDGERT_ERR_ARG;
    scale = (dsp_real)p->scale_axes;
    for (w = 0; w < n_windows; w++) {
        const float *win = data + (size_t)starts[w] * (size_t)row_stride;
        float *o = out + (size_t)w * (size_t)out_stride;
        for (a = 0; a < n_axes; a++) {
            const float *col = win + axes[a];
            dsp_real sum = DSP_REAL(0.0), sq = DSP_REAL(0.0), mn = DSP_REAL(0.0);
            dsp_real mx = DSP_REAL(0.0), mean, m2 = DSP_REAL(0.0), m3 = DSP_REAL(0.0);
            dsp_real m4 = DSP_REAL(0.0);
            dsp_real n = (dsp_real)n_samples;
            for (t = 0; t < n_samples; t++) {
                float f = col[(size_t)t * (size_t)row_stride];
                dsp_real v;
                if (!isfinite(f))
                    return EDGERT_ERR_NONFINITE;
                v = (dsp_real)f * scale;
                if (t == 0 || v < mn)
                    mn = v;
                if (t == 0 || v > mx)
                    mx = v;
                sum += v;
                sq += v * v;
            }
            mean = sum / n;
            for (t = 0; t < n_samples; t++) {
                dsp_real d = (dsp_real)col[(size_t)t * (size_t)row_stride] * scale - mean;
                dsp_real d2 = d * d;
                m2 += d2;
                m3 += d2 * d;
                m4 += d2 * d2;
            }
            m2 /= n;
            m3 /= n;
            m4 /= n;
#ifdef EDGERT_DSP_FLOAT32
            /* a constant axis: the float mean may round away from the value and leave a tiny
             * variance the reference (exact there) does not have */
            if (mn == mx) {
                mean = mn;
                m2 = m3 = m4 = DSP_REAL(0.0);
            }
#endif
            if (p->average)
                *o++ = (float)mean;
            if (p->minimum)
                *o++ = (float)mn;
            if (p->maximum)
                *o++ = (float)mx;
            if (p->rms)
                *o++ = (float)dsp_sqrt(sq / n);
            if (p->stdev)
                *o++ = (float)dsp_sqrt(m2);
            {
                /* scipy: NaN where m2 <= (eps*mean)^2; reported as 0 and -3 */
                dsp_real e = DSP_REAL(DBL_EPSILON) * mean;
                int zero = m2 <= e * e || m2 <= DSP_REAL(0.0);
                if (p->skewness)
                    *o++ = zero ? 0.0f : (float)(m3 / (m2 * dsp_sqrt(m2)));
                if (p->kurtosis)
                    *o++ = zero ? -3.0f : (float)(m4 / (m2 * m2) - DSP_REAL(3.0));
            }
        }
    }
    return EDGERT_OK;
}
