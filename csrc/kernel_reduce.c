/* kernel_reduce.c - MEAN over any set of the 4-D axes. int8 follows TFLite Micro's three
 * paths (see edgert_mean_params.mode); float32 sums in input order then divides. */
#include "engine_internal.h"

int eg_mean_check(const eg_call *c)
{
    const edgert_mean_params *p = &c->op->p.mean;
    const int32_t dt = c->op->dtype;
    int k;
    if (c->op->n_in != 1 || c->it[0]->dtype != dt || c->ot->dtype != dt) return EDGERT_ERR_MODEL;
    if (p->axis_mask <= 0 || p->axis_mask > 15) return EDGERT_ERR_MODEL;
    /* output dims: reduced axes are 1 (keep_dims layout, right-aligned by the compiler) */
    {
        int64_t n_out = 1;
        for (k = 0; k < 4; k++)
            if (!((p->axis_mask >> k) & 1)) n_out *= c->it[0]->dims[k];
        if (n_out != eg_numel(c->ot)) return EDGERT_ERR_MODEL;
    }
    if (dt == EDGERT_DTYPE_INT8) {
        if (p->mode < 0 || p->mode > 2) return EDGERT_ERR_MODEL;
        if (p->in_zp < -128 || p->in_zp > 127 || p->out_zp < -128 || p->out_zp > 127) return EDGERT_ERR_MODEL;
        if (p->mode != 0 && eg_check_one_mult_shift(p->mult, p->shift)) return EDGERT_ERR_MODEL;
    }
    return EDGERT_OK;
}

/* Sums are accumulated per output element by walking the reduced axes in input order. */
int eg_mean_run(const eg_call *c)
{
    const edgert_mean_params *p = &c->op->p.mean;
    const int32_t *d = c->it[0]->dims;
    int32_t lim[4], ostride[4], istride[4], k;
    int32_t o0, o1, o2, o3, r0, r1, r2, r3;
    int32_t count = 1;
    size_t oi = 0;
    istride[3] = 1;
    for (k = 2; k >= 0; k--) istride[k] = istride[k + 1] * d[k + 1];
    for (k = 0; k < 4; k++) {
        const int red = (p->axis_mask >> k) & 1;
        lim[k] = red ? 1 : d[k];     /* output extent */
        ostride[k] = red ? d[k] : 1; /* reduction extent */
        if (red) count *= d[k];
    }
    for (o0 = 0; o0 < lim[0]; o0++)
        for (o1 = 0; o1 < lim[1]; o1++)
            for (o2 = 0; o2 < lim[2]; o2++)
                for (o3 = 0; o3 < lim[3]; o3++, oi++) {
                    int32_t isum = 0;
                    float fsum = 0.0f;
                    for (r0 = 0; r0 < ostride[0]; r0++)
                        for (r1 = 0; r1 < ostride[1]; r1++)
                            for (r2 = 0; r2 < ostride[2]; r2++)
                                for (r3 = 0; r3 < ostride[3]; r3++) {
                                    const size_t ii = (size_t)(o0 + r0) * istride[0] + (size_t)(o1 + r1) * istride[1] +
                                                      (size_t)(o2 + r2) * istride[2] + (size_t)(o3 + r3);
                                    if (c->op->dtype == EDGERT_DTYPE_INT8)
                                        isum += ((const int8_t *)c->in[0])[ii];
                                    else
                                        fsum += ((const float *)c->in[0])[ii];
                                }
                    if (c->op->dtype == EDGERT_DTYPE_INT8) {
                        int32_t v;
                        if (p->mode == 0) {
                            v = isum / count;
                        } else if (p->mode == 1) {
                            v = eg_mbqm(isum - p->in_zp * count, p->mult, p->shift);
                            v = v > 0 ? (v + count / 2) / count : (v - count / 2) / count;
                            v += p->out_zp;
                        } else {
                            v = eg_mbqm(isum - p->in_zp * count, p->mult, p->shift) + p->out_zp;
                        }
                        ((int8_t *)c->out)[oi] = (int8_t)eg_clamp(v, -128, 127);
                    } else {
                        ((float *)c->out)[oi] = fsum / (float)count;
                    }
                }
    return EDGERT_OK;
}
