/* kernel_pool.c - MAX_POOL_2D and AVERAGE_POOL_2D, int8 and float32 (TFLite reference
 * pooling: only in-image taps count; int8 average rounds half away from zero). */
#if defined(__GNUC__) && !defined(__clang__) && !defined(__OPTIMIZE_SIZE__)
#pragma GCC optimize("O3")
#endif
#include "engine_internal.h"

int eg_pool_check(const eg_call *c)
{
    const edgert_pool_params *p = &c->op->p.pool;
    const edgert_tensor *x = c->it[0], *y = c->ot;
    const int32_t dt = c->op->dtype;
    if (c->op->n_in != 1 || x->dtype != dt || y->dtype != dt) return EDGERT_ERR_MODEL;
    if (p->stride_h <= 0 || p->stride_w <= 0 || p->filter_h <= 0 || p->filter_w <= 0 ||
        p->pad_h < 0 || p->pad_w < 0 || p->pad_h > INT32_MAX / 4 || p->pad_w > INT32_MAX / 4)
        return EDGERT_ERR_MODEL;
    if (x->dims[0] != y->dims[0] || x->dims[3] != y->dims[3]) return EDGERT_ERR_MODEL;
    if ((int64_t)(y->dims[1] - 1) * p->stride_h + p->filter_h > INT32_MAX / 2 ||
        (int64_t)(y->dims[2] - 1) * p->stride_w + p->filter_w > INT32_MAX / 2)
        return EDGERT_ERR_MODEL;
    return eg_check_act(&p->a, dt);
}

/* Taps outer, channels inner (contiguous), in blocks of POOL_BLOCK channels: each channel
 * still visits its taps in (fy, fx) order, so float sums equal the reference loop's. */
#define POOL_BLOCK 64
int eg_pool_run(const eg_call *c)
{
    const edgert_pool_params *p = &c->op->p.pool;
    const edgert_tensor *xt = c->it[0], *yt = c->ot;
    const int32_t batches = xt->dims[0], ih = xt->dims[1], iw = xt->dims[2], ch = xt->dims[3];
    const int32_t oh = yt->dims[1], ow = yt->dims[2];
    const int is_max = c->op->type == EDGERT_OP_MAX_POOL_2D;
    const int is_i8 = c->op->dtype == EDGERT_DTYPE_INT8;
    int32_t iacc[POOL_BLOCK];
    float facc[POOL_BLOCK];
    int32_t b, oy, ox, d0, d, n, fy, fx;
    for (b = 0; b < batches; b++)
        for (oy = 0; oy < oh; oy++)
            for (ox = 0; ox < ow; ox++) {
                const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
                const int32_t fy0 = y0 < 0 ? -y0 : 0, fx0 = x0 < 0 ? -x0 : 0;
                const int32_t fy1 = p->filter_h < ih - y0 ? p->filter_h : ih - y0;
                const int32_t fx1 = p->filter_w < iw - x0 ? p->filter_w : iw - x0;
                const int32_t count = (fy1 - fy0) * (fx1 - fx0);
                const size_t ybase = (((size_t)b * oh + oy) * ow + ox) * ch;
                if (fy1 <= fy0 || fx1 <= fx0) return EDGERT_ERR_MODEL;   /* window outside image */
                for (d0 = 0; d0 < ch; d0 += POOL_BLOCK) {
                    n = ch - d0 < POOL_BLOCK ? ch - d0 : POOL_BLOCK;
                    for (d = 0; d < n; d++) {
                        iacc[d] = is_max ? -128 : 0;
                        facc[d] = is_max ? -3.402823466e+38f : 0.0f;
                    }
                    for (fy = fy0; fy < fy1; fy++)
                        for (fx = fx0; fx < fx1; fx++) {
                            const size_t xbase = (((size_t)b * ih + y0 + fy) * iw + x0 + fx) * ch + d0;
                            if (is_i8) {
                                const int8_t *x = (const int8_t *)c->in[0] + xbase;
                                if (is_max) for (d = 0; d < n; d++) iacc[d] = x[d] > iacc[d] ? x[d] : iacc[d];
                                else for (d = 0; d < n; d++) iacc[d] += x[d];
                            } else {
                                const float *x = (const float *)c->in[0] + xbase;
                                if (is_max) for (d = 0; d < n; d++) facc[d] = x[d] > facc[d] ? x[d] : facc[d];
                                else for (d = 0; d < n; d++) facc[d] += x[d];
                            }
                        }
                    if (is_i8) {
                        int8_t *y = (int8_t *)c->out + ybase + d0;
                        for (d = 0; d < n; d++) {
                            int32_t v = iacc[d];
                            if (!is_max) v = v > 0 ? (v + count / 2) / count : (v - count / 2) / count;
                            y[d] = (int8_t)eg_clamp(v, p->a.act_min, p->a.act_max);
                        }
                    } else {
                        float *y = (float *)c->out + ybase + d0;
                        for (d = 0; d < n; d++) {
                            float v = facc[d];
                            if (!is_max) v = v / (float)count;
                            y[d] = eg_clampf(v, p->a.f_min, p->a.f_max);
                        }
                    }
                }
            }
    return EDGERT_OK;
}
