/*
 * size_main.c - the size probe of an exported impulse (`make size`): the impulse's entry point
 * and nothing else (no C library I/O), i.e. what a firmware carries for the impulse. It runs
 * the entry point once on a synthetic window and prints {"stack_peak_bytes": n} (the whole
 * program's stack high-water, painted at reset) on the semihosting console. export.mk turns the
 * image's sections and that figure into {"flash": n, "ram": n}: flash = text + rodata + data,
 * RAM = data + bss + stack peak, the raw window buffer (`window`) counted apart.
 */
#include "board.h"
#include "impulse_glue.h"

static uint32_t scratch[IMPULSE_SCRATCH_WORDS];
static float window[IMPULSE_WINDOW_VALUES];   /* counted apart */

/* {"stack_peak_bytes": n} on the debug console (SYS_WRITE0), without the C library */
static void report_stack_peak(void)
{
    char line[48] = "{\"stack_peak_bytes\": ";
    char digits[12];
    uint32_t v = board_stack_peak();
    int n = 0, at = 0;
    while (line[at])
        at++;
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n)
        line[at++] = digits[--n];
    line[at++] = '}';
    line[at++] = '\n';
    line[at] = '\0';
    (void)board_semihost(0x04 /* SYS_WRITE0 */, line);
}

int main(int argc, char **argv)
{
    edgert_impulse_result result;
    int32_t i;
    (void)argc;
    (void)argv;
    for (i = 0; i < IMPULSE_WINDOW_VALUES; i++)
        window[i] = (float)(i % 17) * 0.25f - 2.0f;
    if (IMPULSE_CLASSIFY(window, &result, 0, scratch, sizeof scratch) != EDGERT_OK)
        return 1;
    report_stack_peak();
    return 0;
}
