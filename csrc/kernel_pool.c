/* kernel_pool.c - MAX_POOL_2D and AVERAGE_POOL_2D, int8 and float32 (TFLite reference
 * pooling: only in-image taps count; int8 average rounds half away from zero). */
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

int eg_pool_run(const eg_call *c)
{
    const edgert_pool_params *p = &c->op->p.pool;
    const edgert_tensor *xt = c->it[0], *yt = c->ot;
    const int32_t batches = xt->dims[0], ih = xt->dims[1], iw = xt->dims[2], ch = xt->dims[3];
    const int32_t oh = yt->dims[1], ow = yt->dims[2];
    const int is_max = c->op->type == EDGERT_OP_MAX_POOL_2D;
    const int is_i8 = c->op->dtype == EDGERT_DTYPE_INT8;
    int32_t b, oy, ox, d, fy, fx;
    for (b = 0; b < batches; b++)
        for (oy = 0; oy < oh; oy++)
            for (ox = 0; ox < ow; ox++) {
                const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
                const int32_t fy0 = y0 < 0 ? -y0 : 0, fx0 = x0 < 0 ? -x0 : 0;
                const int32_t fy1 = p->filter_h < ih - y0 ? p->filter_h : ih - y0;
                const int32_t fx1 = p->filter_w < iw - x0 ? p->filter_w : iw - x0;
                const int32_t count = (fy1 - fy0) * (fx1 - fx0);
                if (fy1 <= fy0 || fx1 <= fx0) return EDGERT_ERR_MODEL;   /* window outside image */
                for (d = 0; d < ch; d++) {
                    const size_t yi = (((size_t)b * oh + oy) * ow + ox) * ch + d;
                    if (is_i8) {
                        const int8_t *x = (const int8_t *)c->in[0];
                        int32_t acc = is_max ? -128 : 0;
                        for (fy = fy0; fy < fy1; fy++)
                            for (fx = fx0; fx < fx1; fx++) {
                                int32_t v = x[(((size_t)b * ih + y0 + fy) * iw + x0 + fx) * ch + d];
                                if (is_max) acc = v > acc ? v : acc;
                                else acc += v;
                            }
                        if (!is_max)
                            acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                        ((int8_t *)c->out)[yi] = (int8_t)eg_clamp(acc, p->a.act_min, p->a.act_max);
                    } else {
                        const float *x = (const float *)c->in[0];
                        float acc = is_max ? -3.402823466e+38f : 0.0f;
                        for (fy = fy0; fy < fy1; fy++)
                            for (fx = fx0; fx < fx1; fx++) {
                                float v = x[(((size_t)b * ih + y0 + fy) * iw + x0 + fx) * ch + d];
                                if (is_max) acc = v > acc ? v : acc;
                                else acc += v;
                            }
                        if (!is_max) acc = acc / (float)count;
                        ((float *)c->out)[yi] = eg_clampf(acc, p->a.f_min, p->a.f_max);
                    }
                }
            }
    return EDGERT_OK;
}
