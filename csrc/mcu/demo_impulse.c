/*
 * demo_impulse.c - the per-window pipeline of the example impulse (see demo_impulse.h).
 * No allocation and no mutable static state, like the core it calls.
 */
#include <string.h>

#include "demo_impulse.h"

static void stage(demo_stage_hook hook, void *context, int which)
{
    if (hook != NULL)
        hook(context, which);
}

int demo_classify(const demo_impulse *imp, const float *window, demo_workspace *ws,
                  demo_result *r, demo_stage_hook hook, void *hook_context)
{
    const int32_t start = 0;
    unsigned char *arena;
    const void *inputs[1];
    void *outputs[1];
    int st;
    if (imp == NULL || window == NULL || ws == NULL || r == NULL)
        return EDGERT_ERR_NULL;
    if (imp->n_features != DEMO_FEATURES || imp->n_labels != DEMO_LABELS ||
        imp->arena_bytes > DEMO_ARENA_BYTES)
        return EDGERT_ERR_PARAM;
    memset(r, 0, sizeof(*r));
    stage(hook, hook_context, DEMO_STAGE_START);
    st = edgert_spectral_features_batch(&imp->spectral, window, imp->window_samples,
                                        imp->raw_axes, imp->dsp_axes, imp->dsp_n_axes, &start,
                                        1, imp->window_samples, r->features, DEMO_FEATURES,
                                        ws->spectral_scratch, sizeof(ws->spectral_scratch));
    if (st != EDGERT_OK)
        return st;
    stage(hook, hook_context, DEMO_STAGE_DSP);
    st = edgert_quantize_int8(r->features, DEMO_FEATURES, imp->input_scale,
                              imp->input_zero_point, r->nn_input);
    if (st != EDGERT_OK)
        return st;
    arena = (unsigned char *)ws->arena;  /* aligned as the engine requires */
    arena += (EDGERT_ARENA_ALIGN - ((uintptr_t)arena % EDGERT_ARENA_ALIGN)) % EDGERT_ARENA_ALIGN;
    inputs[0] = r->nn_input;
    outputs[0] = r->nn_output;
    st = edgert_engine_invoke(imp->plan, imp->consts, imp->consts_bytes, arena,
                              DEMO_ARENA_BYTES, inputs, outputs);
    if (st != EDGERT_OK)
        return st;
    st = edgert_dequantize_int8(r->nn_output, DEMO_LABELS, imp->output_scale,
                                imp->output_zero_point, r->scores);
    if (st != EDGERT_OK)
        return st;
    stage(hook, hook_context, DEMO_STAGE_NN);
    if (imp->kmeans != NULL) {
        st = edgert_kmeans_score_batch(imp->kmeans, r->features, 1, DEMO_FEATURES,
                                       &r->anomaly);
        if (st != EDGERT_OK)
            return st;
    }
    stage(hook, hook_context, DEMO_STAGE_ANOMALY);
    return EDGERT_OK;
}
