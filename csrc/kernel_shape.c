/* kernel_shape.c - data movement: RESHAPE / SQUEEZE / EXPAND_DIMS (a copy, or nothing when
 * the memory plan aliased output and input), PAD, CONCATENATION, STRIDED_SLICE.  Any dtype. */
#include <string.h>
#include "engine_internal.h"

static size_t elem_size(int32_t dtype) { return dtype == EDGERT_DTYPE_INT8 ? 1 : 4; }

int eg_copy_check(const eg_call *c)
{
    if (c->op->n_in != 1 || c->it[0]->dtype != c->ot->dtype || c->it[0]->bytes != c->ot->bytes)
        return EDGERT_ERR_MODEL;
    return EDGERT_OK;
}

int eg_copy_run(const eg_call *c)
{
    if (c->out != c->in[0]) memmove(c->out, c->in[0], c->ot->bytes);
    return EDGERT_OK;
}

int eg_pad_check(const eg_call *c)
{
    const edgert_pad_params *p = &c->op->p.pad;
    int k;
    if (c->op->n_in != 1 || c->it[0]->dtype != c->ot->dtype) return EDGERT_ERR_MODEL;
    for (k = 0; k < 4; k++)
        if (p->before[k] < 0 || (int64_t)p->before[k] + c->it[0]->dims[k] > c->ot->dims[k])
            return EDGERT_ERR_MODEL;
    return EDGERT_OK;
}

int eg_pad_run(const eg_call *c)
{
    const edgert_pad_params *p = &c->op->p.pad;
    const int32_t *od = c->ot->dims, *id = c->it[0]->dims;
    const size_t es = elem_size(c->ot->dtype);
    const size_t n = (size_t)eg_numel(c->ot);
    int32_t i0, i1, i2;
    size_t i;
    /* fill, then copy rows */
    if (es == 1) memset(c->out, (int)(int8_t)p->int_value, n);
    else if (c->ot->dtype == EDGERT_DTYPE_FLOAT32)
        for (i = 0; i < n; i++) ((float *)c->out)[i] = p->float_value;
    else
        for (i = 0; i < n; i++) ((int32_t *)c->out)[i] = p->int_value;
    for (i0 = 0; i0 < id[0]; i0++)
        for (i1 = 0; i1 < id[1]; i1++)
            for (i2 = 0; i2 < id[2]; i2++) {
                const size_t src = (((size_t)i0 * id[1] + i1) * id[2] + i2) * id[3];
                const size_t dst = ((((size_t)i0 + p->before[0]) * od[1] + i1 + p->before[1]) * od[2] +
                                    i2 + p->before[2]) * od[3] + p->before[3];
                memcpy((char *)c->out + dst * es, (const char *)c->in[0] + src * es, (size_t)id[3] * es);
            }
    return EDGERT_OK;
}

int eg_concat_check(const eg_call *c)
{
    const int32_t axis = c->op->p.concat.axis;
    int64_t total = 0;
    int i, k;
    if (axis < 0 || axis > 3 || c->op->n_in < 1) return EDGERT_ERR_MODEL;
    for (i = 0; i < c->op->n_in; i++) {
        if (c->it[i]->dtype != c->ot->dtype) return EDGERT_ERR_MODEL;
        for (k = 0; k < 4; k++)
            if (k != axis && c->it[i]->dims[k] != c->ot->dims[k]) return EDGERT_ERR_MODEL;
        total += c->it[i]->dims[axis];
    }
    return total == c->ot->dims[axis] ? EDGERT_OK : EDGERT_ERR_MODEL;
}

int eg_concat_run(const eg_call *c)
{
    const int32_t axis = c->op->p.concat.axis;
    const size_t es = elem_size(c->ot->dtype);
    size_t outer = 1, inner_out = es, pos = 0;
    int32_t k;
    int i;
    size_t o;
    for (k = 0; k < axis; k++) outer *= (size_t)c->ot->dims[k];
    for (k = axis; k < 4; k++) inner_out *= (size_t)c->ot->dims[k];
    for (i = 0; i < c->op->n_in; i++) {
        size_t inner = es;
        for (k = axis; k < 4; k++) inner *= (size_t)c->it[i]->dims[k];
        for (o = 0; o < outer; o++)
            memcpy((char *)c->out + o * inner_out + pos, (const char *)c->in[i] + o * inner, inner);
        pos += inner;
    }
    return EDGERT_OK;
}

int eg_slice_check(const eg_call *c)
{
    const edgert_slice_params *p = &c->op->p.slice;
    int k;
    if (c->op->n_in != 1 || c->it[0]->dtype != c->ot->dtype) return EDGERT_ERR_MODEL;
    for (k = 0; k < 4; k++) {
        const int64_t last = (int64_t)p->begin[k] + (int64_t)(c->ot->dims[k] - 1) * p->stride[k];
        if (p->stride[k] == 0 || p->begin[k] < 0 || p->begin[k] >= c->it[0]->dims[k] ||
            last < 0 || last >= c->it[0]->dims[k])
            return EDGERT_ERR_MODEL;
    }
    return EDGERT_OK;
}

int eg_slice_run(const eg_call *c)
{
    const edgert_slice_params *p = &c->op->p.slice;
    const int32_t *od = c->ot->dims, *id = c->it[0]->dims;
    const size_t es = elem_size(c->ot->dtype);
    int32_t i0, i1, i2, i3;
    size_t oi = 0;
    for (i0 = 0; i0 < od[0]; i0++)
        for (i1 = 0; i1 < od[1]; i1++)
            for (i2 = 0; i2 < od[2]; i2++)
                for (i3 = 0; i3 < od[3]; i3++, oi++) {
                    const size_t ii =
                        ((((size_t)(p->begin[0] + i0 * p->stride[0])) * id[1] + (size_t)(p->begin[1] + i1 * p->stride[1])) * id[2] +
                         (size_t)(p->begin[2] + i2 * p->stride[2])) * id[3] + (size_t)(p->begin[3] + i3 * p->stride[3]);
                    memcpy((char *)c->out + oi * es, (const char *)c->in[0] + ii * es, es);
                }
    return EDGERT_OK;
}
