/* kernel_fc.c - FULLY_CONNECTED, int8 (per-tensor or per-channel, TFLite Micro reference
 * arithmetic) and float32.  The int8 bias tensor arrives with the input offset already folded
 * in (b[o] + in_offset * sum_d w[o][d], exact in int32), so the inner loop is a plain int8 dot
 * product; weight zero points are 0 (TFLite int8 weights are symmetric). */
#if defined(__GNUC__) && !defined(__clang__) && !defined(__OPTIMIZE_SIZE__)
#pragma GCC optimize("O3")
#endif
#include "engine_internal.h"

int eg_fc_check(const eg_call *c)
{
    const edgert_fc_params *p = &c->op->p.fc;
    const int32_t dt = c->op->dtype;
    if (c->op->n_in != (dt == EDGERT_DTYPE_INT8 ? 5 : 3)) return EDGERT_ERR_MODEL;
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

int eg_fc_run(const eg_call *c)
{
    const edgert_fc_params *p = &c->op->p.fc;
    if (c->op->dtype == EDGERT_DTYPE_INT8)
        fc_s8(p, (const int8_t *)c->in[0], (const int8_t *)c->in[1], (const int32_t *)c->in[2],
              (const int32_t *)c->in[3], (const int32_t *)c->in[4], (int8_t *)c->out);
    else
        fc_f32(p, (const float *)c->in[0], (const float *)c->in[1], (const float *)c->in[2],
               (float *)c->out);
    return EDGERT_OK;
}
