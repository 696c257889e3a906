/* impulse.c - the whole impulse as one compiled plan (see the "impulse plan" section of
 * edgert.h): one call takes raw windows through every DSP block, the learn blocks' feature
 * concatenation, int8 quantization, the networks, dequantization, K-means / GMM scoring and
 * Studio's prediction rule.
 *
 * Nothing here computes features, runs layers or scores clusters itself: every stage calls
 * the kernel the whole-recording batch path calls (edgert_*_features_batch,
 * edgert_quantize_int8, edgert_engine_invoke_batch, edgert_dequantize_int8,
 * edgert_kmeans_score_batch), on the same values in the same order, so the plan's numbers
 * are the batch path's numbers bit for bit. What this file adds is validation of the plan,
 * the scratch layout, and the plumbing between the stages.
 *
 * Reentrant, no malloc, no static mutable state; the plan is read-only. */
#include <math.h>
#include <string.h>

#include "edgert.h"
#include "edgert_config.h"
#include "spectral_internal.h"

/* Per-window and fixed scratch needs of a validated plan. */
typedef struct {
    uint64_t feats, outs, gather, netin, netout, kscore; /* bytes per window */
    uint64_t arena, dsp;                                 /* bytes, whatever the pass size */
} need_t;

static int finite_f(float v) { return v == v && v - v == 0.0f; }

static uint64_t al16(uint64_t b) { return (b + 15u) & ~(uint64_t)15u; }

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static uint32_t element_bytes(int32_t dtype)
{
    if (dtype == EDGERT_DTYPE_INT8) return 1;
    if (dtype == EDGERT_DTYPE_FLOAT32) return 4;
    return 0;
}

/* ------------------------------------------------------------------------- DSP blocks */
/* The one place that knows the DSP block types (with dsp_features): feature count and
 * scratch bytes of a block. A type
 * a build leaves out (EDGERT_WITH_DSP_*, edgert_config.h) is EDGERT_ERR_UNSUPPORTED here, so
 * the plan is refused before anything runs, and its kernel is not linked in. */
static int dsp_count(const edgert_impulse_dsp *d, int32_t window, int32_t *n_features,
                     size_t *scratch_bytes)
{
    int64_t n;
    *scratch_bytes = 0;
    switch (d->type) {
    case EDGERT_DSP_SPECTRAL:
        if (!EDGERT_WITH_DSP_SPECTRAL) return EDGERT_ERR_UNSUPPORTED;
        return edgert__spectral_sizes(&d->p.spectral, window, d->n_axes, n_features,
                                      scratch_bytes);
    case EDGERT_DSP_RAW:
        if (!EDGERT_WITH_DSP_RAW) return EDGERT_ERR_UNSUPPORTED;
        if (!isfinite(d->p.raw.scale_axes)) return EDGERT_ERR_PARAM;
        n = (int64_t)window * d->n_axes;
        if (n > INT32_MAX) return EDGERT_ERR_OVERFLOW;
        *n_features = (int32_t)n;
        return EDGERT_OK;
    case EDGERT_DSP_FLATTEN:
        if (!EDGERT_WITH_DSP_FLATTEN) return EDGERT_ERR_UNSUPPORTED;
        return edgert_flatten_check(&d->p.flatten, d->n_axes, n_features);
    case EDGERT_DSP_AUDIO:
        if (!EDGERT_WITH_DSP_AUDIO) return EDGERT_ERR_UNSUPPORTED;
        return edgert__audio_sizes(&d->p.audio, window, d->n_axes, n_features, scratch_bytes);
    default:
        return EDGERT_ERR_MODEL;
    }
}

static int dsp_features(const edgert_impulse_dsp *d, const float *data, int32_t n_rows,
                        int32_t row_stride, const int32_t *starts, int32_t n, int32_t window,
                        float *out, int32_t out_stride, void *scratch, size_t scratch_bytes)
{
    switch (d->type) {
    case EDGERT_DSP_SPECTRAL:
        if (!EDGERT_WITH_DSP_SPECTRAL) return EDGERT_ERR_UNSUPPORTED;
        return edgert_spectral_features_batch(&d->p.spectral, data, n_rows, row_stride,
                                              d->axes, d->n_axes, starts, n, window, out,
                                              out_stride, scratch, scratch_bytes);
    case EDGERT_DSP_RAW:
        if (!EDGERT_WITH_DSP_RAW) return EDGERT_ERR_UNSUPPORTED;
        return edgert_raw_features_batch(&d->p.raw, data, n_rows, row_stride, d->axes,
                                         d->n_axes, starts, n, window, out, out_stride);
    case EDGERT_DSP_FLATTEN:
        if (!EDGERT_WITH_DSP_FLATTEN) return EDGERT_ERR_UNSUPPORTED;
        return edgert_flatten_features_batch(&d->p.flatten, data, n_rows, row_stride, d->axes,
                                             d->n_axes, starts, n, window, out, out_stride);
    case EDGERT_DSP_AUDIO:
        if (!EDGERT_WITH_DSP_AUDIO) return EDGERT_ERR_UNSUPPORTED;
        return edgert_audio_features_batch(&d->p.audio, data, n_rows, row_stride, d->axes,
                                           d->n_axes, starts, n, window, out, out_stride,
                                           scratch, scratch_bytes);
    default:
        return EDGERT_ERR_MODEL;
    }
}

/* ------------------------------------------------------------------------ learn blocks */
/* A learn block reads its input in place when its DSP blocks are consecutive in table order
 * (their features are then adjacent in the feature row); otherwise it is gathered. */
static int input_is_view(const edgert_impulse_learn *l)
{
    int32_t i;
    for (i = 1; i < l->n_dsp; i++)
        if (l->dsp[i] != l->dsp[i - 1] + 1) return 0;
    return 1;
}

/* deep: run edgert_engine_check too. A run checks shallowly: the engine checks the whole
 * plan again when it is invoked (and the run maps its refusal to EDGERT_ERR_MODEL), so the
 * run needs only what sizes its buffers - consistent I/O records - before that. */
static int check_net(const edgert_impulse_learn *l, int32_t n_in, need_t *nd,
                     int32_t *n_out_elements, int deep)
{
    const edgert_plan *net = l->net;
    const edgert_tensor *ti, *to;
    uint32_t ie = element_bytes(l->in_dtype), oe = element_bytes(l->out_dtype);
    if (!net || (l->consts_bytes > 0 && !l->consts)) return EDGERT_ERR_MODEL;
    if (deep) {
        int st = edgert_engine_check(net, l->consts, l->consts_bytes);
        if (st != EDGERT_OK) return st == EDGERT_ERR_UNSUPPORTED ? st : EDGERT_ERR_MODEL;
    }
    if (net->n_inputs != 1 || net->n_outputs != 1 || !net->tensors || net->inputs[0] < 0 ||
        net->inputs[0] >= net->n_tensors || net->outputs[0] < 0 ||
        net->outputs[0] >= net->n_tensors)
        return EDGERT_ERR_MODEL;
    ti = &net->tensors[net->inputs[0]];
    to = &net->tensors[net->outputs[0]];
    if (ie == 0 || oe == 0 || ti->dtype != l->in_dtype || to->dtype != l->out_dtype)
        return EDGERT_ERR_MODEL;
    if (l->in_dtype == EDGERT_DTYPE_INT8 &&
        (!finite_f(l->in_scale) || l->in_scale <= 0.0f || l->in_zero_point < -128 ||
         l->in_zero_point > 127))
        return EDGERT_ERR_MODEL;
    if (l->out_dtype == EDGERT_DTYPE_INT8 &&
        (!finite_f(l->out_scale) || l->out_zero_point < -128 || l->out_zero_point > 127))
        return EDGERT_ERR_MODEL;
    if ((uint64_t)ti->bytes != (uint64_t)n_in * ie || to->bytes % oe != 0 || to->bytes == 0)
        return EDGERT_ERR_MODEL;
    if (to->bytes / oe > (uint32_t)INT32_MAX) return EDGERT_ERR_MODEL;
    *n_out_elements = (int32_t)(to->bytes / oe);
    nd->netin = max_u64(nd->netin, ti->bytes);
    nd->netout = max_u64(nd->netout, to->bytes);
    nd->arena = max_u64(nd->arena, net->arena_bytes);
    return EDGERT_OK;
}

static int check_learn(const edgert_impulse_plan *plan, const edgert_impulse_learn *l,
                       int32_t output_offset, need_t *nd, int deep)
{
    int64_t n_in = 0;
    int32_t i, n_out = 0;
    int st;
    if (l->n_dsp < 1 || l->n_dsp > EDGERT_IMPULSE_MAX_DSP) return EDGERT_ERR_MODEL;
    for (i = 0; i < l->n_dsp; i++) {
        if (l->dsp[i] < 0 || l->dsp[i] >= plan->n_dsp) return EDGERT_ERR_MODEL;
        n_in += plan->dsp[l->dsp[i]].n_features;
    }
    if (n_in != l->n_features || n_in < 1) return EDGERT_ERR_MODEL;
    if (l->output_offset != output_offset || l->threshold != l->threshold) return EDGERT_ERR_MODEL;
    if (!input_is_view(l)) nd->gather = max_u64(nd->gather, (uint64_t)n_in * 4u);
    switch (l->type) {
    case EDGERT_LEARN_CLASSIFIER:
        if ((st = check_net(l, l->n_features, nd, &n_out, deep)) != EDGERT_OK) return st;
        return l->n_outputs != n_out ? EDGERT_ERR_MODEL : EDGERT_OK;
    case EDGERT_LEARN_GMM:
        if (l->n_select < 1 || !l->select || l->in_dtype != EDGERT_DTYPE_FLOAT32 ||
            l->out_dtype != EDGERT_DTYPE_FLOAT32 || l->n_outputs != 1)
            return EDGERT_ERR_MODEL;
        for (i = 0; i < l->n_select; i++)
            if (l->select[i] < 0 || l->select[i] >= l->n_features) return EDGERT_ERR_MODEL;
        return check_net(l, l->n_select, nd, &n_out, deep);
    case EDGERT_LEARN_KMEANS:
        if (l->n_outputs != 1 || l->kmeans.n_axes < 1 || !l->kmeans.axes)
            return EDGERT_ERR_MODEL;
        /* the axes index the block's input; the kernel checks them against the row stride */
        for (i = 0; i < l->kmeans.n_axes; i++)
            if (l->kmeans.axes[i] < 0 || l->kmeans.axes[i] >= l->n_features)
                return EDGERT_ERR_MODEL;
        if (deep && edgert_kmeans_check(&l->kmeans, l->n_features) != EDGERT_OK)
            return EDGERT_ERR_MODEL;
        nd->kscore = 4;
        return EDGERT_OK;
    default:
        return EDGERT_ERR_MODEL;
    }
}

/* Every check of the plan (deep: also the engine plans and K-means parameters, which the
 * kernels check again when a run calls them); fills the scratch needs. */
static int validate(const edgert_impulse_plan *plan, need_t *nd, int deep)
{
    int64_t offset = 0;
    int32_t i, k;
    int st;
    memset(nd, 0, sizeof(*nd));
    if (!plan) return EDGERT_ERR_NULL;
    if (plan->n_axes < 1 || plan->window_samples < 1 || plan->n_dsp < 1 ||
        plan->n_dsp > EDGERT_IMPULSE_MAX_DSP || !plan->dsp || plan->n_learn < 0 ||
        plan->n_learn > EDGERT_IMPULSE_MAX_LEARN || (plan->n_learn > 0 && !plan->learn))
        return EDGERT_ERR_MODEL;
    if ((int64_t)plan->window_samples * plan->n_axes > INT32_MAX) return EDGERT_ERR_MODEL;
    for (i = 0; i < plan->n_dsp; i++) {
        const edgert_impulse_dsp *d = &plan->dsp[i];
        int32_t nf = 0;
        size_t sb = 0;
        if (d->n_axes < 1 || d->n_axes > EDGERT_IMPULSE_MAX_AXES) return EDGERT_ERR_MODEL;
        for (k = 0; k < d->n_axes; k++)
            if (d->axes[k] < 0 || d->axes[k] >= plan->n_axes) return EDGERT_ERR_MODEL;
        st = dsp_count(d, plan->window_samples, &nf, &sb);
        if (st == EDGERT_ERR_UNSUPPORTED) return st;   /* a part this build leaves out */
        if (st != EDGERT_OK || nf != d->n_features || d->offset != offset)
            return EDGERT_ERR_MODEL;
        nd->dsp = max_u64(nd->dsp, sb);
        offset += nf;
        if (offset > INT32_MAX) return EDGERT_ERR_MODEL;
    }
    if (offset != plan->n_features) return EDGERT_ERR_MODEL;
    nd->feats = (uint64_t)offset * 4u;
    offset = 0;
    for (i = 0; i < plan->n_learn; i++) {
        const edgert_impulse_learn *l = &plan->learn[i];
        if ((st = check_learn(plan, l, (int32_t)offset, nd, deep)) != EDGERT_OK) return st;
        offset += l->n_outputs;
        if (offset > INT32_MAX) return EDGERT_ERR_MODEL;
    }
    if (offset != plan->n_outputs) return EDGERT_ERR_MODEL;
    nd->outs = (uint64_t)offset * 4u;
    if (plan->classifier < -1 || plan->classifier >= plan->n_learn || plan->anomaly < -1 ||
        plan->anomaly >= plan->n_learn)
        return EDGERT_ERR_MODEL;
    if (plan->classifier >= 0) {
        const edgert_impulse_learn *c = &plan->learn[plan->classifier];
        if (c->type != EDGERT_LEARN_CLASSIFIER || c->n_outputs != plan->n_labels ||
            plan->n_labels > EDGERT_IMPULSE_MAX_LABELS)
            return EDGERT_ERR_MODEL;
    } else if (plan->n_labels != 0) {
        return EDGERT_ERR_MODEL;
    }
    if (plan->anomaly >= 0 && plan->learn[plan->anomaly].type != EDGERT_LEARN_KMEANS &&
        plan->learn[plan->anomaly].type != EDGERT_LEARN_GMM)
        return EDGERT_ERR_MODEL;
    return EDGERT_OK;
}

int edgert_impulse_check(const edgert_impulse_plan *plan)
{
    need_t nd;
    return validate(plan, &nd, 1);
}

/* ---------------------------------------------------------------------- scratch layout */
typedef struct {
    float *feats, *outs, *gather, *kscore;
    void *netin, *netout, *arena, *dsp;
    size_t arena_bytes, dsp_bytes;
} layout_t;

/* Scratch bytes per window of a pass (before each buffer's 16-byte rounding). */
static uint64_t per_window(const need_t *nd)
{
    return nd->feats + nd->outs + nd->gather + nd->netin + nd->netout + nd->kscore;
}

/* Bytes for passes of g windows (16 bytes of slack to align the base); 0 on overflow. */
static uint64_t need_bytes(const need_t *nd, uint64_t g)
{
    const uint64_t limit = (uint64_t)1 << 48;
    uint64_t per = per_window(nd);
    if (g > 0 && per > limit / g) return 0;
    return 16u + al16(g * nd->feats) + al16(g * nd->outs) + al16(g * nd->gather) +
           al16(g * nd->netin) + al16(g * nd->netout) + al16(g * nd->kscore) +
           al16(nd->arena) + al16(nd->dsp);
}

static void map_layout(const need_t *nd, uint64_t g, void *scratch, layout_t *ly)
{
    unsigned char *p = (unsigned char *)scratch;
    p += (16u - ((uintptr_t)p & 15u)) & 15u;
    ly->feats = (float *)(void *)p;  p += al16(g * nd->feats);
    ly->outs = (float *)(void *)p;   p += al16(g * nd->outs);
    ly->gather = (float *)(void *)p; p += al16(g * nd->gather);
    ly->netin = p;                   p += al16(g * nd->netin);
    ly->netout = p;                  p += al16(g * nd->netout);
    ly->kscore = (float *)(void *)p; p += al16(g * nd->kscore);
    ly->arena = p;                   p += al16(nd->arena);
    ly->dsp = p;
    ly->arena_bytes = (size_t)al16(nd->arena);
    ly->dsp_bytes = (size_t)al16(nd->dsp);
}

int edgert_impulse_scratch_size(const edgert_impulse_plan *plan, int32_t n_windows,
                                size_t *bytes)
{
    need_t nd;
    uint64_t b;
    int st;
    if (!bytes) return EDGERT_ERR_NULL;
    if ((st = validate(plan, &nd, 1)) != EDGERT_OK) return st;
    if (n_windows < 1) return EDGERT_ERR_ARG;
    b = need_bytes(&nd, (uint64_t)n_windows);
    if (b == 0 || b > (uint64_t)SIZE_MAX) return EDGERT_ERR_OVERFLOW;
    *bytes = (size_t)b;
    return EDGERT_OK;
}

/* ------------------------------------------------------------------------------- run */
typedef struct {
    edgert_impulse_timing *t;
    uint32_t mark;
} stopwatch;

static void clock_start(stopwatch *c)
{
    if (c->t) c->mark = c->t->clock(c->t->context);
}

static void clock_stop(stopwatch *c, uint64_t *ticks)
{
    if (c->t) {
        uint32_t now = c->t->clock(c->t->context);
        *ticks += (uint32_t)(now - c->mark);
        c->mark = now;
    }
}

/* Input column (in the feature row) of position j of a learn block's input. */
static int32_t input_column(const edgert_impulse_plan *plan, const edgert_impulse_learn *l,
                            int32_t j)
{
    int32_t i;
    for (i = 0; i < l->n_dsp; i++) {
        const edgert_impulse_dsp *d = &plan->dsp[l->dsp[i]];
        if (j < d->n_features) return d->offset + j;
        j -= d->n_features;
    }
    return 0; /* unreachable for a validated plan (j < n_features) */
}

/* The engine validates the whole network plan on every invoke; a refusal of a plan the
 * impulse check accepted is an inconsistent (tampered) network: EDGERT_ERR_MODEL - or an
 * operator this build leaves out (csrc/edgert_config.h): EDGERT_ERR_UNSUPPORTED. */
static int run_network(const edgert_impulse_learn *l, const void *in, int32_t n,
                       const layout_t *ly)
{
    const void *inputs[1];
    void *outputs[1];
    int st;
    inputs[0] = in;
    outputs[0] = ly->netout;
    st = edgert_engine_invoke_batch(l->net, l->consts, l->consts_bytes, ly->arena,
                                    ly->arena_bytes, inputs, n, outputs);
    return (st == EDGERT_OK || st == EDGERT_ERR_UNSUPPORTED) ? st : EDGERT_ERR_MODEL;
}

static int run_classifier(const edgert_impulse_plan *plan, const edgert_impulse_learn *l,
                          const float *row, int32_t stride, int32_t n, const layout_t *ly)
{
    const int32_t n_in = l->n_features, n_out = l->n_outputs;
    const void *in = row;
    int32_t w;
    int st;
    if (l->in_dtype == EDGERT_DTYPE_INT8) {
        for (w = 0; w < n; w++) {
            st = edgert_quantize_int8(row + (size_t)w * (size_t)stride, (size_t)n_in,
                                      l->in_scale, l->in_zero_point,
                                      (int8_t *)ly->netin + (size_t)w * (size_t)n_in);
            if (st != EDGERT_OK) return st;
        }
        in = ly->netin;
    } else if (stride != n_in) {
        for (w = 0; w < n; w++)
            memcpy((float *)ly->netin + (size_t)w * (size_t)n_in,
                   row + (size_t)w * (size_t)stride, (size_t)n_in * sizeof(float));
        in = ly->netin;
    }
    if ((st = run_network(l, in, n, ly)) != EDGERT_OK) return st;
    for (w = 0; w < n; w++) {
        float *o = ly->outs + (size_t)w * (size_t)plan->n_outputs + (size_t)l->output_offset;
        if (l->out_dtype == EDGERT_DTYPE_INT8) {
            st = edgert_dequantize_int8((const int8_t *)ly->netout + (size_t)w * (size_t)n_out,
                                        (size_t)n_out, l->out_scale, l->out_zero_point, o);
            if (st != EDGERT_OK) return st;
        } else {
            memcpy(o, (const float *)ly->netout + (size_t)w * (size_t)n_out,
                   (size_t)n_out * sizeof(float));
        }
    }
    return EDGERT_OK;
}

static int run_gmm(const edgert_impulse_plan *plan, const edgert_impulse_learn *l,
                   const float *row, int32_t stride, int32_t n, const layout_t *ly)
{
    const int32_t ns = l->n_select;
    const int32_t n_out = (int32_t)(l->net->tensors[l->net->outputs[0]].bytes / 4u);
    float *x = (float *)ly->netin;
    int32_t w, k;
    int st;
    for (w = 0; w < n; w++)
        for (k = 0; k < ns; k++)
            x[(size_t)w * (size_t)ns + (size_t)k] =
                row[(size_t)w * (size_t)stride + (size_t)l->select[k]];
    if ((st = run_network(l, x, n, ly)) != EDGERT_OK) return st;
    for (w = 0; w < n; w++)
        ly->outs[(size_t)w * (size_t)plan->n_outputs + (size_t)l->output_offset] =
            ((const float *)ly->netout)[(size_t)w * (size_t)n_out];
    return EDGERT_OK;
}

static int run_kmeans(const edgert_impulse_plan *plan, const edgert_impulse_learn *l,
                      const float *row, int32_t stride, int32_t n, const layout_t *ly)
{
    int32_t w;
    int st = edgert_kmeans_score_batch(&l->kmeans, row, n, stride, ly->kscore);
    if (st != EDGERT_OK) /* it checks its parameters first: a refusal is a tampered plan */
        return st == EDGERT_ERR_NONFINITE ? st : EDGERT_ERR_MODEL;
    for (w = 0; w < n; w++)
        ly->outs[(size_t)w * (size_t)plan->n_outputs + (size_t)l->output_offset] = ly->kscore[w];
    return EDGERT_OK;
}

static int run_learn(const edgert_impulse_plan *plan, const edgert_impulse_learn *l, int32_t n,
                     const layout_t *ly)
{
    const float *row;
    int32_t stride, w, j;
    if (input_is_view(l)) {
        row = ly->feats + plan->dsp[l->dsp[0]].offset;
        stride = plan->n_features;
    } else {
        for (w = 0; w < n; w++) {
            const float *f = ly->feats + (size_t)w * (size_t)plan->n_features;
            float *g = ly->gather + (size_t)w * (size_t)l->n_features;
            for (j = 0; j < l->n_features; j++) g[j] = f[input_column(plan, l, j)];
        }
        row = ly->gather;
        stride = l->n_features;
    }
    switch (l->type) {
    case EDGERT_LEARN_CLASSIFIER: return run_classifier(plan, l, row, stride, n, ly);
    case EDGERT_LEARN_GMM: return run_gmm(plan, l, row, stride, n, ly);
    default: return run_kmeans(plan, l, row, stride, n, ly);
    }
}

static void fill_result(const edgert_impulse_plan *plan, const float *o,
                        edgert_impulse_result *r)
{
    int32_t k, top = -1, pred = EDGERT_PREDICTION_UNCERTAIN;
    r->n_labels = plan->n_labels;
    r->anomaly = 0.0f;
    memset(r->scores, 0, sizeof(r->scores));
    if (plan->classifier >= 0) {
        const edgert_impulse_learn *c = &plan->learn[plan->classifier];
        const float *s = o + c->output_offset;
        memcpy(r->scores, s, (size_t)plan->n_labels * sizeof(float));
        for (k = 0; k < plan->n_labels; k++) {   /* numpy's argmax: first max, NaN wins */
            if (s[k] != s[k]) { top = k; break; }
            if (top < 0 || s[k] > s[top]) top = k;
        }
        if (top >= 0 && !(s[top] < c->threshold)) pred = top;
    }
    if (plan->anomaly >= 0) {
        const edgert_impulse_learn *a = &plan->learn[plan->anomaly];
        r->anomaly = o[a->output_offset];
        if (r->anomaly > a->threshold) pred = EDGERT_PREDICTION_ANOMALY;
    }
    r->top = top;
    r->prediction = pred;
}

/* edgert_impulse_run on a validated plan (nd: its needs). feats_in non-NULL: the windows'
 * DSP features are given (n_windows rows of plan->n_features floats; data and starts are not
 * used) and only the learn blocks run (edgert_impulse_run_features). */
static int run_checked(const edgert_impulse_plan *plan, const need_t *nd, const float *data,
                       int32_t n_rows, const int32_t *starts, int32_t n_windows,
                       const float *feats_in,
                       edgert_impulse_result *results, float *features, float *outputs,
                       edgert_impulse_timing *timing, void *scratch, size_t scratch_bytes)
{
    layout_t ly;
    stopwatch clk, whole;
    uint64_t g, b;
    int32_t w0, w, i;
    int st;
    if (timing) {
        if (!timing->clock) return EDGERT_ERR_NULL;
        memset(timing->ticks, 0, sizeof(timing->ticks));
        timing->total = 0;
    }
    clk.t = whole.t = timing;
    clk.mark = whole.mark = 0;
    clock_start(&whole);
    if (n_windows < 0 || n_rows < 0) return EDGERT_ERR_ARG;
    if (n_windows == 0) return EDGERT_OK;
    if (!results || !scratch) return EDGERT_ERR_NULL;
    if (!feats_in) {
        if (!data || !starts) return EDGERT_ERR_NULL;
        for (w = 0; w < n_windows; w++)
            if (starts[w] < 0 || starts[w] > n_rows - plan->window_samples)
                return EDGERT_ERR_ARG;
    }
    b = need_bytes(nd, 1);
    if (b == 0 || b > scratch_bytes) return EDGERT_ERR_SCRATCH;
    {   /* the largest pass the scratch holds: need_bytes(g) <= fixed + g * per */
        const uint64_t per = per_window(nd);
        const uint64_t fixed = 16u * 8u + al16(nd->arena) + al16(nd->dsp);
        g = (per == 0 || scratch_bytes <= fixed) ? 1 : ((uint64_t)scratch_bytes - fixed) / per;
        if (g < 1) g = 1;
        if (g > (uint64_t)n_windows) g = (uint64_t)n_windows;
    }
    map_layout(nd, g, scratch, &ly);
    for (w0 = 0; w0 < n_windows; w0 += (int32_t)g) {
        const int32_t n = n_windows - w0 < (int32_t)g ? n_windows - w0 : (int32_t)g;
        clock_start(&clk);
        if (feats_in) {   /* the caller's features, checked while copied */
            st = edgert_copy_finite(feats_in + (size_t)w0 * (size_t)plan->n_features,
                                    (size_t)n * (size_t)plan->n_features, ly.feats);
            if (st != EDGERT_OK) return st;
        } else {
            for (i = 0; i < plan->n_dsp; i++) {
                const edgert_impulse_dsp *d = &plan->dsp[i];
                st = dsp_features(d, data, n_rows, plan->n_axes, starts + w0, n,
                                  plan->window_samples, ly.feats + d->offset,
                                  plan->n_features, ly.dsp, ly.dsp_bytes);
                if (st != EDGERT_OK) return st;
            }
            if (timing) clock_stop(&clk, &timing->ticks[EDGERT_IMPULSE_STAGE_DSP]);
        }
        for (i = 0; i < plan->n_learn; i++) {
            const edgert_impulse_learn *l = &plan->learn[i];
            if ((st = run_learn(plan, l, n, &ly)) != EDGERT_OK) return st;
            if (timing)
                clock_stop(&clk, &timing->ticks[l->type == EDGERT_LEARN_CLASSIFIER
                                                    ? EDGERT_IMPULSE_STAGE_CLASSIFIER
                                                    : EDGERT_IMPULSE_STAGE_ANOMALY]);
        }
        for (w = 0; w < n; w++)
            fill_result(plan, ly.outs + (size_t)w * (size_t)plan->n_outputs, &results[w0 + w]);
        if (features && !feats_in)
            memcpy(features + (size_t)w0 * (size_t)plan->n_features, ly.feats,
                   (size_t)n * (size_t)plan->n_features * sizeof(float));
        if (outputs && plan->n_outputs > 0)
            memcpy(outputs + (size_t)w0 * (size_t)plan->n_outputs, ly.outs,
                   (size_t)n * (size_t)plan->n_outputs * sizeof(float));
    }
    if (timing) clock_stop(&whole, &timing->total);
    return EDGERT_OK;
}

int edgert_impulse_run(const edgert_impulse_plan *plan, const float *data, int32_t n_rows,
                       const int32_t *starts, int32_t n_windows,
                       edgert_impulse_result *results, float *features, float *outputs,
                       edgert_impulse_timing *timing, void *scratch, size_t scratch_bytes)
{
    need_t nd;
    int st = validate(plan, &nd, 0);
    if (st != EDGERT_OK) return st;
    return run_checked(plan, &nd, data, n_rows, starts, n_windows, NULL, results, features,
                       outputs, timing, scratch, scratch_bytes);
}

int edgert_impulse_run_features(const edgert_impulse_plan *plan, const float *features,
                                int32_t n_windows, edgert_impulse_result *results,
                                float *outputs, edgert_impulse_timing *timing, void *scratch,
                                size_t scratch_bytes)
{
    need_t nd;
    int st = validate(plan, &nd, 0);
    if (st != EDGERT_OK) return st;
    if (n_windows > 0 && !features) return EDGERT_ERR_NULL;
    return run_checked(plan, &nd, NULL, 0, NULL, n_windows, features, results, NULL, outputs,
                       timing, scratch, scratch_bytes);
}

int edgert_impulse_run_bound(const edgert_impulse_args *args, const float *data,
                             int32_t n_rows, int32_t n_windows)
{
    if (!args) return EDGERT_ERR_NULL;
    return edgert_impulse_run(args->plan, data, n_rows, args->starts, n_windows, args->results,
                              args->features, args->outputs, args->timing, args->scratch,
                              args->scratch_bytes);
}

int edgert_impulse_run_window(const edgert_impulse_plan *plan, const float *window,
                              size_t n_values, edgert_impulse_result *result,
                              edgert_impulse_timing *timing, void *scratch,
                              size_t scratch_bytes)
{
    const int32_t start = 0;
    need_t nd;
    int st = validate(plan, &nd, 0);
    if (st != EDGERT_OK) return st;
    if (n_values != (size_t)plan->window_samples * (size_t)plan->n_axes) return EDGERT_ERR_SHAPE;
    return run_checked(plan, &nd, window, plan->window_samples, &start, 1, NULL, result, NULL,
                       NULL, timing, scratch, scratch_bytes);
}

int edgert_copy_finite(const float *in, size_t n, float *out)
{
    uint32_t bad = 0;
    size_t i;
    if (n == 0) return EDGERT_OK;
    if (!in || !out) return EDGERT_ERR_NULL;
    for (i = 0; i < n; i++) {   /* exponent all ones: NaN or inf (branch-free, vectorises) */
        uint32_t u;
        memcpy(&u, &in[i], sizeof(u));
        bad |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
        out[i] = in[i];
    }
    return bad ? EDGERT_ERR_NONFINITE : EDGERT_OK;
}
