/*
 * demo_main.c - the harness program: runs the example impulse on raw windows read over
 * semihosting and prints one JSON line per window, then a summary line.
 *
 *   demo.elf FILE      FILE: raw windows, float32 little-endian, interleaved axes, one window
 *                      (DEMO_WINDOW_SAMPLES x DEMO_RAW_AXES values) after another
 *
 * Per window: {"window": i, "features": [...], "nn_input_int8": [...],
 *   "nn_output_int8": [...], "classification": {label: score, ...}, "anomaly": x,
 *   "instructions": {"dsp": n, "nn": n, "anomaly": n, "total": n},
 *   "soft_double_calls": {"dsp": n, "nn": n, "anomaly": n}, "stack_bytes": n}
 * (instructions: board.h's counter, meaningful under -icount shift=0; stack_bytes: the stack
 * demo_classify used below its caller). Floats are printed with 9 significant digits, which
 * round-trips float32 exactly. Last line: {"summary": {...}} with the static sizes.
 * Errors: one line {"error": "..."} and exit status 1 (2 for usage).
 */
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "demo_impulse.h"

extern volatile uint32_t soft_double_calls; /* soft_double.c */

typedef struct {
    uint32_t ticks[4];
    uint32_t soft[4];
} stage_marks;

static void on_stage(void *context, int stage)
{
    stage_marks *m = (stage_marks *)context;
    m->ticks[stage] = board_counter_ticks();
    m->soft[stage] = soft_double_calls;
}

static demo_workspace workspace __attribute__((aligned(16)));
static float window[DEMO_WINDOW_SAMPLES * DEMO_RAW_AXES];

static void print_floats(const float *v, int n)
{
    int i;
    for (i = 0; i < n; i++)
        printf("%s%.9g", i ? ", " : "", (double)v[i]);
}

static void print_ints(const int8_t *v, int n)
{
    int i;
    for (i = 0; i < n; i++)
        printf("%s%d", i ? ", " : "", (int)v[i]);
}

static void print_result(long index, const demo_impulse *imp, const demo_result *r,
                         const stage_marks *m, uint32_t stack_bytes)
{
    int i;
    printf("{\"window\": %ld, \"features\": [", index);
    print_floats(r->features, DEMO_FEATURES);
    printf("], \"nn_input_int8\": [");
    print_ints(r->nn_input, DEMO_FEATURES);
    printf("], \"nn_output_int8\": [");
    print_ints(r->nn_output, DEMO_LABELS);
    printf("], \"classification\": {");
    for (i = 0; i < DEMO_LABELS; i++)
        printf("%s\"%s\": %.9g", i ? ", " : "", imp->labels[i], (double)r->scores[i]);
    printf("}");
    if (imp->kmeans != NULL)
        printf(", \"anomaly\": %.9g", (double)r->anomaly);
    printf(", \"instructions\": {\"dsp\": %lu, \"nn\": %lu, \"anomaly\": %lu, \"total\": %lu}",
           (unsigned long)((m->ticks[1] - m->ticks[0]) * BOARD_INSNS_PER_TICK),
           (unsigned long)((m->ticks[2] - m->ticks[1]) * BOARD_INSNS_PER_TICK),
           (unsigned long)((m->ticks[3] - m->ticks[2]) * BOARD_INSNS_PER_TICK),
           (unsigned long)((m->ticks[3] - m->ticks[0]) * BOARD_INSNS_PER_TICK));
    printf(", \"soft_double_calls\": {\"dsp\": %lu, \"nn\": %lu, \"anomaly\": %lu}",
           (unsigned long)(m->soft[1] - m->soft[0]), (unsigned long)(m->soft[2] - m->soft[1]),
           (unsigned long)(m->soft[3] - m->soft[2]));
    printf(", \"stack_bytes\": %lu}\n", (unsigned long)stack_bytes);
}

int main(int argc, char **argv)
{
    const demo_impulse *imp = &demo_impulse_data;
    const size_t n_values = (size_t)DEMO_WINDOW_SAMPLES * DEMO_RAW_AXES;
    uint32_t max_stack = 0, program_peak = 0, peak;
    size_t scratch_need = 0;
    long index = 0;
    FILE *f;
    if (argc < 2) {
        printf("{\"error\": \"usage: demo.elf WINDOWS_FILE (float32 little-endian, "
               "interleaved, %lu values per window)\"}\n", (unsigned long)n_values);
        return 2;
    }
    if (edgert_spectral_scratch_size(&imp->spectral, imp->window_samples, imp->dsp_n_axes,
                                     &scratch_need) != EDGERT_OK ||
        scratch_need > sizeof(workspace.spectral_scratch)) {
        printf("{\"error\": \"spectral scratch: %lu bytes needed, %lu reserved\"}\n",
               (unsigned long)scratch_need, (unsigned long)sizeof(workspace.spectral_scratch));
        return 1;
    }
    f = fopen(argv[1], "rb");
    if (f == NULL) {
        printf("{\"error\": \"cannot open %s\"}\n", argv[1]);
        return 1;
    }
    for (;;) {
        demo_result r;
        stage_marks m;
        uintptr_t mark;
        uint32_t depth;
        int st;
        size_t got = fread(window, sizeof(float), n_values, f);
        if (got == 0)
            break;
        if (got != n_values) {
            printf("{\"error\": \"%s: the last window has %lu of %lu values\"}\n", argv[1],
                   (unsigned long)got, (unsigned long)n_values);
            fclose(f);
            return 1;
        }
        memset(&m, 0, sizeof m);
        peak = board_stack_peak(); /* before repainting wipes the evidence */
        program_peak = peak > program_peak ? peak : program_peak;
        mark = board_stack_paint();
        st = demo_classify(imp, window, &workspace, &r, on_stage, &m);
        depth = board_stack_depth(mark);
        if (depth > max_stack)
            max_stack = depth;
        if (st != EDGERT_OK) {
            printf("{\"error\": \"window %ld: %s\"}\n", index, edgert_strerror(st));
            fclose(f);
            return 1;
        }
        print_result(index, imp, &r, &m, depth);
        index++;
    }
    fclose(f);
    peak = board_stack_peak();
    program_peak = peak > program_peak ? peak : program_peak;
    printf("{\"summary\": {\"windows\": %ld, \"classify_stack_bytes\": %lu, "
           "\"program_stack_peak_bytes\": %lu, \"stack_reserved_bytes\": %lu, "
           "\"spectral_scratch_bytes\": %lu, \"arena_bytes\": %lu, \"workspace_bytes\": %lu, "
           "\"window_buffer_bytes\": %lu, \"consts_bytes\": %lu, \"version\": \"%s\"}}\n",
           index, (unsigned long)max_stack, (unsigned long)program_peak,
           (unsigned long)board_stack_size(), (unsigned long)scratch_need,
           (unsigned long)imp->arena_bytes, (unsigned long)sizeof(workspace),
           (unsigned long)sizeof(window), (unsigned long)imp->consts_bytes, edgert_version());
    fflush(stdout);
    return 0;
}
