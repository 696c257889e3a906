/* Pure-C tests of the spectral block (spectral.c) and raw/flatten (flatten.c): reference
 * vectors (spectral_vectors.h, from tests/data/spectral/cases.json), batch == single window,
 * strides/columns, and every bad input -> a status, never a crash (ASan/UBSan). */
#include <math.h>
#include <string.h>

#include "../edgert.h"
#include "ctest.h"
#include "spectral_vectors.h"

static unsigned char scratch[1 << 22];
static float out[4096];

static edgert_spectral_params base_params(int32_t version, double fs)
{
    edgert_spectral_params p;
    memset(&p, 0, sizeof(p));
    p.version = version;
    p.sampling_freq = fs;
    p.scale_axes = 1.0;
    p.decimation_ratio = 1;
    p.filter_type = EDGERT_FILTER_NONE;
    p.filter_cutoff = 3.0;
    p.filter_order = 0;
    p.analysis_type = EDGERT_ANALYSIS_FFT;
    p.fft_length = 16;
    p.do_log = 1;
    p.do_fft_overlap = 1;
    return p;
}

static int run1(const edgert_spectral_params *p, const float *raw, int32_t n, int32_t axes_n,
                float *o)
{
    int32_t axes[8], start = 0, a, nf;
    size_t need;
    int st;
    for (a = 0; a < axes_n; a++)
        axes[a] = a;
    st = edgert_spectral_check(p, n, axes_n, &nf);
    if (st != EDGERT_OK)
        return st;
    st = edgert_spectral_scratch_size(p, n, axes_n, &need);
    if (st != EDGERT_OK)
        return st;
    if (need > sizeof(scratch))
        return -1000;
    return edgert_spectral_features_batch(p, raw, n, axes_n, axes, axes_n, &start, 1, n, o, nf,
                                          scratch, need);
}

static void check_case(const edgert_spectral_params *p, const float *raw, int32_t n_values,
                       int32_t n_axes, const double *want, int32_t n_want)
{
    int32_t nf = -1, i;
    CHECK_EQ_INT(edgert_spectral_check(p, n_values / n_axes, n_axes, &nf), EDGERT_OK);
    CHECK_EQ_INT(nf, n_want);
    CHECK_EQ_INT(run1(p, raw, n_values / n_axes, n_axes, out), EDGERT_OK);
    for (i = 0; i < n_want; i++)
        CHECK_NEAR(out[i], want[i], 1e-4 * (fabs(want[i]) > 1 ? fabs(want[i]) : 1.0));
}

static void test_reference_vectors(void)
{
    edgert_spectral_params p = base_params(4, 62.5);
    p.filter_type = EDGERT_FILTER_LOW;
    p.filter_cutoff = 5.0;
    p.filter_order = 2;
    p.fft_length = 64;
    check_case(&p, c90_raw, 10, 1, c90_features, 10);
    p = base_params(4, 62.5);
    p.filter_type = EDGERT_FILTER_HIGH;
    p.filter_cutoff = 31.0;
    p.filter_order = 2;
    check_case(&p, c91_raw, 125, 1, c91_features, 6);
    p = base_params(4, 100.0);
    p.scale_axes = 9.81;
    check_case(&p, c36_raw, 200, 1, c36_features, 13);
}

/* two windows of a 3-column recording with the axis in column 2, rows 5.. and 40.. */
static void test_batch_strides(void)
{
    static float rec[300 * 3], win[125], o2[2 * 40];
    edgert_spectral_params p = base_params(4, 62.5);
    int32_t axis = 2, starts[2] = {5, 40}, nf, t, i;
    size_t need;
    p.filter_type = EDGERT_FILTER_HIGH;
    p.filter_cutoff = 4.0;
    p.filter_order = 4;
    for (t = 0; t < 300; t++) {
        rec[3 * t] = 1e6f;
        rec[3 * t + 1] = -1.0f;
        rec[3 * t + 2] = (float)(sin(0.3 * t) + 9.81 + 0.01 * (t % 7));
    }
    CHECK_EQ_INT(edgert_spectral_check(&p, 125, 1, &nf), EDGERT_OK);
    CHECK(nf <= 40);
    CHECK_EQ_INT(edgert_spectral_scratch_size(&p, 125, 1, &need), EDGERT_OK);
    CHECK_EQ_INT(edgert_spectral_features_batch(&p, rec, 300, 3, &axis, 1, starts, 2, 125, o2,
                                                40, scratch, need), EDGERT_OK);
    for (i = 0; i < 2; i++) {
        for (t = 0; t < 125; t++)
            win[t] = rec[3 * (starts[i] + t) + 2];
        CHECK_EQ_INT(run1(&p, win, 125, 1, out), EDGERT_OK);
        for (t = 0; t < nf; t++)
            CHECK(out[t] == o2[i * 40 + t]);
    }
}

static void test_bad_inputs(void)
{
    static float rec[400 * 3];
    edgert_spectral_params p = base_params(2, 62.5);
    int32_t axes[3] = {0, 1, 2}, start = 0, nf;
    size_t need;
    int t;
    for (t = 0; t < 400 * 3; t++)
        rec[t] = (float)(t % 17);
    CHECK_EQ_INT(edgert_spectral_check(&p, 125, 3, &nf), EDGERT_OK);
    CHECK_EQ_INT(nf, 33);
    CHECK_EQ_INT(edgert_spectral_scratch_size(&p, 125, 3, &need), EDGERT_OK);
    /* statuses for arguments */
    CHECK_EQ_INT(edgert_spectral_check(&p, 0, 3, &nf), EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_spectral_check(&p, 125, 0, &nf), EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_spectral_check(NULL, 125, 3, &nf), EDGERT_ERR_NULL);
    CHECK_EQ_INT(edgert_spectral_features_batch(&p, rec, 400, 3, axes, 3, &start, 1, 125, out,
                                                33, scratch, need - 17), EDGERT_ERR_SCRATCH);
    CHECK_EQ_INT(edgert_spectral_features_batch(&p, rec, 400, 3, axes, 3, &start, 1, 125, out,
                                                32, scratch, need), EDGERT_ERR_ARG);
    start = 276;
    CHECK_EQ_INT(edgert_spectral_features_batch(&p, rec, 400, 3, axes, 3, &start, 1, 125, out,
                                                33, scratch, need), EDGERT_ERR_ARG);
    start = -1;
    CHECK_EQ_INT(edgert_spectral_features_batch(&p, rec, 400, 3, axes, 3, &start, 1, 125, out,
                                                33, scratch, need), EDGERT_ERR_ARG);
    start = 275;
    CHECK_EQ_INT(edgert_spectral_features_batch(&p, rec, 400, 3, axes, 3, &start, 1, 125, out,
                                                33, scratch, need), EDGERT_OK);
    axes[2] = 3;
    CHECK_EQ_INT(edgert_spectral_features_batch(&p, rec, 400, 3, axes, 3, &start, 1, 125, out,
                                                33, scratch, need), EDGERT_ERR_ARG);
    axes[2] = 2;
    CHECK_EQ_INT(edgert_spectral_features_batch(&p, rec, 400, 0, axes, 3, &start, 1, 125, out,
                                                33, scratch, need), EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_spectral_features_batch(&p, rec, 400, 3, axes, 3, &start, 0, 125, out,
                                                33, scratch, need), EDGERT_OK);
    CHECK_EQ_INT(edgert_spectral_features_batch(&p, NULL, 400, 3, axes, 3, &start, 1, 125, out,
                                                33, scratch, need), EDGERT_ERR_NULL);
    rec[3 * 300 + 1] = NAN;
    CHECK_EQ_INT(edgert_spectral_features_batch(&p, rec, 400, 3, axes, 3, &start, 1, 125, out,
                                                33, scratch, need), EDGERT_ERR_NONFINITE);
    rec[3 * 300 + 1] = -INFINITY;
    CHECK_EQ_INT(edgert_spectral_features_batch(&p, rec, 400, 3, axes, 3, &start, 1, 125, out,
                                                33, scratch, need), EDGERT_ERR_NONFINITE);
    /* configuration errors */
    p.fft_length = 24;
    CHECK_EQ_INT(edgert_spectral_check(&p, 125, 3, &nf), EDGERT_ERR_PARAM);
    p.fft_length = 16;
    p.version = 5;
    CHECK_EQ_INT(edgert_spectral_check(&p, 125, 3, &nf), EDGERT_ERR_PARAM);
    p.version = 2;
    p.decimation_ratio = 3;
    CHECK_EQ_INT(edgert_spectral_check(&p, 125, 3, &nf), EDGERT_ERR_PARAM);
    p.version = 4;
    p.decimation_ratio = 7;
    CHECK_EQ_INT(edgert_spectral_check(&p, 125, 3, &nf), EDGERT_ERR_PARAM);
    p.decimation_ratio = 1;
    p.filter_type = EDGERT_FILTER_LOW;
    p.filter_order = 5;
    CHECK_EQ_INT(edgert_spectral_check(&p, 125, 3, &nf), EDGERT_ERR_PARAM);
    p.filter_order = 4;
    p.filter_cutoff = 31.25;
    CHECK_EQ_INT(edgert_spectral_check(&p, 125, 3, &nf), EDGERT_ERR_PARAM);
    p.filter_order = 0;
    p.filter_cutoff = 0.5;
    CHECK_EQ_INT(edgert_spectral_check(&p, 125, 3, &nf), EDGERT_ERR_MASKED_ALL);
    p.filter_type = EDGERT_FILTER_NONE;
    p.extra_low_freq = 1;
    p.fft_length = 64;
    CHECK_EQ_INT(edgert_spectral_check(&p, 125, 3, &nf), EDGERT_ERR_TOO_SHORT);
    CHECK_EQ_INT(edgert_spectral_check(&p, 320, 3, &nf), EDGERT_OK);
    p.sampling_freq = NAN;
    CHECK_EQ_INT(edgert_spectral_check(&p, 320, 3, &nf), EDGERT_ERR_PARAM);
    p.sampling_freq = 62.5;
    p.scale_axes = INFINITY;
    CHECK_EQ_INT(edgert_spectral_check(&p, 320, 3, &nf), EDGERT_ERR_PARAM);
}

/* v4 with decimation and the extra low-frequency block: runs clean under the sanitizers and
 * gives finite features; a zero signal gives the documented conventions. */
static void test_decimation_and_lf(void)
{
    static float rec[4000];
    edgert_spectral_params p = base_params(4, 1000.0);
    int32_t nf, i, axis = 0, start = 0;
    size_t need;
    p.decimation_ratio = 10; /* 4000 -> 400 samples at 100 Hz, 40 at 10 Hz */
    p.fft_length = 32;
    p.extra_low_freq = 1;
    p.filter_type = EDGERT_FILTER_HIGH;
    p.filter_cutoff = 2.0;
    p.filter_order = 4;
    for (i = 0; i < 4000; i++)
        rec[i] = (float)(sin(0.01 * i) + 1.0);
    CHECK_EQ_INT(edgert_spectral_check(&p, 4000, 1, &nf), EDGERT_OK);
    CHECK_EQ_INT(edgert_spectral_scratch_size(&p, 4000, 1, &need), EDGERT_OK);
    CHECK_EQ_INT(edgert_spectral_features_batch(&p, rec, 4000, 1, &axis, 1, &start, 1, 4000,
                                                out, nf, scratch, need), EDGERT_OK);
    for (i = 0; i < nf; i++)
        CHECK(isfinite(out[i]));
    memset(rec, 0, sizeof(rec));
    CHECK_EQ_INT(edgert_spectral_features_batch(&p, rec, 4000, 1, &axis, 1, &start, 1, 4000,
                                                out, nf, scratch, need), EDGERT_OK);
    CHECK(out[0] == 0.0f && out[1] == 0.0f && out[2] == -3.0f);
    CHECK(out[3] == 0.0f && out[4] == -3.0f && out[5] == -10.0f);
}

static void test_raw_flatten(void)
{
    float rec[6 * 2] = {1, 10, 2, 20, 3, 30, 4, 40, 5, 50, 6, 60};
    float o[8];
    int32_t axes[2] = {1, 0}, start = 1, nf;
    edgert_raw_params rp;
    edgert_flatten_params fp;
    rp.scale_axes = 2.0;
    CHECK_EQ_INT(edgert_raw_features_batch(&rp, rec, 6, 2, axes, 2, &start, 1, 2, o, 4),
                 EDGERT_OK);
    CHECK(o[0] == 40.0f && o[1] == 4.0f && o[2] == 60.0f && o[3] == 6.0f);
    start = 5;
    CHECK_EQ_INT(edgert_raw_features_batch(&rp, rec, 6, 2, axes, 2, &start, 1, 2, o, 4),
                 EDGERT_ERR_ARG);
    memset(&fp, 0, sizeof(fp));
    fp.scale_axes = 1.0;
    CHECK_EQ_INT(edgert_flatten_check(&fp, 2, &nf), EDGERT_ERR_PARAM);
    fp.average = fp.maximum = fp.kurtosis = 1;
    CHECK_EQ_INT(edgert_flatten_check(&fp, 2, &nf), EDGERT_OK);
    CHECK_EQ_INT(nf, 6);
    start = 0;
    CHECK_EQ_INT(edgert_flatten_features_batch(&fp, rec, 6, 2, axes, 2, &start, 1, 6, o, 6),
                 EDGERT_OK);
    CHECK_NEAR(o[0], 35.0, 1e-5);
    CHECK_NEAR(o[1], 60.0, 0);
    CHECK_NEAR(o[2], -1.268571, 1e-5); /* Fisher kurtosis of 6 equally spaced values */
    CHECK_NEAR(o[3], 3.5, 1e-6);
    rec[3] = NAN;
    CHECK_EQ_INT(edgert_flatten_features_batch(&fp, rec, 6, 2, axes, 2, &start, 1, 6, o, 6),
                 EDGERT_ERR_NONFINITE);
}

int main(void)
{
    test_reference_vectors();
    test_batch_strides();
    test_bad_inputs();
    test_decimation_and_lf();
    test_raw_flatten();
    CTEST_END();
}
