/*
 * scratch_main.c - HOST tool of `edgert export-c` (not for the device): prints the scratch
 * bytes that one window of the exported impulse needs in the microcontroller build of the core
 * (edgert_impulse_scratch_size(plan, 1) with -DEDGERT_DSP_FLOAT32 and the impulse's
 * configuration header). The size depends on the DSP's working precision and the configuration,
 * not on the CPU, so the host compiler answers for the device; the export then writes it into
 * the impulse's header, and the device's static buffer is exactly what it needs rather than the
 * double-precision host build's (larger) figure.
 */
#include <stdio.h>

#include "impulse_glue.h"

int main(void)
{
    size_t bytes = 0;
    int st = edgert_impulse_scratch_size(&IMPULSE_PLAN, 1, &bytes);
    if (st != EDGERT_OK) {
        fprintf(stderr, "scratch size: %s\n", edgert_strerror(st));
        return 1;
    }
    printf("%lu\n", (unsigned long)bytes);
    return 0;
}
