/* engine_check.c - validation helpers shared by the kernels' *_check functions. */
#include "engine_internal.h"

int eg_check_act(const edgert_act *a, int32_t dtype)
{
    if (dtype == EDGERT_DTYPE_INT8) {
        if (a->act_min < -128 || a->act_max > 127 || a->act_min > a->act_max) return EDGERT_ERR_MODEL;
        if (a->in_offset < -255 || a->in_offset > 255 || a->out_offset < -128 || a->out_offset > 127)
            return EDGERT_ERR_MODEL;
    } else {
        if (!(a->f_min <= a->f_max)) return EDGERT_ERR_MODEL;
    }
    return EDGERT_OK;
}

int eg_check_mult_shift(const void *mult, const void *shift, int32_t n)
{
    const int32_t *m = (const int32_t *)mult, *s = (const int32_t *)shift;
    int32_t i;
    if (!m || !s) return EDGERT_ERR_MODEL;
    for (i = 0; i < n; i++)
        if (m[i] < 0 || s[i] < -31 || s[i] > 30) return EDGERT_ERR_MODEL;
    return EDGERT_OK;
}

int eg_check_one_mult_shift(int32_t m, int32_t s)
{
    return (m < 0 || s < -31 || s > 30) ? EDGERT_ERR_MODEL : EDGERT_OK;
}
