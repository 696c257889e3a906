/*
 * Internal contract of the batch DSP blocks (not public, not in the cdef): the check every
 * "all windows of a recording in one call" entry point makes of where its windows are.
 */
#ifndef EDGERT_WINDOW_INTERNAL_H
#define EDGERT_WINDOW_INTERNAL_H

#include <stdint.h>

/* EDGERT_OK when each of the n_axes axis indices is a column of a row_stride-wide row and
 * each window [starts[w], starts[w] + n_samples) lies within the n_rows rows; EDGERT_ERR_ARG
 * otherwise (including n_axes < 1, row_stride < 1, n_rows < 0, n_windows < 0). Reads only. */
int edgert_check_windows(const int32_t *axes, int32_t n_axes, int32_t row_stride,
                         const int32_t *starts, int32_t n_windows, int32_t n_rows,
                         int32_t n_samples);

#endif
