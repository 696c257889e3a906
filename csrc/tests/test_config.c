/* A build configured without some parts (edgert_config.h): everything that needs a removed part
 * is refused with EDGERT_ERR_UNSUPPORTED, what remains works. The Makefile builds this test
 * with -DEDGERT_WITH_SPECTRAL_V1=0 -DEDGERT_WITH_WAVELET=0 -DEDGERT_WITH_SPECTRAL_FILTERS=0
 * -DEDGERT_WITH_OP_CONV=0 -DEDGERT_WITH_DSP_RAW=0 (the host build keeps everything). */
#include <math.h>
#include <string.h>
#include "../edgert.h"
#include "../edgert_config.h"
#include "ctest.h"

static edgert_spectral_params base_params(void)
{
    edgert_spectral_params p;
    memset(&p, 0, sizeof p);
    p.version = 2;
    p.sampling_freq = 62.5;
    p.scale_axes = 1.0;
    p.decimation_ratio = 1;
    p.filter_type = EDGERT_FILTER_NONE;
    p.filter_cutoff = 3.0;
    p.filter_order = 6;
    p.fft_length = 16;
    p.do_log = 1;
    p.do_fft_overlap = 1;
    p.wavelet_level = 1;
    p.wavelet = edgert_wavelet_index("db4");
    return p;
}

static void test_spectral_paths(void)
{
    edgert_spectral_params p = base_params();
    int32_t nf = 0, axes[2] = {0, 1}, start = 0;
    size_t bytes = 0;
    static float data[250 * 2], out[64];
    static double scratch[4096];
    int32_t t;
    CHECK(EDGERT_WITH_SPECTRAL_V1 == 0 && EDGERT_WITH_WAVELET == 0 &&
          EDGERT_WITH_SPECTRAL_FILTERS == 0 && EDGERT_WITH_OP_CONV == 0 &&
          EDGERT_WITH_OP_FC == 1);
    /* what remains: the FFT path without filtering, and masking without a filter (order 0) */
    CHECK_EQ_INT(edgert_spectral_check(&p, 250, 2, &nf), EDGERT_OK);
    CHECK_EQ_INT(nf, 2 * 11);
    for (t = 0; t < 250; t++) {
        data[2 * t] = sinf(0.3f * (float)t);
        data[2 * t + 1] = 1.0f + 0.5f * cosf(0.11f * (float)t);
    }
    CHECK_EQ_INT(edgert_spectral_scratch_size(&p, 250, 2, &bytes), EDGERT_OK);
    CHECK(bytes <= sizeof scratch);
    CHECK_EQ_INT(edgert_spectral_features_batch(&p, data, 250, 2, axes, 2, &start, 1, 250, out,
                                                nf, scratch, sizeof scratch), EDGERT_OK);
    for (t = 0; t < nf; t++)
        CHECK(isfinite(out[t]));
    p.filter_type = EDGERT_FILTER_LOW;
    p.filter_order = 0;
    CHECK_EQ_INT(edgert_spectral_check(&p, 250, 2, &nf), EDGERT_OK);
    /* the removed parts are refused, by every entry point */
    p.filter_order = 4;   /* Butterworth */
    CHECK_EQ_INT(edgert_spectral_check(&p, 250, 2, &nf), EDGERT_ERR_UNSUPPORTED);
    CHECK_EQ_INT(edgert_spectral_scratch_size(&p, 250, 2, &bytes), EDGERT_ERR_UNSUPPORTED);
    CHECK_EQ_INT(edgert_spectral_features_batch(&p, data, 250, 2, axes, 2, &start, 1, 250, out,
                                                64, scratch, sizeof scratch),
                 EDGERT_ERR_UNSUPPORTED);
    p = base_params();
    p.version = 4;
    p.decimation_ratio = 3;   /* input decimation */
    CHECK_EQ_INT(edgert_spectral_check(&p, 250, 2, &nf), EDGERT_ERR_UNSUPPORTED);
    p.decimation_ratio = 1;
    p.extra_low_freq = 1;     /* Chebyshev stage of the low-frequency block */
    CHECK_EQ_INT(edgert_spectral_check(&p, 250, 2, &nf), EDGERT_ERR_UNSUPPORTED);
    p = base_params();
    p.version = 1;
    p.peaks_count = 3;
    CHECK_EQ_INT(edgert_spectral_check(&p, 250, 2, &nf), EDGERT_ERR_UNSUPPORTED);
    p = base_params();
    p.version = 3;
    p.analysis_type = EDGERT_ANALYSIS_WAVELET;
    CHECK_EQ_INT(edgert_spectral_check(&p, 250, 2, &nf), EDGERT_ERR_UNSUPPORTED);
    /* a configuration error still comes first where the reference raises one */
    p = base_params();
    p.fft_length = 17;
    CHECK_EQ_INT(edgert_spectral_check(&p, 250, 2, &nf), EDGERT_ERR_PARAM);
}

static void test_engine_ops(void)
{
    /* one int8 tensor in the arena; the op is refused before its fields are looked at when
     * its family is left out, and checked as usual (a malformed op: EDGERT_ERR_MODEL) when
     * its family is in the build */
    edgert_tensor tensor = {EDGERT_DTYPE_INT8, EDGERT_SPACE_ARENA, 0, 4, {1, 1, 1, 4}};
    edgert_op op;
    edgert_plan plan;
    memset(&op, 0, sizeof op);
    op.dtype = EDGERT_DTYPE_INT8;
    op.n_in = 1;
    op.in[0] = 0;
    op.out = 0;
    memset(&plan, 0, sizeof plan);
    plan.n_tensors = 1;
    plan.tensors = &tensor;
    plan.n_ops = 1;
    plan.ops = &op;
    plan.n_inputs = plan.n_outputs = 1;
    plan.arena_bytes = 16;
    op.type = EDGERT_OP_CONV_2D;
    CHECK_EQ_INT(edgert_engine_check(&plan, NULL, 0), EDGERT_ERR_UNSUPPORTED);
    op.type = EDGERT_OP_DEPTHWISE_CONV_2D;
    CHECK_EQ_INT(edgert_engine_check(&plan, NULL, 0), EDGERT_ERR_UNSUPPORTED);
    op.type = EDGERT_OP_FULLY_CONNECTED;
    CHECK_EQ_INT(edgert_engine_check(&plan, NULL, 0), EDGERT_ERR_MODEL);
    op.type = 0;
    CHECK_EQ_INT(edgert_engine_check(&plan, NULL, 0), EDGERT_ERR_MODEL);
}

/* An impulse plan with a DSP block type the build leaves out is refused as a whole (and the
 * plan with the same window through a kept type runs). */
static void test_impulse_dsp_types(void)
{
    edgert_impulse_dsp dsp;
    edgert_impulse_plan plan;
    edgert_impulse_result result;
    static float window[4 * 2];
    static double scratch[256];
    size_t bytes = 0;
    CHECK(EDGERT_WITH_DSP_RAW == 0 && EDGERT_WITH_DSP_FLATTEN == 1 &&
          EDGERT_WITH_DSP_SPECTRAL == 1);
    memset(&dsp, 0, sizeof dsp);
    memset(&plan, 0, sizeof plan);
    dsp.type = EDGERT_DSP_RAW;
    dsp.n_axes = 2;
    dsp.axes[1] = 1;
    dsp.n_features = 8;
    dsp.p.raw.scale_axes = 1.0;
    plan.n_axes = 2;
    plan.window_samples = 4;
    plan.n_dsp = 1;
    plan.dsp = &dsp;
    plan.n_features = 8;
    plan.classifier = plan.anomaly = -1;
    CHECK_EQ_INT(edgert_impulse_check(&plan), EDGERT_ERR_UNSUPPORTED);
    CHECK_EQ_INT(edgert_impulse_scratch_size(&plan, 1, &bytes), EDGERT_ERR_UNSUPPORTED);
    CHECK_EQ_INT(edgert_impulse_run_window(&plan, window, 8, &result, NULL, scratch,
                                           sizeof scratch), EDGERT_ERR_UNSUPPORTED);
    /* the raw kernel itself stays callable (the batch path's); the plan is what refuses */
    dsp.type = EDGERT_DSP_FLATTEN;
    CHECK(edgert_impulse_check(&plan) != EDGERT_ERR_UNSUPPORTED);
}

int main(void)
{
    test_spectral_paths();
    test_engine_ops();
    test_impulse_dsp_types();
    CTEST_END();
}
