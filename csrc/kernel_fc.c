/* kernel_fc.c - FULLY_CONNECTED, int8 (per-tensor or per-channel, TFLite Micro reference
 * arithmetic) and float32.  The int8 bias tensor arrives with the input offset already folded
 * in (b[o] + in_offset * sum_d w[o][d], exact in int32), so the inner loop is a plain int8 dot
 * product; weight zero points are 0 (TFLite int8 weights are symmetric). */
#if defined(__GNUC__) && !defined(__clang__) && !defined(__OPTIMIZE_SIZE__)
#pragma GCC optimize("O3")
#endif
#include <string.h>
#include "engine_internal.h"

int eg_fc_check(const eg_call *c)
{
    const edgert_fc_params *p = &c->op->p.fc;
    const int32_t dt = c->op->dtype;
    if (dt == EDGERT_DTYPE_INT8 ? (c->op->n_in != 5 && c->op->n_in != 6) : (c->op->n_in != 3 && c->op->n_in != 4))
        return EDGERT_ERR_MODEL;
    if (dt == EDGERT_DTYPE_FLOAT32 && c->op->n_in == 4 &&
        (c->it[3]->dtype != EDGERT_DTYPE_FLOAT32 || ((int64_t)p->units + 7) / 8 * 8 * p->depth != eg_numel(c->it[3])))
        return EDGERT_ERR_MODEL;
    if (c->op->n_in == 6 && (c->it[5]->dtype != EDGERT_DTYPE_INT16 ||
                             ((int64_t)p->units + 3) / 4 * (((int64_t)p->depth + 1) / 2) * 8 != eg_numel(c->it[5])))
        return EDGERT_ERR_MODEL;
    if (p->rows <= 0 || p->depth <= 0 || p->units <= 0) return EDGERT_ERR_MODEL;
    if ((int64_t)p->rows * p->depth != eg_numel(c->it[0])) return EDGERT_ERR_MODEL;
    if ((int64_t)p->units * p->depth != eg_numel(c->it[1])) return EDGERT_ERR_MODEL;
    if ((int64_t)p->rows * p->units != eg_numel(c->ot)) return EDGERT_ERR_MODEL;
    if (eg_numel(c->it[2]) != p->units) return EDGERT_ERR_MODEL;
    if (c->it[0]->dtype != dt || c->it[1]->dtype != dt || c->ot->dtype != dt) return EDGERT_ERR_MODEL;
    if (dt == EDGERT_DTYPE_INT8) {
        if (c->it[2]->dtype != EDGERT_DTYPE_INT32 || c->it[3]->dtype != EDGERT_DTYPE_INT32 ||
            c->it[4]->dtype != EDGERT_DTYPE_INT32 || eg_numel(c->it[3]) != p->units ||
            eg_numel(c->it[4]) != p->units)
            return EDGERT_ERR_MODEL;
        if (eg_check_mult_shift(c->in[3], c->in[4], p->units)) return EDGERT_ERR_MODEL;
    } else if (c->it[2]->dtype != EDGERT_DTYPE_FLOAT32) {
        return EDGERT_ERR_MODEL;
    }
    return eg_check_act(&p->a, dt);
}

static void fc_s8(const edgert_fc_params *p, const int8_t *x, const int8_t *w,
                  const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *y)
{
    const int32_t depth = p->depth, units = p->units;
    const int32_t out_offset = p->a.out_offset, lo = p->a.act_min, hi = p->a.act_max;
    int32_t r, o, d;
    for (r = 0; r < p->rows; r++) {
        const int8_t *xr = x + (size_t)r * depth;
        for (o = 0; o < units; o++) {
            const int8_t *wo = w + (size_t)o * depth;
            int32_t acc = 0;
            for (d = 0; d < depth; d++) acc += (int32_t)wo[d] * (int32_t)xr[d];
            acc = eg_mbqm(acc + bias[o], mult[o], shift[o]) + out_offset;
            y[(size_t)r * units + o] = (int8_t)eg_clamp(acc, lo, hi);
        }
    }
}

/* Same arithmetic with 16-bit operands in a SIMD-friendly layout ("packed" weights, from the
 * compiler): outputs in groups of 4, depth in pairs; for group g and pair k the 8 int16 values
 * w[4g+j][2k], w[4g+j][2k+1] (j = 0..3), zero-padded. The input row is widened once into a
 * stack buffer; one 16-bit multiply-add of a group with the broadcast pair (x[2k], x[2k+1])
 * yields 4 partial sums, so no horizontal reductions are needed. Exact int32 arithmetic: the
 * result is the same as fc_s8. */
#ifdef EG_SSE2
#define EG_FC_SSE2 1
#endif

#ifdef EG_FC_SSE2
/* Requantize 4 accumulators at once, bit-exactly as eg_mbqm (multipliers >= 0, one common
 * right shift), + zero point, clamp. */
static void requant4_sse2(__m128i acc, const int32_t *bias, const int32_t *mult, int right,
                          int32_t out_offset, int32_t lo, int32_t hi, int8_t *y)
{
    const __m128i a = _mm_add_epi32(acc, _mm_loadu_si128((const __m128i *)(const void *)bias));
    const __m128i m = _mm_loadu_si128((const __m128i *)(const void *)mult);
    eg_store4_s8(eg_rdbpot4(eg_srdhm4_pos(a, m), right), out_offset, lo, hi, y);
}
#endif

/* y[o] = requant(sum_d w[o][d] * xw[d] + bias[o]) for all units, weights packed as above;
 * xw holds depth int16 values followed by one 0 (odd depths). depth <= EG_WIDE_MAX. */
/* Requantize the 4 accumulators of group g (vector path when the 4 share a right shift). */
static inline void finish_group(const int32_t *acc_in, int32_t g, int32_t units, const int32_t *bias,
                         const int32_t *mult, const int32_t *shift, int32_t out_offset, int32_t lo,
                         int32_t hi, int8_t *y)
{
    int32_t j;
#ifdef EG_FC_SSE2
    if (4 * g + 4 <= units && shift[4 * g] <= 0 && shift[4 * g] == shift[4 * g + 1] &&
        shift[4 * g] == shift[4 * g + 2] && shift[4 * g] == shift[4 * g + 3]) {
        requant4_sse2(_mm_loadu_si128((const __m128i *)(const void *)acc_in), bias + 4 * g, mult + 4 * g,
                      -shift[4 * g], out_offset, lo, hi, y + 4 * g);
        return;
    }
#endif
    for (j = 0; j < 4 && 4 * g + j < units; j++) {
        const int32_t o = 4 * g + j;
        const int32_t v = eg_mbqm_fast(acc_in[j] + bias[o], mult[o], shift[o]) + out_offset;
        y[o] = (int8_t)eg_clamp(v, lo, hi);
    }
}

void eg_matvec_packed(const int16_t *xw, int32_t depth, const int16_t *wp, int32_t units,
                      const int32_t *bias, const int32_t *mult, const int32_t *shift,
                      const edgert_act *a, int8_t *y)
{
    const int32_t pairs = (depth + 1) / 2, groups = (units + 3) / 4;
    const int32_t out_offset = a->out_offset, lo = a->act_min, hi = a->act_max;
    int32_t acc[8];
    int32_t g, k;
#ifdef EG_FC_SSE2
    __m128i xb[EG_WIDE_MAX / 2];   /* each input pair broadcast to the 4 lanes */
    for (k = 0; k < pairs; k++) {
        int32_t xx;
        memcpy(&xx, xw + 2 * k, 4);
        xb[k] = _mm_set1_epi32(xx);
    }
    /* two groups (8 outputs) per pass share each broadcast input pair */
    for (g = 0; g + 1 < groups; g += 2) {
        const int16_t *w0 = wp + (size_t)g * pairs * 8, *w1 = w0 + (size_t)pairs * 8;
        __m128i a0 = _mm_setzero_si128(), a1 = _mm_setzero_si128();
        for (k = 0; k < pairs; k++) {
            const __m128i xk = xb[k];
            a0 = _mm_add_epi32(a0, _mm_madd_epi16(_mm_loadu_si128((const __m128i *)(const void *)(w0 + 8 * k)), xk));
            a1 = _mm_add_epi32(a1, _mm_madd_epi16(_mm_loadu_si128((const __m128i *)(const void *)(w1 + 8 * k)), xk));
        }
        _mm_storeu_si128((__m128i *)(void *)acc, a0);
        _mm_storeu_si128((__m128i *)(void *)(acc + 4), a1);
        finish_group(acc, g, units, bias, mult, shift, out_offset, lo, hi, y);
        finish_group(acc + 4, g + 1, units, bias, mult, shift, out_offset, lo, hi, y);
    }
    for (; g < groups; g++) {
        const int16_t *w0 = wp + (size_t)g * pairs * 8;
        __m128i a0 = _mm_setzero_si128();
        for (k = 0; k < pairs; k++)
            a0 = _mm_add_epi32(a0, _mm_madd_epi16(_mm_loadu_si128((const __m128i *)(const void *)(w0 + 8 * k)), xb[k]));
        _mm_storeu_si128((__m128i *)(void *)acc, a0);
        finish_group(acc, g, units, bias, mult, shift, out_offset, lo, hi, y);
    }
#else
    for (g = 0; g < groups; g++) {
        const int16_t *wg = wp + (size_t)g * pairs * 8;
        int32_t j;
        acc[0] = acc[1] = acc[2] = acc[3] = 0;
        for (k = 0; k < pairs; k++) {
            const int32_t x0 = xw[2 * k], x1 = xw[2 * k + 1];
            for (j = 0; j < 4; j++)
                acc[j] += (int32_t)wg[8 * k + 2 * j] * x0 + (int32_t)wg[8 * k + 2 * j + 1] * x1;
        }
        finish_group(acc, g, units, bias, mult, shift, out_offset, lo, hi, y);
    }
#endif
}

static void fc_s8_packed(const edgert_fc_params *p, const int8_t *x, const int16_t *wp,
                         const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *y)
{
    int16_t xw[EG_WIDE_MAX + 2];
    int32_t r, d;
    for (r = 0; r < p->rows; r++) {
        const int8_t *xr = x + (size_t)r * p->depth;
        for (d = 0; d < p->depth; d++) xw[d] = xr[d];
        xw[p->depth] = 0;
        eg_matvec_packed(xw, p->depth, wp, p->units, bias, mult, shift, &p->a, y + (size_t)r * p->units);
    }
}

static void fc_f32(const edgert_fc_params *p, const float *x, const float *w,
                   const float *bias, float *y)
{
    const int32_t depth = p->depth, units = p->units;
    int32_t r, o, d;
    for (r = 0; r < p->rows; r++) {
        const float *xr = x + (size_t)r * depth;
        for (o = 0; o < units; o++) {
            const float *wo = w + (size_t)o * depth;
            float total = 0.0f;
            for (d = 0; d < depth; d++) total += xr[d] * wo[d];
            y[(size_t)r * units + o] = eg_clampf(total + bias[o], p->a.f_min, p->a.f_max);
        }
    }
}

/* float32 with the weights transposed ([depth][units], from the compiler): outputs in blocks
 * of FC_BLOCK accumulators, each still summing x[d] * w[o][d] in d order, so the results equal
 * fc_f32's while the inner loop (over outputs) vectorizes. */
/* Output blocks of 8: the weights are stored [depth][units rounded up to 8] (zero columns),
 * so the inner loop has a fixed trip count and compiles to straight SIMD. */
void eg_matvec_f32_transposed(const float *x, int32_t depth, const float *wt, int32_t units,
                              const float *bias, float lo, float hi, float *y)
{
    const int32_t stride = (units + 7) / 8 * 8;
    float acc[8];
    int32_t o0, o, d;
    for (o0 = 0; o0 < units; o0 += 8) {
        const int32_t n = units - o0 < 8 ? units - o0 : 8;
        for (o = 0; o < 8; o++) acc[o] = 0.0f;
        for (d = 0; d < depth; d++) {
            const float xd = x[d];
            const float *w = wt + (size_t)d * stride + o0;
            for (o = 0; o < 8; o++) acc[o] += xd * w[o];
        }
        for (o = 0; o < n; o++) y[o0 + o] = eg_clampf(acc[o] + bias[o0 + o], lo, hi);
    }
}

static void fc_f32_transposed(const edgert_fc_params *p, const float *x, const float *wt,
                              const float *bias, float *y)
{
    int32_t r;
    for (r = 0; r < p->rows; r++)
        eg_matvec_f32_transposed(x + (size_t)r * p->depth, p->depth, wt, p->units, bias, p->a.f_min,
                                 p->a.f_max, y + (size_t)r * p->units);
}

int eg_fc_run(const eg_call *c)
{
    const edgert_fc_params *p = &c->op->p.fc;
    if (c->op->dtype == EDGERT_DTYPE_INT8 && c->op->n_in == 6 && p->depth <= EG_WIDE_MAX)
        fc_s8_packed(p, (const int8_t *)c->in[0], (const int16_t *)c->in[5], (const int32_t *)c->in[2],
                     (const int32_t *)c->in[3], (const int32_t *)c->in[4], (int8_t *)c->out);
    else if (c->op->dtype == EDGERT_DTYPE_INT8)
        fc_s8(p, (const int8_t *)c->in[0], (const int8_t *)c->in[1], (const int32_t *)c->in[2],
              (const int32_t *)c->in[3], (const int32_t *)c->in[4], (int8_t *)c->out);
    else if (c->op->n_in == 4)
        fc_f32_transposed(p, (const float *)c->in[0], (const float *)c->in[3], (const float *)c->in[2],
                          (float *)c->out);
    else
        fc_f32(p, (const float *)c->in[0], (const float *)c->in[1], (const float *)c->in[2],
               (float *)c->out);
    return EDGERT_OK;
}
