/*
 * harness_main.c - the test harness of an exported impulse (`edgert export-c`): runs the
 * impulse's entry point on raw windows read over semihosting and prints one JSON line per
 * window. Built by harness/export.mk for QEMU's mps2-an386 (board.c) or natively (board_host.c).
 *
 *   harness.elf FILE            FILE: raw windows, float32 little-endian, interleaved axes, one
 *                               window (IMPULSE_WINDOW_VALUES values) after another.
 *                               Per window exactly {"classification": {label: score, ...},
 *                               "anomaly": x} ("anomaly" only when the impulse has one; the
 *                               `make run` contract).
 *   harness.elf FILE detail     Per window also "window", "prediction", "features" (every DSP
 *                               block), "outputs" (every learn block), "instructions" (board.h's
 *                               counter, per stage through the entry point's timing hook: exact
 *                               under `qemu-system-arm -icount shift=0`), "soft_double_calls"
 *                               and "stack_bytes" (what the entry point used); then one
 *                               {"summary": {...}} line (`make profile`).
 *
 * Floats are printed with 9 significant digits (round-trips float32). Errors: one line
 * {"error": "..."} and exit status 1 (2 for usage).
 */
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "impulse_glue.h"

extern volatile uint32_t soft_double_calls; /* soft_double.c (0 on the host) */

/* The impulse's working memory: the scratch size of this (float32 DSP) build, known at compile
 * time; the raw window buffer, which the size report counts apart. */
static uint32_t scratch[IMPULSE_SCRATCH_WORDS];
static float window[IMPULSE_WINDOW_VALUES];
/* detail mode only: what the plan's batch entry point also returns */
static float features[IMPULSE_N_FEATURES];
static float outputs[IMPULSE_N_OUTPUTS > 0 ? IMPULSE_N_OUTPUTS : 1];

static uint32_t counter_clock(void *context)
{
    (void)context;
    return board_counter_ticks();
}

/* a JSON string (labels are the bundle's: quote and escape them) */
static void print_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", (unsigned)c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_floats(const float *v, int n)
{
    int i;
    for (i = 0; i < n; i++)
        printf("%s%.9g", i ? ", " : "", (double)v[i]);
}

static void print_classification(const edgert_impulse_result *r)
{
    int i;
    printf("{\"classification\": {");
    for (i = 0; i < r->n_labels && i < IMPULSE_N_LABELS; i++) {
        printf("%s", i ? ", " : "");
        print_string(IMPULSE_LABELS[i]);
        printf(": %.9g", (double)r->scores[i]);
    }
    printf("}");
#if IMPULSE_HAS_ANOMALY
    printf(", \"anomaly\": %.9g", (double)r->anomaly);
#endif
}

static void print_prediction(const edgert_impulse_result *r)
{
    if (r->prediction >= 0 && r->prediction < IMPULSE_N_LABELS)
        print_string(IMPULSE_LABELS[r->prediction]);
    else
        printf("%s", r->prediction == EDGERT_PREDICTION_ANOMALY ? "\"anomaly\""
                                                                : "\"uncertain\"");
}

static int fail(const char *what, long index, int status)
{
    printf("{\"error\": \"window %ld: %s: %s\"}\n", index, what, edgert_strerror(status));
    return 1;
}

/* detail mode: the entry point timed (instructions per stage, stack, software double calls),
 * then the plan's batch entry point on the same window for its features and outputs, which
 * must give the same result */
static int run_detail(long index, uint32_t *max_stack, uint64_t *max_total)
{
    const int32_t start = 0;
    edgert_impulse_result r, again;
    edgert_impulse_timing timing;
    uint32_t soft0, soft, t0, t1, depth;
    uintptr_t mark;
    int st;
    memset(&timing, 0, sizeof timing);
    timing.clock = counter_clock;
    mark = board_stack_paint();
    soft0 = soft_double_calls;
    t0 = board_counter_ticks();
    st = IMPULSE_CLASSIFY(window, &r, &timing, scratch, sizeof scratch);
    t1 = board_counter_ticks();
    soft = soft_double_calls - soft0;
    depth = board_stack_depth(mark);
    if (st != EDGERT_OK)
        return fail("entry point", index, st);
    st = edgert_impulse_run(&IMPULSE_PLAN, window, IMPULSE_WINDOW_SAMPLES, &start, 1, &again,
                            features, outputs, NULL, scratch, sizeof scratch);
    if (st != EDGERT_OK)
        return fail("edgert_impulse_run", index, st);
    if (memcmp(&r, &again, sizeof r) != 0) {
        printf("{\"error\": \"window %ld: the entry point and edgert_impulse_run differ\"}\n",
               index);
        return 1;
    }
    if (depth > *max_stack)
        *max_stack = depth;
    if ((uint64_t)(t1 - t0) * BOARD_INSNS_PER_TICK > *max_total)
        *max_total = (uint64_t)(t1 - t0) * BOARD_INSNS_PER_TICK;
    print_classification(&r);
    printf(", \"window\": %ld, \"prediction\": ", index);
    print_prediction(&r);
    printf(", \"features\": [");
    print_floats(features, IMPULSE_N_FEATURES);
    printf("], \"outputs\": [");
    print_floats(outputs, IMPULSE_N_OUTPUTS);
    printf("], \"instructions\": {\"dsp\": %lu, \"classifier\": %lu, \"anomaly\": %lu, "
           "\"plan\": %lu, \"total\": %lu}",
           (unsigned long)(timing.ticks[EDGERT_IMPULSE_STAGE_DSP] * BOARD_INSNS_PER_TICK),
           (unsigned long)(timing.ticks[EDGERT_IMPULSE_STAGE_CLASSIFIER] * BOARD_INSNS_PER_TICK),
           (unsigned long)(timing.ticks[EDGERT_IMPULSE_STAGE_ANOMALY] * BOARD_INSNS_PER_TICK),
           (unsigned long)(timing.total * BOARD_INSNS_PER_TICK),
           (unsigned long)((uint32_t)(t1 - t0) * BOARD_INSNS_PER_TICK));
    printf(", \"soft_double_calls\": %lu, \"stack_bytes\": %lu}\n", (unsigned long)soft,
           (unsigned long)depth);
    return 0;
}

int main(int argc, char **argv)
{
    uint32_t max_stack = 0;
    uint64_t max_total = 0;
    size_t need = 0;
    long index = 0;
    int detail, st;
    FILE *f;
    if (argc < 2) {
        printf("{\"error\": \"usage: harness WINDOWS_FILE [detail] (float32 little-endian, "
               "interleaved, %lu values per window)\"}\n", (unsigned long)IMPULSE_WINDOW_VALUES);
        return 2;
    }
    detail = argc > 2 && strcmp(argv[2], "detail") == 0;
    st = edgert_impulse_scratch_size(&IMPULSE_PLAN, 1, &need);
    if (st != EDGERT_OK || need > sizeof scratch) {
        printf("{\"error\": \"impulse scratch: %lu bytes needed, %lu reserved (%s)\"}\n",
               (unsigned long)need, (unsigned long)sizeof scratch, edgert_strerror(st));
        return 1;
    }
    f = fopen(argv[1], "rb");
    if (f == NULL) {
        printf("{\"error\": \"cannot open ");
        print_string(argv[1]);
        printf(" (paths are the emulator's: relative to the export's directory)\"}\n");
        return 1;
    }
    for (;;) {
        size_t got = fread(window, sizeof(float), IMPULSE_WINDOW_VALUES, f);
        if (got == 0)
            break;
        if (got != IMPULSE_WINDOW_VALUES) {
            printf("{\"error\": \"the last window has %lu of %lu values\"}\n",
                   (unsigned long)got, (unsigned long)IMPULSE_WINDOW_VALUES);
            fclose(f);
            return 1;
        }
        if (detail) {
            if (run_detail(index, &max_stack, &max_total) != 0) {
                fclose(f);
                return 1;
            }
        } else {
            edgert_impulse_result r;
            st = IMPULSE_CLASSIFY(window, &r, NULL, scratch, sizeof scratch);
            if (st != EDGERT_OK) {
                fclose(f);
                return fail("entry point", index, st);
            }
            print_classification(&r);
            printf("}\n");
        }
        index++;
    }
    fclose(f);
    if (detail)
        printf("{\"summary\": {\"windows\": %ld, \"entry_point_stack_bytes\": %lu, "
               "\"max_instructions\": %lu, \"scratch_bytes\": %lu, \"scratch_needed_bytes\": "
               "%lu, \"window_buffer_bytes\": %lu, \"stack_reserved_bytes\": %lu, "
               "\"version\": \"%s\"}}\n",
               index, (unsigned long)max_stack, (unsigned long)max_total,
               (unsigned long)sizeof scratch, (unsigned long)need,
               (unsigned long)sizeof window, (unsigned long)board_stack_size(),
               edgert_version());
    fflush(stdout);
    return 0;
}
