/* test_impulse.c - the compiled impulse plan (csrc/impulse.c) without Python.
 *
 * Data: csrc/tests/data/ (tools/gen_impulse_plan_c.py): the demo impulse and a multi-block
 * impulse (raw + flatten + spectral v4, gathered inputs, float32 and int8 classifiers,
 * K-means, GMM) as exported C plans, recordings, and what the Python batch path gives for
 * every window. Checks: bit-identical results window by window and in batches of every pass
 * size; bad input -> status; targeted tampering -> EDGERT_ERR_MODEL; random tampering of every
 * record (counts, indices, parameters, engine tables, K-means arrays) never crashes
 * (ASan/UBSan). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctest.h"
#include "edgert.h"
#include "impulse_cases.h"

#define MAX_SCRATCH (1 << 20)
static uint32_t scratch_mem[MAX_SCRATCH / 4];
static float features_mem[64 * 1024];
static float outputs_mem[4096];
static edgert_impulse_result results_mem[256];

static int same_bits(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* ------------------------------------------------------------------- identical results */
static void check_window_result(const impulse_case *c, int32_t w, const edgert_impulse_result *r,
                                const float *features, const float *outputs)
{
    const edgert_impulse_plan *p = c->plan;
    CHECK_EQ_INT(r->prediction, c->prediction[w]);
    CHECK_EQ_INT(r->n_labels, p->n_labels);
    CHECK(same_bits(r->scores, c->scores + (size_t)w * (size_t)p->n_labels, (size_t)p->n_labels));
    if (p->anomaly >= 0) CHECK(same_bits(&r->anomaly, c->anomaly + w, 1));
    if (features)
        CHECK(same_bits(features, c->features + (size_t)w * (size_t)p->n_features,
                        (size_t)p->n_features));
    if (outputs)
        CHECK(same_bits(outputs, c->outputs + (size_t)w * (size_t)p->n_outputs,
                        (size_t)p->n_outputs));
}

static void test_cases_window_by_window(void)
{
    int k;
    for (k = 0; k < IMPULSE_N_CASES; k++) {
        const impulse_case *c = &impulse_cases[k];
        const edgert_impulse_plan *p = c->plan;
        size_t need = 0;
        int32_t w;
        CHECK_EQ_INT(edgert_impulse_check(p), EDGERT_OK);
        CHECK_EQ_INT(edgert_impulse_scratch_size(p, 1, &need), EDGERT_OK);
        CHECK(need > 0 && need <= sizeof(scratch_mem));
        for (w = 0; w < c->n_windows; w++) {
            edgert_impulse_result r;
            const float *win = c->data + (size_t)c->starts[w] * (size_t)p->n_axes;
            /* exactly the size query's scratch, at an odd offset (the plan aligns it) */
            int st = edgert_impulse_run_window(p, win, (size_t)p->window_samples * (size_t)p->n_axes,
                                               &r, NULL, (char *)scratch_mem + 1, need);
            CHECK_EQ_INT(st, EDGERT_OK);
            check_window_result(c, w, &r, NULL, NULL);
            st = edgert_impulse_run(p, c->data, c->n_rows, c->starts + w, 1, &r, features_mem,
                                    outputs_mem, NULL, scratch_mem, need);
            CHECK_EQ_INT(st, EDGERT_OK);
            check_window_result(c, w, &r, features_mem, outputs_mem);
        }
    }
}

static void test_cases_in_passes(void)
{
    static const int32_t pass_sizes[] = {1, 2, 3, 7, 16, 1000};
    int k;
    size_t i;
    for (k = 0; k < IMPULSE_N_CASES; k++) {
        const impulse_case *c = &impulse_cases[k];
        const edgert_impulse_plan *p = c->plan;
        CHECK((size_t)c->n_windows * (size_t)p->n_features <= sizeof(features_mem) / 4);
        for (i = 0; i < sizeof(pass_sizes) / sizeof(pass_sizes[0]); i++) {
            size_t need = 0;
            int32_t w;
            CHECK_EQ_INT(edgert_impulse_scratch_size(p, pass_sizes[i], &need), EDGERT_OK);
            if (need > sizeof(scratch_mem)) continue;
            memset(results_mem, 0xff, sizeof(results_mem));
            CHECK_EQ_INT(edgert_impulse_run(p, c->data, c->n_rows, c->starts, c->n_windows,
                                            results_mem, features_mem, outputs_mem, NULL,
                                            scratch_mem, need),
                         EDGERT_OK);
            for (w = 0; w < c->n_windows; w++)
                check_window_result(c, w, &results_mem[w],
                                    features_mem + (size_t)w * (size_t)p->n_features,
                                    outputs_mem + (size_t)w * (size_t)p->n_outputs);
        }
    }
}

/* edgert_impulse_run_bound: the same run with the fixed arguments in a struct */
static void test_bound_call(void)
{
    int k;
    for (k = 0; k < IMPULSE_N_CASES; k++) {
        const impulse_case *c = &impulse_cases[k];
        const edgert_impulse_plan *p = c->plan;
        edgert_impulse_args a;
        size_t need = 0;
        int32_t w;
        CHECK_EQ_INT(edgert_impulse_scratch_size(p, 4, &need), EDGERT_OK);
        memset(&a, 0, sizeof(a));
        a.plan = p;
        a.starts = c->starts;
        a.results = results_mem;
        a.features = features_mem;
        a.outputs = outputs_mem;
        a.scratch = scratch_mem;
        a.scratch_bytes = need;
        /* windows 0..3 of the recording (starts[0..3]), then window by window from its rows */
        memset(results_mem, 0xff, sizeof(results_mem));
        CHECK_EQ_INT(edgert_impulse_run_bound(&a, c->data, c->n_rows, 4), EDGERT_OK);
        for (w = 0; w < 4; w++)
            check_window_result(c, w, &results_mem[w],
                                features_mem + (size_t)w * (size_t)p->n_features,
                                outputs_mem + (size_t)w * (size_t)p->n_outputs);
        a.features = a.outputs = NULL;
        for (w = 0; w < c->n_windows; w++) {
            static const int32_t zero = 0;
            a.starts = &zero;
            CHECK_EQ_INT(edgert_impulse_run_bound(&a, c->data + (size_t)c->starts[w] *
                                                              (size_t)p->n_axes,
                                                  p->window_samples, 1),
                         EDGERT_OK);
            check_window_result(c, w, &results_mem[0], NULL, NULL);
        }
        /* the same refusals as edgert_impulse_run */
        CHECK_EQ_INT(edgert_impulse_run_bound(NULL, c->data, c->n_rows, 1), EDGERT_ERR_NULL);
        CHECK_EQ_INT(edgert_impulse_run_bound(&a, c->data, p->window_samples - 1, 1),
                     EDGERT_ERR_ARG);
        a.scratch_bytes = 8;
        CHECK_EQ_INT(edgert_impulse_run_bound(&a, c->data, c->n_rows, 1), EDGERT_ERR_SCRATCH);
        a.scratch_bytes = need;
        a.plan = NULL;
        CHECK_EQ_INT(edgert_impulse_run_bound(&a, c->data, c->n_rows, 1), EDGERT_ERR_NULL);
    }
}

/* the host clocks: monotonic (modulo 2^32), in their units, usable as the timing hook */
static void test_host_clocks(void)
{
    const impulse_case *c = &impulse_cases[0];
    const edgert_impulse_plan *p = c->plan;
    edgert_impulse_timing t;
    edgert_impulse_result r;
    size_t need = 0;
    uint32_t a, b, ua, ub;
    uint64_t stages;
    int i;
    a = edgert_clock_ns(NULL);
    ua = edgert_clock_us(NULL);
    for (i = 0; i < 3; i++) /* three runs between the readings: some time passes */
        CHECK_EQ_INT(edgert_impulse_scratch_size(p, 1, &need), EDGERT_OK);
    b = edgert_clock_ns(NULL);
    ub = edgert_clock_us(NULL);
    CHECK((uint32_t)(b - a) < 1000000000u);     /* forward, under a second */
    CHECK((uint32_t)(ub - ua) < 1000000u);
    memset(&t, 0, sizeof(t));
    t.clock = edgert_clock_ns;
    CHECK_EQ_INT(edgert_impulse_run_window(p, c->data, (size_t)p->window_samples *
                                                       (size_t)p->n_axes,
                                           &r, &t, scratch_mem, need),
                 EDGERT_OK);
    stages = t.ticks[0] + t.ticks[1] + t.ticks[2];
    CHECK(t.total > 0 && t.total < 1000000000u);  /* a window takes time, under a second */
    CHECK(stages <= t.total);
    CHECK(t.ticks[EDGERT_IMPULSE_STAGE_DSP] > 0);
}

/* The learn blocks on the reference features (what the batch path's DSP gave): the same
 * results and outputs as the whole run; a NaN feature is refused. */
static void test_cases_from_features(void)
{
    int k;
    for (k = 0; k < IMPULSE_N_CASES; k++) {
        const impulse_case *c = &impulse_cases[k];
        const edgert_impulse_plan *p = c->plan;
        size_t need = 0;
        int32_t w;
        CHECK_EQ_INT(edgert_impulse_scratch_size(p, 4, &need), EDGERT_OK);
        CHECK(need <= sizeof(scratch_mem));
        memset(results_mem, 0xff, sizeof(results_mem));
        memset(outputs_mem, 0xff, sizeof(outputs_mem));
        CHECK_EQ_INT(edgert_impulse_run_features(p, c->features, c->n_windows, results_mem,
                                                 outputs_mem, NULL, scratch_mem, need),
                     EDGERT_OK);
        for (w = 0; w < c->n_windows; w++)
            check_window_result(c, w, &results_mem[w], NULL,
                                outputs_mem + (size_t)w * (size_t)p->n_outputs);
        CHECK_EQ_INT(edgert_impulse_run_features(p, c->features, 0, results_mem, NULL, NULL,
                                                 scratch_mem, need), EDGERT_OK);
        CHECK_EQ_INT(edgert_impulse_run_features(p, NULL, 1, results_mem, NULL, NULL,
                                                 scratch_mem, need), EDGERT_ERR_NULL);
        CHECK_EQ_INT(edgert_impulse_run_features(p, c->features, 1, results_mem, NULL, NULL,
                                                 scratch_mem, 8), EDGERT_ERR_SCRATCH);
        memcpy(features_mem, c->features, (size_t)p->n_features * sizeof(float));
        features_mem[p->n_features - 1] = NAN;
        CHECK_EQ_INT(edgert_impulse_run_features(p, features_mem, 1, results_mem, NULL, NULL,
                                                 scratch_mem, need), EDGERT_ERR_NONFINITE);
    }
}

/* ------------------------------------------------------------------------ timing hook */
static uint32_t counter_clock(void *context)
{
    uint32_t *t = (uint32_t *)context;
    *t += 1000u; /* every reading advances 1000 ticks; wraps around 2^32 on purpose */
    return *t;
}

static void test_timing(void)
{
    const impulse_case *c = &impulse_cases[0];
    const edgert_impulse_plan *p = c->plan;
    uint32_t now = 0xffffe000u; /* wraps during the run: differences are modulo 2^32 */
    edgert_impulse_timing t;
    edgert_impulse_result r;
    size_t need;
    edgert_impulse_scratch_size(p, 1, &need);
    memset(&t, 0, sizeof(t));
    t.clock = counter_clock;
    t.context = &now;
    CHECK_EQ_INT(edgert_impulse_run(p, c->data, c->n_rows, c->starts, 3, results_mem, NULL, NULL,
                                    &t, scratch_mem, need),
                 EDGERT_OK);
    /* 3 passes of 1 window: each stage is read once per pass, 1000 ticks apart */
    CHECK_EQ_INT(t.ticks[EDGERT_IMPULSE_STAGE_DSP], 3000);
    CHECK_EQ_INT(t.ticks[EDGERT_IMPULSE_STAGE_CLASSIFIER], 3000);
    CHECK_EQ_INT(t.ticks[EDGERT_IMPULSE_STAGE_ANOMALY], 3000);
    CHECK_EQ_INT(t.total, 13000);   /* 14 readings: 2 for the call, 4 per pass */
    t.clock = NULL;
    CHECK_EQ_INT(edgert_impulse_run_window(p, c->data, 375, &r, &t, scratch_mem, need),
                 EDGERT_ERR_NULL);
}

/* ------------------------------------------------------------------------- bad input */
static void test_bad_input(void)
{
    const impulse_case *c = &impulse_cases[0];
    const edgert_impulse_plan *p = c->plan;
    const size_t n_values = (size_t)p->window_samples * (size_t)p->n_axes;
    static float window[4096];
    edgert_impulse_result r;
    int32_t start;
    size_t need = 0, need8 = 0;
    CHECK_EQ_INT(edgert_impulse_scratch_size(p, 1, &need), EDGERT_OK);
    CHECK_EQ_INT(edgert_impulse_scratch_size(p, 8, &need8), EDGERT_OK);
    CHECK(need8 > need);
    CHECK_EQ_INT(edgert_impulse_scratch_size(p, 0, &need8), EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_impulse_scratch_size(p, 1, NULL), EDGERT_ERR_NULL);
    CHECK_EQ_INT(edgert_impulse_scratch_size(NULL, 1, &need8), EDGERT_ERR_NULL);
    CHECK_EQ_INT(edgert_impulse_check(NULL), EDGERT_ERR_NULL);
    memcpy(window, c->data, n_values * sizeof(float));
    CHECK_EQ_INT(edgert_impulse_run_window(p, window, n_values, &r, NULL, scratch_mem, need), 0);
    /* NaN / inf anywhere in the window */
    window[200] = NAN;
    CHECK_EQ_INT(edgert_impulse_run_window(p, window, n_values, &r, NULL, scratch_mem, need),
                 EDGERT_ERR_NONFINITE);
    window[200] = -INFINITY;
    CHECK_EQ_INT(edgert_impulse_run_window(p, window, n_values, &r, NULL, scratch_mem, need),
                 EDGERT_ERR_NONFINITE);
    window[200] = 3e38f; /* finite: the spectral block works in double, quantization clamps */
    CHECK_EQ_INT(edgert_impulse_run_window(p, window, n_values, &r, NULL, scratch_mem, need),
                 EDGERT_OK);
    window[200] = 0.0f;
    /* wrong lengths */
    CHECK_EQ_INT(edgert_impulse_run_window(p, window, n_values - 1, &r, NULL, scratch_mem, need),
                 EDGERT_ERR_SHAPE);
    CHECK_EQ_INT(edgert_impulse_run_window(p, window, n_values + 3, &r, NULL, scratch_mem, need),
                 EDGERT_ERR_SHAPE);
    CHECK_EQ_INT(edgert_impulse_run_window(p, window, 0, &r, NULL, scratch_mem, need),
                 EDGERT_ERR_SHAPE);
    /* windows outside the recording */
    start = 1;
    CHECK_EQ_INT(edgert_impulse_run(p, window, p->window_samples, &start, 1, &r, NULL, NULL,
                                    NULL, scratch_mem, need),
                 EDGERT_ERR_ARG);
    start = -1;
    CHECK_EQ_INT(edgert_impulse_run(p, window, p->window_samples + 5, &start, 1, &r, NULL, NULL,
                                    NULL, scratch_mem, need),
                 EDGERT_ERR_ARG);
    start = 0;
    CHECK_EQ_INT(edgert_impulse_run(p, window, p->window_samples - 1, &start, 1, &r, NULL, NULL,
                                    NULL, scratch_mem, need),
                 EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_impulse_run(p, window, p->window_samples, &start, -1, &r, NULL, NULL,
                                    NULL, scratch_mem, need),
                 EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_impulse_run(p, window, p->window_samples, &start, 0, NULL, NULL, NULL,
                                    NULL, NULL, 0),
                 EDGERT_OK);
    /* scratch */
    CHECK_EQ_INT(edgert_impulse_run_window(p, window, n_values, &r, NULL, scratch_mem, need - 1),
                 EDGERT_ERR_SCRATCH);
    CHECK_EQ_INT(edgert_impulse_run_window(p, window, n_values, &r, NULL, NULL, need),
                 EDGERT_ERR_NULL);
    CHECK_EQ_INT(edgert_impulse_run_window(p, NULL, n_values, &r, NULL, scratch_mem, need),
                 EDGERT_ERR_NULL);
    CHECK_EQ_INT(edgert_impulse_run_window(p, window, n_values, NULL, NULL, scratch_mem, need),
                 EDGERT_ERR_NULL);
    CHECK_EQ_INT(edgert_impulse_run(p, window, p->window_samples, NULL, 1, &r, NULL, NULL, NULL,
                                    scratch_mem, need),
                 EDGERT_ERR_NULL);
}

/* ---------------------------------------------------------------- a writable plan copy */
/* Everything a plan points to, copied into writable memory so tests can tamper with it. */
#define MAX_TENSORS 64
#define MAX_OPS 32
#define MAX_KM 512
typedef struct {
    edgert_impulse_plan plan;
    edgert_impulse_dsp dsp[EDGERT_IMPULSE_MAX_DSP];
    edgert_impulse_learn learn[EDGERT_IMPULSE_MAX_LEARN];
    edgert_plan net[EDGERT_IMPULSE_MAX_LEARN];
    edgert_tensor tensors[EDGERT_IMPULSE_MAX_LEARN][MAX_TENSORS];
    edgert_op ops[EDGERT_IMPULSE_MAX_LEARN][MAX_OPS];
    int32_t km_axes[EDGERT_IMPULSE_MAX_LEARN][MAX_KM];
    float km_mean[EDGERT_IMPULSE_MAX_LEARN][MAX_KM], km_scale[EDGERT_IMPULSE_MAX_LEARN][MAX_KM];
    float km_centers[EDGERT_IMPULSE_MAX_LEARN][MAX_KM], km_err[EDGERT_IMPULSE_MAX_LEARN][MAX_KM];
    int32_t select[EDGERT_IMPULSE_MAX_LEARN][MAX_KM];
} plan_copy;

static plan_copy copy_mem;

/* Point every pointer field of the copy at the copy's own arrays (after a tampering pass may
 * have overwritten them: pointers are trusted, counts are not). */
static void relink(plan_copy *m, const edgert_impulse_plan *src)
{
    int32_t i;
    m->plan.dsp = m->dsp;
    m->plan.learn = m->learn;
    for (i = 0; i < EDGERT_IMPULSE_MAX_LEARN; i++) {
        edgert_impulse_learn *l = &m->learn[i];
        const edgert_impulse_learn *s = i < src->n_learn ? &src->learn[i] : NULL;
        l->net = (s && s->net) ? &m->net[i] : NULL;
        l->consts = s ? s->consts : NULL;
        l->select = (s && s->select) ? m->select[i] : NULL;
        m->net[i].tensors = m->tensors[i];
        m->net[i].ops = m->ops[i];
        l->kmeans.axes = m->km_axes[i];
        l->kmeans.mean = m->km_mean[i];
        l->kmeans.scale = m->km_scale[i];
        l->kmeans.centers = m->km_centers[i];
        l->kmeans.max_error = m->km_err[i];
    }
}

/* Bound the counts a tampered copy may carry to the arrays the copy has, and keep the size
 * of the constant blob (the C core trusts a pointer to hold as many entries as its count
 * says - the caller's contract, like the pointers themselves). */
static void bound_counts(plan_copy *m, const edgert_impulse_plan *src)
{
    int32_t i;
    for (i = 0; i < EDGERT_IMPULSE_MAX_LEARN; i++) {
        edgert_impulse_learn *l = &m->learn[i];
        l->consts_bytes = i < src->n_learn ? src->learn[i].consts_bytes : 0;
        if (m->net[i].n_tensors > MAX_TENSORS) m->net[i].n_tensors = MAX_TENSORS;
        if (m->net[i].n_ops > MAX_OPS) m->net[i].n_ops = MAX_OPS;
        if (l->n_select > MAX_KM) l->n_select = MAX_KM;
        if (l->kmeans.n_axes > 16) l->kmeans.n_axes = 16;
        if (l->kmeans.n_clusters > 16) l->kmeans.n_clusters = 16;
    }
}

static void make_copy(plan_copy *m, const edgert_impulse_plan *src)
{
    int32_t i;
    memset(m, 0, sizeof(*m));
    m->plan = *src;
    memcpy(m->dsp, src->dsp, (size_t)src->n_dsp * sizeof(edgert_impulse_dsp));
    memcpy(m->learn, src->learn, (size_t)src->n_learn * sizeof(edgert_impulse_learn));
    for (i = 0; i < src->n_learn; i++) {
        const edgert_impulse_learn *l = &src->learn[i];
        if (l->net) {
            CHECK(l->net->n_tensors <= MAX_TENSORS && l->net->n_ops <= MAX_OPS);
            m->net[i] = *l->net;
            memcpy(m->tensors[i], l->net->tensors, (size_t)l->net->n_tensors * sizeof(edgert_tensor));
            memcpy(m->ops[i], l->net->ops, (size_t)l->net->n_ops * sizeof(edgert_op));
        }
        if (l->select) memcpy(m->select[i], l->select, (size_t)l->n_select * sizeof(int32_t));
        if (l->type == EDGERT_LEARN_KMEANS) {
            const edgert_kmeans_params *k = &l->kmeans;
            memcpy(m->km_axes[i], k->axes, (size_t)k->n_axes * 4);
            memcpy(m->km_mean[i], k->mean, (size_t)k->n_axes * 4);
            memcpy(m->km_scale[i], k->scale, (size_t)k->n_axes * 4);
            memcpy(m->km_centers[i], k->centers, (size_t)k->n_axes * (size_t)k->n_clusters * 4);
            memcpy(m->km_err[i], k->max_error, (size_t)k->n_clusters * 4);
        }
    }
    relink(m, src);
}

/* Run a (tampered) copy on the case's first window. The window buffer holds what the
 * untouched plan says (window_samples x n_axes values): a copy whose own sizes disagree must
 * refuse it (EDGERT_ERR_SHAPE) rather than read past it. */
static int run_copy(const impulse_case *c, plan_copy *m)
{
    edgert_impulse_result r;
    const edgert_impulse_plan *p = c->plan;
    return edgert_impulse_run_window(&m->plan, c->data + (size_t)c->starts[0] * (size_t)p->n_axes,
                                     (size_t)p->window_samples * (size_t)p->n_axes, &r, NULL,
                                     scratch_mem, sizeof(scratch_mem));
}

/* --------------------------------------------------------------- targeted tampering */
#define TAMPER(stmt) do { make_copy(m, c->plan); stmt; \
    CHECK_EQ_INT(run_copy(c, m), EDGERT_ERR_MODEL); \
    CHECK_EQ_INT(edgert_impulse_check(&m->plan), EDGERT_ERR_MODEL); } while (0)

static void test_tampering(void)
{
    plan_copy *m = &copy_mem;
    int k;
    for (k = 0; k < IMPULSE_N_CASES; k++) {
        const impulse_case *c = &impulse_cases[k];
        int32_t cls = c->plan->classifier, an = c->plan->anomaly;
        make_copy(m, c->plan);
        CHECK_EQ_INT(run_copy(c, m), EDGERT_OK);   /* the untouched copy runs */
        TAMPER(m->plan.n_axes = 0);
        TAMPER(m->plan.window_samples = 0);
        TAMPER(m->plan.n_dsp = 0);
        TAMPER(m->plan.n_dsp = EDGERT_IMPULSE_MAX_DSP + 1);
        TAMPER(m->plan.n_features += 1);
        TAMPER(m->plan.n_learn = -1);
        TAMPER(m->plan.n_outputs += 1);
        TAMPER(m->plan.classifier = c->plan->n_learn);
        TAMPER(m->plan.n_labels = EDGERT_IMPULSE_MAX_LABELS + 1);
        TAMPER(m->plan.anomaly = -2);
        TAMPER(m->dsp[0].type = 99);
        TAMPER(m->dsp[0].n_axes = 0);
        TAMPER(m->dsp[0].n_axes = EDGERT_IMPULSE_MAX_AXES + 1);
        TAMPER(m->dsp[0].axes[0] = c->plan->n_axes);
        TAMPER(m->dsp[0].axes[0] = -1);
        TAMPER(m->dsp[0].n_features += 1);
        TAMPER(m->dsp[0].offset = 1);
        TAMPER(m->learn[0].n_dsp = 0);
        TAMPER(m->learn[0].dsp[0] = c->plan->n_dsp);
        TAMPER(m->learn[0].n_features -= 1);
        TAMPER(m->learn[0].output_offset = 1);
        TAMPER(m->learn[0].type = 0);
        TAMPER(m->learn[0].threshold = NAN);
        if (cls >= 0) {
            TAMPER(m->learn[cls].n_outputs += 1);
            TAMPER(m->learn[cls].net = NULL);
            TAMPER(m->learn[cls].in_dtype = EDGERT_DTYPE_INT32);
            TAMPER(m->learn[cls].out_dtype = m->learn[cls].out_dtype == EDGERT_DTYPE_INT8
                                                 ? EDGERT_DTYPE_FLOAT32 : EDGERT_DTYPE_INT8);
            TAMPER(m->net[cls].n_inputs = 2);
            TAMPER(m->net[cls].arena_bytes = 0);
            TAMPER(m->tensors[cls][m->net[cls].inputs[0]].bytes += 1);
            TAMPER(m->tensors[cls][0].offset = 0x7ffffff0u);
            TAMPER(m->ops[cls][0].type = EDGERT_OP_COUNT);
            TAMPER(m->ops[cls][0].in[0] = 999);
            TAMPER(m->plan.anomaly = cls);
            if (c->plan->learn[cls].in_dtype == EDGERT_DTYPE_INT8) {
                TAMPER(m->learn[cls].in_scale = 0.0f);
                TAMPER(m->learn[cls].in_scale = INFINITY);
                TAMPER(m->learn[cls].in_zero_point = 128);
            }
            if (c->plan->learn[cls].out_dtype == EDGERT_DTYPE_INT8)
                TAMPER(m->learn[cls].out_zero_point = -129);
        }
        if (an >= 0) TAMPER(m->plan.classifier = an);
        {
            int32_t i;
            for (i = 0; i < c->plan->n_learn; i++) {
                const edgert_impulse_learn *l = &c->plan->learn[i];
                if (l->type == EDGERT_LEARN_KMEANS) {
                    TAMPER(m->learn[i].kmeans.n_axes = 0);
                    TAMPER(m->learn[i].kmeans.n_clusters = 0);
                    TAMPER(m->km_axes[i][0] = l->n_features);
                    TAMPER(m->km_scale[i][0] = 0.0f);
                    TAMPER(m->km_centers[i][1] = NAN);
                    TAMPER(m->learn[i].n_outputs = 2);
                }
                if (l->type == EDGERT_LEARN_GMM) {
                    TAMPER(m->learn[i].n_select = 0);
                    TAMPER(m->select[i][0] = l->n_features);
                    TAMPER(m->learn[i].n_select += 1);
                    TAMPER(m->learn[i].in_dtype = EDGERT_DTYPE_INT8);
                }
                if (l->n_dsp > 1) TAMPER(m->learn[i].dsp[1] = -1);
            }
            for (i = 0; i < c->plan->n_dsp; i++)
                if (c->plan->dsp[i].type == EDGERT_DSP_SPECTRAL) {
                    TAMPER(m->dsp[i].p.spectral.fft_length = 17);
                    TAMPER(m->dsp[i].p.spectral.version = 5);
                    TAMPER(m->dsp[i].p.spectral.filter_type = 7);
                } else if (c->plan->dsp[i].type == EDGERT_DSP_FLATTEN) {
                    TAMPER(m->dsp[i].p.flatten.average = m->dsp[i].p.flatten.minimum =
                               m->dsp[i].p.flatten.maximum = m->dsp[i].p.flatten.rms =
                                   m->dsp[i].p.flatten.stdev = m->dsp[i].p.flatten.skewness =
                                       m->dsp[i].p.flatten.kurtosis = 0);
                } else if (c->plan->dsp[i].type == EDGERT_DSP_RAW) {
                    TAMPER(m->dsp[i].p.raw.scale_axes = NAN);
                }
        }
    }
}

/* -------------------------------------------------------------------- random tampering */
static uint32_t rng_state = 12345u;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* A plausible-but-wrong value: small numbers, boundaries, or a random bit pattern. */
static void scribble(void *base, size_t size)
{
    unsigned char *p = (unsigned char *)base;
    size_t at = (rnd() % (size / 4)) * 4;
    int32_t v;
    switch (rnd() % 6) {
    case 0: v = (int32_t)(rnd() % 8) - 2; break;
    case 1: v = INT32_MAX - (int32_t)(rnd() % 4); break;
    case 2: v = INT32_MIN; break;
    case 3: { float f = (float)((int32_t)(rnd() % 2001) - 1000) / 7.0f; memcpy(&v, &f, 4); } break;
    case 4: { float f = (rnd() & 1) ? NAN : INFINITY; memcpy(&v, &f, 4); } break;
    default: v = (int32_t)rnd(); break;
    }
    memcpy(p + at, &v, 4);
}

static void test_random_tampering(void)
{
    plan_copy *m = &copy_mem;
    int k, iter, model = 0, other = 0, ok = 0;
    for (k = 0; k < IMPULSE_N_CASES; k++) {
        const impulse_case *c = &impulse_cases[k];
        for (iter = 0; iter < 3000; iter++) {
            int edits = 1 + (int)(rnd() % 3), e, st;
            make_copy(m, c->plan);
            for (e = 0; e < edits; e++) {
                int32_t li = (int32_t)(rnd() % (uint32_t)(c->plan->n_learn > 0 ? c->plan->n_learn : 1));
                switch (rnd() % 8) {
                case 0: scribble(&m->plan, sizeof(m->plan)); break;
                case 1: scribble(&m->dsp[rnd() % (uint32_t)c->plan->n_dsp], sizeof(edgert_impulse_dsp)); break;
                case 2: case 3: scribble(&m->learn[li], sizeof(edgert_impulse_learn)); break;
                case 4: scribble(&m->net[li], sizeof(edgert_plan)); break;
                case 5: scribble(m->tensors[li], sizeof(m->tensors[li])); break;
                case 6: scribble(m->ops[li], sizeof(m->ops[li])); break;
                default: scribble(m->km_axes[li], 64); scribble(m->km_centers[li], 64); break;
                }
            }
            relink(m, c->plan);
            bound_counts(m, c->plan);
            st = run_copy(c, m);
            if (st == EDGERT_OK) ok++;
            else if (st == EDGERT_ERR_MODEL) model++;
            else other++;
        }
    }
    printf("random tampering: %d runs rejected as EDGERT_ERR_MODEL, %d ran (values changed "
           "within range), %d other statuses\n", model, ok, other);
    CHECK(model > 0);
}

static void test_copy_finite(void)
{
    float in[37], out[37];
    int i;
    for (i = 0; i < 37; i++) in[i] = (float)i * -1.5f + 1e30f * (float)(i == 5);
    memset(out, 0, sizeof(out));
    CHECK_EQ_INT(edgert_copy_finite(in, 37, out), EDGERT_OK);
    CHECK(memcmp(in, out, sizeof(in)) == 0);
    CHECK_EQ_INT(edgert_copy_finite(NULL, 0, NULL), EDGERT_OK);
    CHECK_EQ_INT(edgert_copy_finite(NULL, 3, out), EDGERT_ERR_NULL);
    CHECK_EQ_INT(edgert_copy_finite(in, 3, NULL), EDGERT_ERR_NULL);
    in[36] = NAN;
    CHECK_EQ_INT(edgert_copy_finite(in, 37, out), EDGERT_ERR_NONFINITE);
    CHECK_EQ_INT(edgert_copy_finite(in, 36, out), EDGERT_OK);
    in[0] = -INFINITY;
    CHECK_EQ_INT(edgert_copy_finite(in, 1, out), EDGERT_ERR_NONFINITE);
    in[0] = FLT_MAX;
    CHECK_EQ_INT(edgert_copy_finite(in, 1, out), EDGERT_OK);
}

int main(void)
{
    test_copy_finite();
    test_cases_window_by_window();
    test_cases_in_passes();
    test_timing();
    test_bound_call();
    test_host_clocks();
    test_bad_input();
    test_cases_from_features();
    test_tampering();
    test_random_tampering();
    CTEST_END();
}
