/*
 * probe_main.c - the size probe: the example impulse and nothing else (no C library I/O, no
 * semihosting stdio), i.e. what a firmware carries for the impulse. It runs demo_classify
 * once on a synthetic window and prints {"stack_peak_bytes": n} (the whole program's stack
 * high-water, painted at reset) on the semihosting console without any C library I/O. Its
 * flash (text + rodata + data) and RAM (data + bss + that stack peak) are `make size`'s
 * figures; the raw window buffer is reported apart.
 */
#include "board.h"
#include "demo_impulse.h"

static demo_workspace workspace __attribute__((aligned(16)));
static float window[DEMO_WINDOW_SAMPLES * DEMO_RAW_AXES];   /* counted separately */
static demo_result result;

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
    int32_t i;
    int st;
    (void)argc;
    (void)argv;
    for (i = 0; i < DEMO_WINDOW_SAMPLES * DEMO_RAW_AXES; i++)
        window[i] = (float)(i % 17) * 0.25f - 2.0f;
    st = demo_classify(&demo_impulse_data, window, &workspace, &result, 0, 0);
    if (st != EDGERT_OK)
        return 1;
    report_stack_peak();
    return 0;
}
