/* kernel_conv.c - CONV_2D (grouped) and DEPTHWISE_CONV_2D, int8 per-channel (TFLite Micro
 * ConvPerChannel / DepthwiseConvPerChannel arithmetic) and float32.  NHWC input, OHWI filter
 * (depthwise: 1HWO with oc = ic * multiplier + m); taps outside the image are skipped. */
#if defined(__GNUC__) && !defined(__clang__) && !defined(__OPTIMIZE_SIZE__)
#pragma GCC optimize("O3")
#endif
#include "engine_internal.h"

static int conv_common_check(const eg_call *c, int depthwise)
{
    const edgert_conv_params *p = &c->op->p.conv;
    const int32_t dt = c->op->dtype;
    const edgert_tensor *x = c->it[0], *w = c->it[1], *y = c->ot;
    int32_t oc = y->dims[3];
    if (c->op->n_in != (dt == EDGERT_DTYPE_INT8 ? 5 : 3)) return EDGERT_ERR_MODEL;
    if (x->dtype != dt || w->dtype != dt || y->dtype != dt) return EDGERT_ERR_MODEL;
    if (p->stride_h <= 0 || p->stride_w <= 0 || p->dil_h <= 0 || p->dil_w <= 0) return EDGERT_ERR_MODEL;
    if (p->pad_h < 0 || p->pad_w < 0) return EDGERT_ERR_MODEL;
    if (x->dims[0] != y->dims[0] || oc <= 0) return EDGERT_ERR_MODEL;
    if (depthwise) {
        if (w->dims[0] != 1 || w->dims[3] != oc || p->depth_multiplier <= 0 ||
            (int64_t)x->dims[3] * p->depth_multiplier != oc)
            return EDGERT_ERR_MODEL;
    } else {
        if (w->dims[0] != oc || w->dims[3] <= 0 || x->dims[3] % w->dims[3] != 0) return EDGERT_ERR_MODEL;
        if (oc % (x->dims[3] / w->dims[3]) != 0) return EDGERT_ERR_MODEL;
    }
    if (eg_numel(c->it[2]) != oc) return EDGERT_ERR_MODEL;
    if (dt == EDGERT_DTYPE_INT8) {
        if (c->it[2]->dtype != EDGERT_DTYPE_INT32 || c->it[3]->dtype != EDGERT_DTYPE_INT32 ||
            c->it[4]->dtype != EDGERT_DTYPE_INT32 || eg_numel(c->it[3]) != oc ||
            eg_numel(c->it[4]) != oc)
            return EDGERT_ERR_MODEL;
        if (eg_check_mult_shift(c->in[3], c->in[4], oc)) return EDGERT_ERR_MODEL;
    } else if (c->it[2]->dtype != EDGERT_DTYPE_FLOAT32) {
        return EDGERT_ERR_MODEL;
    }
    /* Index arithmetic must stay inside int32 (taps are bounds-checked at run time). */
    if ((int64_t)(y->dims[1] - 1) * p->stride_h + (int64_t)(w->dims[1] - 1) * p->dil_h > INT32_MAX / 2 ||
        (int64_t)(y->dims[2] - 1) * p->stride_w + (int64_t)(w->dims[2] - 1) * p->dil_w > INT32_MAX / 2 ||
        p->pad_h > INT32_MAX / 4 || p->pad_w > INT32_MAX / 4)
        return EDGERT_ERR_MODEL;
    return eg_check_act(&c->op->p.conv.a, dt);
}

int eg_conv_check(const eg_call *c) { return conv_common_check(c, 0); }
int eg_dwconv_check(const eg_call *c) { return conv_common_check(c, 1); }

int eg_conv_run(const eg_call *c)
{
    const edgert_conv_params *p = &c->op->p.conv;
    const edgert_tensor *xt = c->it[0], *wt = c->it[1], *yt = c->ot;
    const int32_t batches = xt->dims[0], ih = xt->dims[1], iw = xt->dims[2], ic = xt->dims[3];
    const int32_t kh = wt->dims[1], kw = wt->dims[2], fic = wt->dims[3];
    const int32_t oh = yt->dims[1], ow = yt->dims[2], oc = yt->dims[3];
    const int32_t groups = ic / fic, per_group = oc / groups;
    int32_t b, oy, ox, o, fy, fx, i;
    if (c->op->dtype == EDGERT_DTYPE_INT8) {
        const int8_t *x = (const int8_t *)c->in[0], *w = (const int8_t *)c->in[1];
        const int32_t *bias = (const int32_t *)c->in[2], *mult = (const int32_t *)c->in[3];
        const int32_t *shift = (const int32_t *)c->in[4];
        const int32_t in_off = p->a.in_offset, out_off = p->a.out_offset;
        int8_t *y = (int8_t *)c->out;
        for (b = 0; b < batches; b++)
            for (oy = 0; oy < oh; oy++)
                for (ox = 0; ox < ow; ox++) {
                    const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
                    for (o = 0; o < oc; o++) {
                        const int32_t g = o / per_group;
                        int32_t acc = 0;
                        for (fy = 0; fy < kh; fy++) {
                            const int32_t iy = y0 + p->dil_h * fy;
                            if (iy < 0 || iy >= ih) continue;
                            for (fx = 0; fx < kw; fx++) {
                                const int32_t ix = x0 + p->dil_w * fx;
                                if (ix < 0 || ix >= iw) continue;
                                const int8_t *xp = x + (((size_t)b * ih + iy) * iw + ix) * ic + (size_t)g * fic;
                                const int8_t *wp = w + (((size_t)o * kh + fy) * kw + fx) * fic;
                                for (i = 0; i < fic; i++)
                                    acc += (int32_t)wp[i] * ((int32_t)xp[i] + in_off);
                            }
                        }
                        acc = eg_mbqm(acc + bias[o], mult[o], shift[o]) + out_off;
                        y[(((size_t)b * oh + oy) * ow + ox) * oc + o] =
                            (int8_t)eg_clamp(acc, p->a.act_min, p->a.act_max);
                    }
                }
    } else {
        const float *x = (const float *)c->in[0], *w = (const float *)c->in[1];
        const float *bias = (const float *)c->in[2];
        float *y = (float *)c->out;
        for (b = 0; b < batches; b++)
            for (oy = 0; oy < oh; oy++)
                for (ox = 0; ox < ow; ox++) {
                    const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
                    for (o = 0; o < oc; o++) {
                        const int32_t g = o / per_group;
                        float total = 0.0f;
                        for (fy = 0; fy < kh; fy++) {
                            const int32_t iy = y0 + p->dil_h * fy;
                            if (iy < 0 || iy >= ih) continue;
                            for (fx = 0; fx < kw; fx++) {
                                const int32_t ix = x0 + p->dil_w * fx;
                                if (ix < 0 || ix >= iw) continue;
                                const float *xp = x + (((size_t)b * ih + iy) * iw + ix) * ic + (size_t)g * fic;
                                const float *wp = w + (((size_t)o * kh + fy) * kw + fx) * fic;
                                for (i = 0; i < fic; i++) total += xp[i] * wp[i];
                            }
                        }
                        y[(((size_t)b * oh + oy) * ow + ox) * oc + o] =
                            eg_clampf(total + bias[o], p->a.f_min, p->a.f_max);
                    }
                }
    }
    return EDGERT_OK;
}

int eg_dwconv_run(const eg_call *c)
{
    const edgert_conv_params *p = &c->op->p.conv;
    const edgert_tensor *xt = c->it[0], *wt = c->it[1], *yt = c->ot;
    const int32_t batches = xt->dims[0], ih = xt->dims[1], iw = xt->dims[2], ic = xt->dims[3];
    const int32_t kh = wt->dims[1], kw = wt->dims[2];
    const int32_t oh = yt->dims[1], ow = yt->dims[2], oc = yt->dims[3];
    const int32_t mult_d = p->depth_multiplier;
    int32_t b, oy, ox, icx, m, fy, fx;
    for (b = 0; b < batches; b++)
        for (oy = 0; oy < oh; oy++)
            for (ox = 0; ox < ow; ox++) {
                const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
                for (icx = 0; icx < ic; icx++)
                    for (m = 0; m < mult_d; m++) {
                        const int32_t o = icx * mult_d + m;
                        const size_t yi = (((size_t)b * oh + oy) * ow + ox) * oc + o;
                        if (c->op->dtype == EDGERT_DTYPE_INT8) {
                            const int8_t *x = (const int8_t *)c->in[0], *w = (const int8_t *)c->in[1];
                            int32_t acc = 0;
                            for (fy = 0; fy < kh; fy++) {
                                const int32_t iy = y0 + p->dil_h * fy;
                                if (iy < 0 || iy >= ih) continue;
                                for (fx = 0; fx < kw; fx++) {
                                    const int32_t ix = x0 + p->dil_w * fx;
                                    if (ix < 0 || ix >= iw) continue;
                                    acc += (int32_t)w[((size_t)fy * kw + fx) * oc + o] *
                                           ((int32_t)x[(((size_t)b * ih + iy) * iw + ix) * ic + icx] + p->a.in_offset);
                                }
                            }
                            acc = eg_mbqm(acc + ((const int32_t *)c->in[2])[o], ((const int32_t *)c->in[3])[o],
                                          ((const int32_t *)c->in[4])[o]) + p->a.out_offset;
                            ((int8_t *)c->out)[yi] = (int8_t)eg_clamp(acc, p->a.act_min, p->a.act_max);
                        } else {
                            const float *x = (const float *)c->in[0], *w = (const float *)c->in[1];
                            float total = 0.0f;
                            for (fy = 0; fy < kh; fy++) {
                                const int32_t iy = y0 + p->dil_h * fy;
                                if (iy < 0 || iy >= ih) continue;
                                for (fx = 0; fx < kw; fx++) {
                                    const int32_t ix = x0 + p->dil_w * fx;
                                    if (ix < 0 || ix >= iw) continue;
                                    total += x[(((size_t)b * ih + iy) * iw + ix) * ic + icx] *
                                             w[((size_t)fy * kw + fx) * oc + o];
                                }
                            }
                            ((float *)c->out)[yi] = eg_clampf(total + ((const float *)c->in[2])[o],
                                                              p->a.f_min, p->a.f_max);
                        }
                    }
            }
    return EDGERT_OK;
}
