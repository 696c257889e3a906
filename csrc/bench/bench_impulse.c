/* bench_impulse.c - per-window cost of the compiled impulse plan in plain C (no Python), so
 * the figure compares directly with a C++ SDK's run_classifier() on the same machine.
 *
 *   make -C csrc bench            (built with the Python extension's flags: -O2)
 *   ./csrc/build/bench_impulse [repeats [case]]
 *
 * For each plan of csrc/tests/data/impulse_cases.h (the demo impulse on the 30 windows of
 * Edge Impulse's SDK reference set, and the multi-block test impulse): every window in turn
 * through edgert_impulse_run_window(), many rounds, median over repeats of the CPU time
 * (CLOCK_PROCESS_CPUTIME_ID) and, on x86, time-stamp-counter ticks per window; the stages
 * from the plan's own timing hook; and the same windows in one edgert_impulse_run() call.
 * The last line is JSON for benches/bench_window.py. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edgert.h"
#include "impulse_cases.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define HAVE_TSC 1
static uint64_t tsc(void) { return __rdtsc(); }
#else
#define HAVE_TSC 0
static uint64_t tsc(void) { return 0; }
#endif

#define MAX_REPEATS 101
static uint32_t scratch[(1 << 20) / 4];
static edgert_impulse_result results[256];

static double cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static uint32_t mono_ns(void *context)
{
    struct timespec t;
    (void)context;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint32_t)((uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* one round: every window of the case once, one call per window */
static int round_windows(const impulse_case *c, size_t need)
{
    const edgert_impulse_plan *p = c->plan;
    const size_t n_values = (size_t)p->window_samples * (size_t)p->n_axes;
    int32_t w;
    for (w = 0; w < c->n_windows; w++) {
        int st = edgert_impulse_run_window(p, c->data + (size_t)c->starts[w] * (size_t)p->n_axes,
                                           n_values, &results[0], NULL, scratch, need);
        if (st != EDGERT_OK) return st;
    }
    return EDGERT_OK;
}

int main(int argc, char **argv)
{
    int repeats = argc > 1 ? atoi(argv[1]) : 21;
    const char *only = argc > 2 ? argv[2] : NULL;   /* a case name: run only that one */
    int k, r, s, first = 1;
    if (repeats < 1 || repeats > MAX_REPEATS) repeats = 21;
    printf("{\"bench\": \"impulse plan, one window per call\", \"unit\": \"ns CPU per window\", "
           "\"tsc\": %d, \"cases\": [", HAVE_TSC);
    for (k = 0; k < IMPULSE_N_CASES; k++) {
        const impulse_case *c = &impulse_cases[k];
        const edgert_impulse_plan *p = c->plan;
        double ns[MAX_REPEATS], ticks[MAX_REPEATS], batch[MAX_REPEATS];
        double stage[EDGERT_IMPULSE_STAGES][MAX_REPEATS], total[MAX_REPEATS];
        size_t need = 0, need_all = 0;
        int rounds;
        double t0;
        if (only && strcmp(only, c->name) != 0) continue;
        if (edgert_impulse_scratch_size(p, 1, &need) != EDGERT_OK ||
            edgert_impulse_scratch_size(p, c->n_windows, &need_all) != EDGERT_OK ||
            need_all > sizeof(scratch) || (size_t)c->n_windows > sizeof(results) / sizeof(results[0])) {
            fprintf(stderr, "%s: bad plan or scratch too small\n", c->name);
            return 1;
        }
        /* rounds per repeat: about 20 ms of work */
        t0 = cpu_ns();
        for (rounds = 0; cpu_ns() - t0 < 2e7; rounds++)
            if (round_windows(c, need) != EDGERT_OK) return 1;
        for (r = 0; r < repeats; r++) {
            edgert_impulse_timing tm;
            uint64_t sums[EDGERT_IMPULSE_STAGES] = {0}, sum_total = 0;
            double a = cpu_ns();
            uint64_t t = tsc();
            int i;
            int32_t w;
            for (i = 0; i < rounds; i++) round_windows(c, need);
            t = tsc() - t;
            ns[r] = (cpu_ns() - a) / ((double)rounds * c->n_windows);
            ticks[r] = (double)t / ((double)rounds * c->n_windows);
            /* the plan's own per-stage timing hook (wall-clock ns; adds a few clock reads) */
            memset(&tm, 0, sizeof(tm));
            tm.clock = mono_ns;
            for (w = 0; w < c->n_windows; w++) {
                edgert_impulse_run_window(p, c->data + (size_t)c->starts[w] * (size_t)p->n_axes,
                                          (size_t)p->window_samples * (size_t)p->n_axes,
                                          &results[0], &tm, scratch, need);
                for (s = 0; s < EDGERT_IMPULSE_STAGES; s++) sums[s] += tm.ticks[s];
                sum_total += tm.total;
            }
            for (s = 0; s < EDGERT_IMPULSE_STAGES; s++) stage[s][r] = (double)sums[s] / c->n_windows;
            total[r] = (double)sum_total / c->n_windows;
            /* all windows of the recording in one call */
            a = cpu_ns();
            for (i = 0; i < rounds; i++)
                edgert_impulse_run(p, c->data, c->n_rows, c->starts, c->n_windows, results, NULL,
                                   NULL, NULL, scratch, need_all);
            batch[r] = (cpu_ns() - a) / ((double)rounds * c->n_windows);
        }
        printf("%s{\"case\": \"%s\", \"windows\": %d, \"rounds\": %d, \"repeats\": %d, "
               "\"scratch_bytes\": %zu, \"ns_per_window\": %.1f, \"tsc_per_window\": %.0f, "
               "\"stages_ns\": {\"dsp\": %.1f, \"classifier\": %.1f, \"anomaly\": %.1f, "
               "\"total\": %.1f}, \"one_call_ns_per_window\": %.1f}",
               first ? "" : ", ", c->name, c->n_windows, rounds, repeats, need,
               median(ns, repeats), median(ticks, repeats),
               median(stage[EDGERT_IMPULSE_STAGE_DSP], repeats),
               median(stage[EDGERT_IMPULSE_STAGE_CLASSIFIER], repeats),
               median(stage[EDGERT_IMPULSE_STAGE_ANOMALY], repeats), median(total, repeats),
               median(batch, repeats));
        fflush(stdout);
        first = 0;
    }
    printf("]}\n");
    return 0;
}
