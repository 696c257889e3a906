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
    if (dt == EDGERT_DTYPE_INT8 ? (c->op->n_in != 5 && !(c->op->n_in == 6 && !depthwise))
                                : (c->op->n_in != 3 && !(c->op->n_in == 4 && !depthwise)))
        return EDGERT_ERR_MODEL;
    if (dt == EDGERT_DTYPE_FLOAT32 && c->op->n_in == 4 &&
        (c->it[3]->dtype != EDGERT_DTYPE_FLOAT32 || w->dims[3] != x->dims[3] ||
         (int64_t)w->dims[1] * w->dims[2] * w->dims[3] > EG_WIDE_MAX ||
         ((int64_t)oc + 7) / 8 * 8 * w->dims[1] * w->dims[2] * w->dims[3] != eg_numel(c->it[3])))
        return EDGERT_ERR_MODEL;
    if (c->op->n_in == 6 && (c->it[5]->dtype != EDGERT_DTYPE_INT16 || w->dims[3] != x->dims[3] ||
                             (int64_t)w->dims[1] * w->dims[2] * w->dims[3] > EG_WIDE_MAX ||
                             eg_packed_numel(oc, w->dims[1] * w->dims[2] * w->dims[3]) != eg_numel(c->it[5])))
        return EDGERT_ERR_MODEL;
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

/* int8 with packed weights (own function: its stack buffer exists only when used). */
static int conv_s8_packed(const eg_call *c)
{
    const edgert_conv_params *p = &c->op->p.conv;
    const edgert_tensor *xt = c->it[0], *wt = c->it[1], *yt = c->ot;
    const int32_t batches = xt->dims[0], ih = xt->dims[1], iw = xt->dims[2], ic = xt->dims[3];
    const int32_t kh = wt->dims[1], kw = wt->dims[2];
    const int32_t oh = yt->dims[1], ow = yt->dims[2], oc = yt->dims[3];
    int32_t b, oy, ox, fy, fx, i;
    /* im2col per output pixel (input offset applied, 0 for taps outside the image: the
     * reference skips them) then the packed matrix-vector product over all channels */
    const int8_t *x = (const int8_t *)c->in[0];
    const int32_t K = kh * kw * ic;
    int16_t patch[EG_WIDE_MAX + 2];
    int8_t *y = (int8_t *)c->out;
    for (b = 0; b < batches; b++)
        for (oy = 0; oy < oh; oy++)
            for (ox = 0; ox < ow; ox++) {
                const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
                int16_t *pp = patch;
                for (fy = 0; fy < kh; fy++) {
                    const int32_t iy = y0 + p->dil_h * fy;
                    for (fx = 0; fx < kw; fx++, pp += ic) {
                        const int32_t ix = x0 + p->dil_w * fx;
                        if (iy < 0 || iy >= ih || ix < 0 || ix >= iw) {
                            for (i = 0; i < ic; i++) pp[i] = 0;
                        } else {
                            const int8_t *xp = x + (((size_t)b * ih + iy) * iw + ix) * ic;
                            for (i = 0; i < ic; i++) pp[i] = (int16_t)(xp[i] + p->a.in_offset);
                        }
                    }
                }
                patch[K] = 0;
                eg_matvec_packed(patch, K, (const int16_t *)c->in[5], oc, (const int32_t *)c->in[2],
                                 (const int32_t *)c->in[3], (const int32_t *)c->in[4], &p->a,
                                 y + (((size_t)b * oh + oy) * ow + ox) * oc);
            }
    return EDGERT_OK;
}

/* float32 with transposed weights (own function, same reason). */
static int conv_f32_transposed(const eg_call *c)
{
    const edgert_conv_params *p = &c->op->p.conv;
    const edgert_tensor *xt = c->it[0], *wt = c->it[1], *yt = c->ot;
    const int32_t batches = xt->dims[0], ih = xt->dims[1], iw = xt->dims[2], ic = xt->dims[3];
    const int32_t kh = wt->dims[1], kw = wt->dims[2];
    const int32_t oh = yt->dims[1], ow = yt->dims[2], oc = yt->dims[3];
    int32_t b, oy, ox, fy, fx, i;
    /* float32 im2col (0 for taps outside the image: adds +-0, exactly like skipping them)
     * then the transposed-weights matvec, summing each channel in (fy, fx, i) order */
    const float *x = (const float *)c->in[0];
    float patch[EG_WIDE_MAX];
    float *y = (float *)c->out;
    for (b = 0; b < batches; b++)
        for (oy = 0; oy < oh; oy++)
            for (ox = 0; ox < ow; ox++) {
                const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
                float *pp = patch;
                for (fy = 0; fy < kh; fy++) {
                    const int32_t iy = y0 + p->dil_h * fy;
                    for (fx = 0; fx < kw; fx++, pp += ic) {
                        const int32_t ix = x0 + p->dil_w * fx;
                        if (iy < 0 || iy >= ih || ix < 0 || ix >= iw) {
                            for (i = 0; i < ic; i++) pp[i] = 0.0f;
                        } else {
                            const float *xp = x + (((size_t)b * ih + iy) * iw + ix) * ic;
                            for (i = 0; i < ic; i++) pp[i] = xp[i];
                        }
                    }
                }
                eg_matvec_f32_transposed(patch, kh * kw * ic, (const float *)c->in[3], oc,
                                         (const float *)c->in[2], p->a.f_min, p->a.f_max,
                                         y + (((size_t)b * oh + oy) * ow + ox) * oc);
            }
    return EDGERT_OK;
}

int eg_conv_run(const eg_call *c)
{
    const edgert_conv_params *p = &c->op->p.conv;
    const edgert_tensor *xt = c->it[0], *wt = c->it[1], *yt = c->ot;
    const int32_t batches = xt->dims[0], ih = xt->dims[1], iw = xt->dims[2], ic = xt->dims[3];
    const int32_t kh = wt->dims[1], kw = wt->dims[2], fic = wt->dims[3];
    const int32_t oh = yt->dims[1], ow = yt->dims[2], oc = yt->dims[3];
    const int32_t groups = ic / fic, per_group = oc / groups;
    int32_t b, oy, ox, o, fy, fx, i;
    if (c->op->dtype == EDGERT_DTYPE_INT8 && c->op->n_in == 6) return conv_s8_packed(c);
    if (c->op->dtype == EDGERT_DTYPE_FLOAT32 && c->op->n_in == 4) return conv_f32_transposed(c);
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

/* Depthwise: taps outer, channels inner (contiguous, vectorizable); each channel still sums
 * its taps in (fy, fx) order, so float results equal the reference loop's. Channels are done
 * in blocks of DW_BLOCK accumulators. */
#define DW_BLOCK 64
int eg_dwconv_run(const eg_call *c)
{
    const edgert_conv_params *p = &c->op->p.conv;
    const edgert_tensor *xt = c->it[0], *wt = c->it[1], *yt = c->ot;
    const int32_t batches = xt->dims[0], ih = xt->dims[1], iw = xt->dims[2], ic = xt->dims[3];
    const int32_t kh = wt->dims[1], kw = wt->dims[2];
    const int32_t oh = yt->dims[1], ow = yt->dims[2], oc = yt->dims[3];
    const int32_t mult_d = p->depth_multiplier;
    const int is_i8 = c->op->dtype == EDGERT_DTYPE_INT8;
    int32_t b, oy, ox, o0, o, fy, fx, n;
    int32_t iacc[DW_BLOCK];
    float facc[DW_BLOCK];
    for (b = 0; b < batches; b++)
        for (oy = 0; oy < oh; oy++)
            for (ox = 0; ox < ow; ox++) {
                const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
                const size_t ybase = (((size_t)b * oh + oy) * ow + ox) * oc;
                for (o0 = 0; o0 < oc; o0 += DW_BLOCK) {
                    n = oc - o0 < DW_BLOCK ? oc - o0 : DW_BLOCK;
                    for (o = 0; o < n; o++) { iacc[o] = 0; facc[o] = 0.0f; }
                    for (fy = 0; fy < kh; fy++) {
                        const int32_t iy = y0 + p->dil_h * fy;
                        if (iy < 0 || iy >= ih) continue;
                        for (fx = 0; fx < kw; fx++) {
                            const int32_t ix = x0 + p->dil_w * fx;
                            const size_t xbase = (((size_t)b * ih + iy) * iw + ix) * ic;
                            const size_t wbase = ((size_t)fy * kw + fx) * oc + o0;
                            if (ix < 0 || ix >= iw) continue;
                            if (is_i8) {
                                const int8_t *xp = (const int8_t *)c->in[0] + xbase;
                                const int8_t *wp = (const int8_t *)c->in[1] + wbase;
                                if (mult_d == 1) {
                                    const int8_t *xq = xp + o0;
                                    int32_t o8 = 0;
                                    for (; o8 + 8 <= n; o8 += 8)   /* fixed trip count: straight SIMD */
                                        for (o = o8; o < o8 + 8; o++)
                                            iacc[o] += (int32_t)wp[o] * ((int32_t)xq[o] + p->a.in_offset);
                                    for (o = o8; o < n; o++)
                                        iacc[o] += (int32_t)wp[o] * ((int32_t)xq[o] + p->a.in_offset);
                                } else {
                                    for (o = 0; o < n; o++)
                                        iacc[o] += (int32_t)wp[o] * ((int32_t)xp[(o0 + o) / mult_d] + p->a.in_offset);
                                }
                            } else {
                                const float *xp = (const float *)c->in[0] + xbase;
                                const float *wp = (const float *)c->in[1] + wbase;
                                if (mult_d == 1) {
                                    const float *xq = xp + o0;
                                    int32_t o8 = 0;
                                    for (; o8 + 8 <= n; o8 += 8)
                                        for (o = o8; o < o8 + 8; o++) facc[o] += xq[o] * wp[o];
                                    for (o = o8; o < n; o++) facc[o] += xq[o] * wp[o];
                                } else {
                                    for (o = 0; o < n; o++) facc[o] += xp[(o0 + o) / mult_d] * wp[o];
                                }
                            }
                        }
                    }
                    if (is_i8) {
                        const int32_t *bias = (const int32_t *)c->in[2] + o0, *mult = (const int32_t *)c->in[3] + o0;
                        const int32_t *shift = (const int32_t *)c->in[4] + o0;
                        int8_t *y = (int8_t *)c->out + ybase + o0;
                        for (o = 0; o < n; o++) {
                            const int32_t v = eg_mbqm(iacc[o] + bias[o], mult[o], shift[o]) + p->a.out_offset;
                            y[o] = (int8_t)eg_clamp(v, p->a.act_min, p->a.act_max);
                        }
                    } else {
                        const float *bias = (const float *)c->in[2] + o0;
                        float *y = (float *)c->out + ybase + o0;
                        for (o = 0; o < n; o++) y[o] = eg_clampf(facc[o] + bias[o], p->a.f_min, p->a.f_max);
                    }
                }
            }
    return EDGERT_OK;
}
