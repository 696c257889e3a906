/* kernel_activation.c - SOFTMAX (int8: TFLite Micro gemmlowp fixed point; float32),
 * LOGISTIC, TANH (int8: TFLite Micro Q4.27 gemmlowp), RELU, RELU6, QUANTIZE (float -> int8),
 * REQUANTIZE (int8 -> int8 QUANTIZE), DEQUANTIZE (int8 -> float). */
#include <math.h>
#include "engine_internal.h"

int eg_softmax_check(const eg_call *c)
{
    const edgert_softmax_params *p = &c->op->p.softmax;
    const int32_t dt = c->op->dtype;
    if (c->op->n_in < 1 || c->op->n_in > (dt == EDGERT_DTYPE_INT8 ? 2 : 1) ||
        c->it[0]->dtype != dt || c->ot->dtype != dt)
        return EDGERT_ERR_MODEL;
    if (c->op->n_in == 2 && (c->it[1]->dtype != EDGERT_DTYPE_INT32 || eg_numel(c->it[1]) != 256))
        return EDGERT_ERR_MODEL;
    if (!eg_same_dims(c->it[0], c->ot)) return EDGERT_ERR_MODEL;
    if (dt == EDGERT_DTYPE_INT8) {
        if (p->in_mult < 0 || p->in_left_shift < 0 || p->in_left_shift > 30 || p->diff_min > 0)
            return EDGERT_ERR_MODEL;
    }
    return EDGERT_OK;
}

static int32_t softmax_scaled_exp(const edgert_softmax_params *p, int32_t diff)
{
    if (diff < p->diff_min) return 0;
    return eg_exp_on_negative_values(eg_srdhm(eg_shl(diff, p->in_left_shift), p->in_mult), 5);
}

int edgert_softmax_exp_lut(const edgert_softmax_params *p, int32_t *lut)
{
    int k;
    if (!p || !lut) return EDGERT_ERR_NULL;
    if (p->in_mult < 0 || p->in_left_shift < 0 || p->in_left_shift > 30 || p->diff_min > 0)
        return EDGERT_ERR_PARAM;
    for (k = 0; k < 256; k++) lut[k] = softmax_scaled_exp(p, -k);
    return EDGERT_OK;
}

/* int8 softmax with the exp table (each diff in -255..0 indexes it). */
static void softmax_s8_lut(int32_t rows, int32_t depth, const int8_t *xs, const int32_t *lut, int8_t *ys)
{
    int32_t r, i;
    for (r = 0; r < rows; r++) {
        const int8_t *x = xs + (size_t)r * depth;
        int8_t *y = ys + (size_t)r * depth;
        int32_t mx = x[0], sum = 0;
        int h = 0;
        uint32_t us;
        for (i = 1; i < depth; i++) mx = x[i] > mx ? x[i] : mx;
        for (i = 0; i < depth; i++) sum = eg_add(sum, eg_rdbpot(lut[mx - x[i]], 12));
        us = (uint32_t)sum;
#if defined(__GNUC__)
        h = us ? __builtin_clz(us) : 31;
#else
        while (h < 31 && !(us & 0x80000000u)) { us <<= 1; h++; }
#endif
        if (h > 31) h = 31;
        {
            const int32_t shifted_scale = eg_one_over_one_plus_x_for_x_in_0_1(
                (int32_t)(((uint32_t)sum << h) - ((uint32_t)1 << 31)));
            int exponent = 12 - h + 31 - 8;
            exponent = exponent < 0 ? 0 : (exponent > 31 ? 31 : exponent);
            for (i = 0; i < depth; i++) {
                const int32_t v = eg_rdbpot(eg_srdhm(shifted_scale, lut[mx - x[i]]), exponent) - 128;
                y[i] = (int8_t)eg_clamp(v, -128, 127);
            }
        }
    }
}

int eg_softmax_run(const eg_call *c)
{
    const edgert_softmax_params *p = &c->op->p.softmax;
    const int32_t depth = c->ot->dims[3];
    const int32_t rows = eg_numel(c->ot) / depth;
    int32_t r, i;
    if (c->op->dtype == EDGERT_DTYPE_INT8 && c->op->n_in == 2) {
        softmax_s8_lut(rows, depth, (const int8_t *)c->in[0], (const int32_t *)c->in[1], (int8_t *)c->out);
    } else if (c->op->dtype == EDGERT_DTYPE_INT8) {
        for (r = 0; r < rows; r++) {
            const int8_t *x = (const int8_t *)c->in[0] + (size_t)r * depth;
            int8_t *y = (int8_t *)c->out + (size_t)r * depth;
            int32_t mx = x[0], sum = 0;
            for (i = 1; i < depth; i++) mx = x[i] > mx ? x[i] : mx;
            for (i = 0; i < depth; i++) {
                int32_t diff = (int32_t)x[i] - mx;
                if (diff >= p->diff_min) {
                    int32_t scaled = eg_srdhm(eg_shl(diff, p->in_left_shift), p->in_mult);
                    sum = eg_add(sum, eg_rdbpot(eg_exp_on_negative_values(scaled, 5), 12));
                }
            }
            {
                /* GetReciprocal(sum, 12 integer bits) */
                int h = 0;
                uint32_t us = (uint32_t)sum;
                while (h < 32 && !(us & 0x80000000u)) { us <<= 1; h++; }
                {
                    const int32_t num_bits_over_unit = 12 - h;
                    const int32_t shifted_sum_minus_one =
                        (int32_t)(((uint32_t)sum << (h & 31)) - ((uint32_t)1 << 31));
                    const int32_t shifted_scale = eg_one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
                    const int exponent = num_bits_over_unit + 31 - 8;
                    for (i = 0; i < depth; i++) {
                        int32_t diff = (int32_t)x[i] - mx;
                        if (diff >= p->diff_min) {
                            int32_t scaled = eg_srdhm(eg_shl(diff, p->in_left_shift), p->in_mult);
                            int32_t e = eg_exp_on_negative_values(scaled, 5);
                            int32_t v = eg_rdbpot(eg_srdhm(shifted_scale, e), exponent < 0 ? 0 : (exponent > 31 ? 31 : exponent));
                            y[i] = (int8_t)eg_clamp(v - 128, -128, 127);
                        } else {
                            y[i] = -128;
                        }
                    }
                }
            }
        }
    } else {
        for (r = 0; r < rows; r++) {
            const float *x = (const float *)c->in[0] + (size_t)r * depth;
            float *y = (float *)c->out + (size_t)r * depth;
            float mx = -3.402823466e+38f, sum = 0.0f;
            for (i = 0; i < depth; i++) mx = x[i] > mx ? x[i] : mx;
            for (i = 0; i < depth; i++) {
                float e = expf((x[i] - mx) * p->beta);
                y[i] = e;
                sum += e;
            }
            for (i = 0; i < depth; i++) y[i] = y[i] / sum;
        }
    }
    return EDGERT_OK;
}

int eg_unary_check(const eg_call *c)
{
    const edgert_op *op = c->op;
    const int32_t it = c->it[0]->dtype, ot = c->ot->dtype;
    if (op->n_in < 1 || op->n_in > 2 || eg_numel(c->it[0]) != eg_numel(c->ot)) return EDGERT_ERR_MODEL;
    if (op->n_in == 2 && (it != EDGERT_DTYPE_INT8 || ot != EDGERT_DTYPE_INT8 ||
                          c->it[1]->dtype != EDGERT_DTYPE_INT8 || eg_numel(c->it[1]) != 256))
        return EDGERT_ERR_MODEL;
    switch (op->type) {
    case EDGERT_OP_QUANTIZE:
        if (it != EDGERT_DTYPE_FLOAT32 || ot != EDGERT_DTYPE_INT8) return EDGERT_ERR_MODEL;
        if (!(op->p.unary.scale > 0.0f) || op->p.unary.zero_point < -128 || op->p.unary.zero_point > 127)
            return EDGERT_ERR_MODEL;
        return EDGERT_OK;
    case EDGERT_OP_DEQUANTIZE:
        if (it != EDGERT_DTYPE_INT8 || ot != EDGERT_DTYPE_FLOAT32) return EDGERT_ERR_MODEL;
        return EDGERT_OK;
    case EDGERT_OP_REQUANTIZE:
        if (it != EDGERT_DTYPE_INT8 || ot != EDGERT_DTYPE_INT8) return EDGERT_ERR_MODEL;
        if (eg_check_one_mult_shift(op->p.unary.mult, op->p.unary.shift)) return EDGERT_ERR_MODEL;
        return eg_check_act(&op->p.unary.a, EDGERT_DTYPE_INT8);
    case EDGERT_OP_LOGISTIC:
    case EDGERT_OP_TANH:
        if (it != op->dtype || ot != op->dtype) return EDGERT_ERR_MODEL;
        if (op->dtype == EDGERT_DTYPE_INT8) {
            const edgert_sigmoid_params *s = &op->p.sigmoid;
            if (eg_check_one_mult_shift(s->in_mult, s->in_shift) || s->range_radius < 0) return EDGERT_ERR_MODEL;
        }
        return EDGERT_OK;
    case EDGERT_OP_RELU:
    case EDGERT_OP_RELU6:
        if (it != op->dtype || ot != op->dtype) return EDGERT_ERR_MODEL;
        if (op->dtype == EDGERT_DTYPE_INT8 && op->type == EDGERT_OP_RELU &&
            eg_check_one_mult_shift(op->p.unary.mult, op->p.unary.shift))
            return EDGERT_ERR_MODEL;
        return eg_check_act(&op->p.unary.a, op->dtype);
    default:
        return EDGERT_ERR_MODEL;
    }
}

static int8_t quantize_one(float x, float scale, int32_t zp)
{
    float r = roundf(x / scale);
    int32_t q;
    /* saturate before the cast (C leaves out-of-range float -> int undefined) as an ARM core's
     * VCVT does: +-inf and huge values clamp, NaN converts to 0 (-> the zero point) */
    if (r != r) r = 0.0f;
    if (r < -1.0e6f) r = -1.0e6f;
    if (r > 1.0e6f) r = 1.0e6f;
    q = (int32_t)r + zp;
    return (int8_t)eg_clamp(q, -128, 127);
}

int eg_unary_run(const eg_call *c)
{
    const edgert_op *op = c->op;
    const int32_t n = eg_numel(c->ot);
    int32_t i;
    const int8_t *xi = (const int8_t *)c->in[0];
    const float *xf = (const float *)c->in[0];
    int8_t *yi = (int8_t *)c->out;
    float *yf = (float *)c->out;
    if (op->n_in == 2) {   /* int8 -> int8 through the op's 256-entry table */
        const int8_t *lut = (const int8_t *)c->in[1];
        for (i = 0; i < n; i++) yi[i] = lut[(uint8_t)xi[i]];
        return EDGERT_OK;
    }
    switch (op->type) {
    case EDGERT_OP_QUANTIZE:
        for (i = 0; i < n; i++) yi[i] = quantize_one(xf[i], op->p.unary.scale, op->p.unary.zero_point);
        break;
    case EDGERT_OP_DEQUANTIZE: {
        /* scale * (q - zp): |q - zp| <= 255 (9 bits) and scale a float (24 bits), so the
         * product is exact in double and the float multiplication rounds it the same way:
         * float arithmetic (single precision FPUs) gives the double-then-float result. */
        const float scale = op->p.unary.scale;
        for (i = 0; i < n; i++) yf[i] = (float)((int32_t)xi[i] - op->p.unary.zero_point) * scale;
        break;
    }
    case EDGERT_OP_REQUANTIZE: {
        const edgert_unary_params *p = &op->p.unary;
        for (i = 0; i < n; i++) {
            int32_t v = eg_mbqm((int32_t)xi[i] + p->a.in_offset, p->mult, p->shift) + p->a.out_offset;
            yi[i] = (int8_t)eg_clamp(v, p->a.act_min, p->a.act_max);
        }
        break;
    }
    case EDGERT_OP_LOGISTIC:
        if (op->dtype == EDGERT_DTYPE_INT8) {
            const edgert_sigmoid_params *s = &op->p.sigmoid;
            for (i = 0; i < n; i++) {
                const int32_t v = (int32_t)xi[i] - s->in_zp;
                if (v <= -s->range_radius) yi[i] = -128;
                else if (v >= s->range_radius) yi[i] = 127;
                else {
                    int32_t q4 = eg_mbqm(v, s->in_mult, s->in_shift);
                    int32_t o = eg_rdbpot(eg_logistic_q(q4, 4), 23) - 128;
                    yi[i] = (int8_t)eg_clamp(o, -128, 127);
                }
            }
        } else {
            for (i = 0; i < n; i++) {
                const float v = xf[i];
                if (v > 16.619047164916992188f) yf[i] = 1.0f;
                else if (v < -9.0f) yf[i] = expf(v);
                else yf[i] = 1.0f / (1.0f + expf(-v));
            }
        }
        break;
    case EDGERT_OP_TANH:
        if (op->dtype == EDGERT_DTYPE_INT8) {
            const edgert_sigmoid_params *s = &op->p.sigmoid;
            for (i = 0; i < n; i++) {
                const int32_t v = (int32_t)xi[i] - s->in_zp;
                if (v <= -s->range_radius) yi[i] = -128;
                else if (v >= s->range_radius) yi[i] = 127;
                else {
                    int32_t q4 = eg_mbqm(v, s->in_mult, s->in_shift);
                    int32_t o = eg_rdbpot(eg_tanh_q(q4, 4), 24);
                    yi[i] = (int8_t)eg_clamp(o, -128, 127);
                }
            }
        } else {
            for (i = 0; i < n; i++) yf[i] = tanhf(xf[i]);
        }
        break;
    case EDGERT_OP_RELU:
    case EDGERT_OP_RELU6:
        if (op->dtype == EDGERT_DTYPE_INT8) {
            const edgert_unary_params *p = &op->p.unary;
            if (op->type == EDGERT_OP_RELU) {
                for (i = 0; i < n; i++) {
                    int32_t v = p->a.out_offset + eg_mbqm((int32_t)xi[i] + p->a.in_offset, p->mult, p->shift);
                    yi[i] = (int8_t)eg_clamp(v, p->a.act_min, p->a.act_max);
                }
            } else {
                for (i = 0; i < n; i++) yi[i] = (int8_t)eg_clamp(xi[i], p->a.act_min, p->a.act_max);
            }
        } else {
            const float hi = op->type == EDGERT_OP_RELU6 ? 6.0f : 3.402823466e+38f;
            for (i = 0; i < n; i++) {
                const float v = xf[i];
                yf[i] = v < 0.0f ? 0.0f : (v > hi ? hi : v);
            }
        }
        break;
    default:
        return EDGERT_ERR_MODEL;
    }
    return EDGERT_OK;
}
