/* kernel_binary.c - ADD and MUL with 4-D broadcasting, int8 (TFLite Micro reference:
 * ADD rescales both inputs to a common 2^20-scaled representation) and float32. */
#include "engine_internal.h"

int eg_binary_check(const eg_call *c)
{
    const edgert_binary_params *p = &c->op->p.binary;
    const int32_t dt = c->op->dtype;
    int k;
    if (c->op->n_in != 2) return EDGERT_ERR_MODEL;
    if (c->it[0]->dtype != dt || c->it[1]->dtype != dt || c->ot->dtype != dt) return EDGERT_ERR_MODEL;
    for (k = 0; k < 4; k++) {
        const int32_t o = c->ot->dims[k], a = c->it[0]->dims[k], b = c->it[1]->dims[k];
        if ((a != o && a != 1) || (b != o && b != 1)) return EDGERT_ERR_MODEL;
    }
    if (dt == EDGERT_DTYPE_INT8) {
        if (p->in2_offset < -255 || p->in2_offset > 255) return EDGERT_ERR_MODEL;
        if (c->op->type == EDGERT_OP_ADD) {
            if (p->left_shift < 0 || p->left_shift > 20 ||
                eg_check_one_mult_shift(p->in1_mult, p->in1_shift) ||
                eg_check_one_mult_shift(p->in2_mult, p->in2_shift) || p->in1_shift > 0 || p->in2_shift > 0)
                return EDGERT_ERR_MODEL;
        }
        if (eg_check_one_mult_shift(p->out_mult, p->out_shift)) return EDGERT_ERR_MODEL;
    }
    return eg_check_act(&p->a, dt);
}

static inline int8_t add_s8(const edgert_binary_params *p, int32_t x1, int32_t x2)
{
    const int32_t a = eg_shl(x1 + p->a.in_offset, p->left_shift);
    const int32_t b = eg_shl(x2 + p->in2_offset, p->left_shift);
    const int32_t v = eg_mbqm(eg_mbqm(a, p->in1_mult, p->in1_shift) + eg_mbqm(b, p->in2_mult, p->in2_shift),
                              p->out_mult, p->out_shift) + p->a.out_offset;
    return (int8_t)eg_clamp(v, p->a.act_min, p->a.act_max);
}

static inline int8_t mul_s8(const edgert_binary_params *p, int32_t x1, int32_t x2)
{
    const int32_t v = eg_mbqm((x1 + p->a.in_offset) * (x2 + p->in2_offset), p->out_mult, p->out_shift) +
                      p->a.out_offset;
    return (int8_t)eg_clamp(v, p->a.act_min, p->a.act_max);
}

/* General 4-D broadcasting (strides 0 along broadcast axes). */
static int binary_broadcast(const eg_call *c)
{
    const edgert_binary_params *p = &c->op->p.binary;
    const int32_t *od = c->ot->dims, *ad = c->it[0]->dims, *bd = c->it[1]->dims;
    int32_t as[4], bs[4], k, i0, i1, i2, i3;
    size_t oi = 0;
    const int is_add = c->op->type == EDGERT_OP_ADD;
    /* element strides, 0 along broadcast axes */
    as[3] = ad[3] == 1 ? 0 : 1;
    bs[3] = bd[3] == 1 ? 0 : 1;
    {
        int32_t sa = ad[3], sb = bd[3];
        for (k = 2; k >= 0; k--) {
            as[k] = ad[k] == 1 ? 0 : sa;
            bs[k] = bd[k] == 1 ? 0 : sb;
            sa *= ad[k];
            sb *= bd[k];
        }
    }
    for (i0 = 0; i0 < od[0]; i0++)
        for (i1 = 0; i1 < od[1]; i1++)
            for (i2 = 0; i2 < od[2]; i2++)
                for (i3 = 0; i3 < od[3]; i3++, oi++) {
                    const size_t ai = (size_t)i0 * as[0] + (size_t)i1 * as[1] + (size_t)i2 * as[2] + (size_t)i3 * as[3];
                    const size_t bi = (size_t)i0 * bs[0] + (size_t)i1 * bs[1] + (size_t)i2 * bs[2] + (size_t)i3 * bs[3];
                    if (c->op->dtype == EDGERT_DTYPE_INT8) {
                        const int32_t a = ((const int8_t *)c->in[0])[ai], b = ((const int8_t *)c->in[1])[bi];
                        ((int8_t *)c->out)[oi] = is_add ? add_s8(p, a, b) : mul_s8(p, a, b);
                    } else {
                        const float a = ((const float *)c->in[0])[ai], b = ((const float *)c->in[1])[bi];
                        ((float *)c->out)[oi] = eg_clampf(is_add ? a + b : a * b, p->a.f_min, p->a.f_max);
                    }
                }
    return EDGERT_OK;
}

int eg_binary_run(const eg_call *c)
{
    const edgert_binary_params *p = &c->op->p.binary;
    if (eg_same_dims(c->it[0], c->ot) && eg_same_dims(c->it[1], c->ot)) {   /* no broadcasting */
        const int32_t n = eg_numel(c->ot);
        int32_t i;
        if (c->op->dtype == EDGERT_DTYPE_INT8) {
            const int8_t *a = (const int8_t *)c->in[0], *b = (const int8_t *)c->in[1];
            int8_t *y = (int8_t *)c->out;
            i = 0;
#ifdef EG_SSE2
            if (c->op->type == EDGERT_OP_ADD && p->out_shift <= 0) {
                /* 4 elements at a time, the same integer steps as add_s8 */
                const __m128i off1 = _mm_set1_epi32(p->a.in_offset), off2 = _mm_set1_epi32(p->in2_offset);
                const __m128i m1 = _mm_set1_epi32(p->in1_mult), m2 = _mm_set1_epi32(p->in2_mult);
                const __m128i mo = _mm_set1_epi32(p->out_mult);
                const __m128i ls = _mm_cvtsi32_si128(p->left_shift);
                for (; i + 4 <= n; i += 4) {
                    const __m128i va = _mm_sll_epi32(_mm_add_epi32(eg_load4_s8(a + i), off1), ls);
                    const __m128i vb = _mm_sll_epi32(_mm_add_epi32(eg_load4_s8(b + i), off2), ls);
                    const __m128i sum = _mm_add_epi32(eg_rdbpot4(eg_srdhm4_pos(va, m1), -p->in1_shift),
                                                      eg_rdbpot4(eg_srdhm4_pos(vb, m2), -p->in2_shift));
                    eg_store4_s8(eg_rdbpot4(eg_srdhm4_pos(sum, mo), -p->out_shift), p->a.out_offset,
                                 p->a.act_min, p->a.act_max, y + i);
                }
            }
#endif
            if (c->op->type == EDGERT_OP_ADD) for (; i < n; i++) y[i] = add_s8(p, a[i], b[i]);
            else for (; i < n; i++) y[i] = mul_s8(p, a[i], b[i]);
        } else {
            const float *a = (const float *)c->in[0], *b = (const float *)c->in[1];
            float *y = (float *)c->out;
            if (c->op->type == EDGERT_OP_ADD) for (i = 0; i < n; i++) y[i] = eg_clampf(a[i] + b[i], p->a.f_min, p->a.f_max);
            else for (i = 0; i < n; i++) y[i] = eg_clampf(a[i] * b[i], p->a.f_min, p->a.f_max);
        }
        return EDGERT_OK;
    }
    return binary_broadcast(c);
}
