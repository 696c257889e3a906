/* Wavelet path of the Spectral Analysis block (csrc/wavelet.c): wavelet names, pywt.wavedec
 * semantics, the 14 per-array features, degenerate input and error statuses.
 * Expected values: PyWavelets 1.8 output and the reference block's vectors (embedded below,
 * produced offline; see the comments), not this code's output. */
#include <string.h>
#include <stdint.h>

#include "../spectral_internal.h"
#include "ctest.h"

/* x[i] = float(sin(0.37 i) + 0.05 i), i < 21, and pywt.wavedec(x, "db4", level=2, mode="symmetric") (PyWavelets 1.8, float64) */
static const float k_x21[21] = {
    0.0f, 0.411615431f, 0.774287939f, 1.04569864f, 1.19588089f, 1.21127522f,
    1.09656549f, 0.874044359f, 0.580596268f, 0.262705326f, -0.0298361406f, -0.250666767f,
    -0.363130927f, -0.345239818f, -0.192647681f, 0.0807601437f, 0.444746435f, 0.856814623f,
    1.26796055f, 1.62930465f, 1.89870811f,
};

static const int32_t k_db4_l2_lengths[3] = {10, 10, 14};
static const float k_db4_l2[34] = {
    1.72405106f, 0.480376322f, 2.54346471f, 0.955531715f, 1.08778804f, 2.37155826f,
    0.388753901f, -0.683661475f, 1.9269081f, 3.80219611f, -0.186515238f, -0.524858481f,
    0.480027338f, -0.269298902f, -0.0614791005f, 0.160436127f, 0.181515602f, -0.136912986f,
    -0.198061869f, 0.0332847684f, 0.0185634403f, 0.0290632325f, -0.0329338809f, -0.00919284404f,
    -0.00674594851f, -0.000770501549f, 0.00560794336f, 0.00905310088f, 0.00776291102f, 0.00241226569f,
    0.0298421577f, -0.0674440346f, 0.0111750371f, 0.00240014384f,
};

/* reference case 71 of tests/data/spectral/cases.json: v3, 100 Hz, 1 axis, no filter, coif2 level 1 */
static const float k_case71_raw[200] = {
    13.3253f, 16.7888f, 9.6398f, 18.8626f, 21.0587f, 8.3065f,
    13.2952f, 14.0569f, -2.2004f, 5.1554f, 11.3968f, -3.106f,
    9.3312f, 19.5734f, 3.2023f, 13.4426f, 26.8996f, 7.8969f,
    13.144f, 25.1018f, 0.5638f, 4.4091f, 15.3174f, -6.487f,
    -1.8801f, 13.4889f, 0.6307f, 5.5637f, 22.0049f, 10.9346f,
    15.5335f, 24.0778f, 10.3642f, 8.2693f, 16.2977f, 4.2697f,
    3.3596f, 8.7871f, 5.7063f, 2.9286f, 14.7204f, 10.9685f,
    9.454f, 17.5954f, 17.31f, 10.6651f, 13.2985f, 12.948f,
    3.6885f, 2.7266f, 9.176f, -0.0535f, -0.2741f, 11.4638f,
    9.9612f, 10.6261f, 21.951f, 16.074f, 9.7026f, 22.6114f,
    11.078f, -1.0992f, 13.4436f, 4.8105f, -7.6433f, 10.1425f,
    7.8323f, 2.445f, 16.9042f, 15.9005f, 5.2529f, 23.6408f,
    17.3237f, 0.7484f, 17.095f, 7.8574f, -4.1804f, 7.86f,
    6.9803f, -3.9334f, 11.8479f, 17.4753f, 7.4733f, 16.5063f,
    19.5283f, 9.2744f, 17.6986f, 14.2129f, 6.1856f, 5.0024f,
    9.5108f, 2.1132f, 3.5428f, 9.6965f, 10.9822f, 10.0366f,
    14.9499f, 20.9121f, 9.5749f, 14.7774f, 13.196f, 1.9859f,
    7.676f, 9.6642f, -2.6398f, 2.5549f, 11.4606f, -0.2195f,
    12.2242f, 23.5369f, 7.7068f, 13.4459f, 26.2694f, 6.2055f,
    12.1076f, 16.4829f, -1.8168f, 1.8892f, 15.3546f, -1.0338f,
    2.436f, 17.9666f, 6.0322f, 7.3375f, 26.5676f, 8.7165f,
    10.5123f, 22.1194f, 5.5357f, 6.2711f, 11.6816f, 0.52f,
    2.4305f, 10.5274f, 6.6356f, 6.5237f, 20.6977f, 15.8525f,
    13.5555f, 17.3808f, 14.2391f, 5.5221f, 8.0754f, 7.8023f,
    3.3824f, 2.0973f, 8.2995f, 5.4383f, 5.4906f, 18.5843f,
    11.739f, 8.3283f, 24.3952f, 15.9574f, 1.9014f, 16.6121f,
    6.5398f, -4.0582f, 9.6564f, 5.7005f, -3.3644f, 16.376f,
    12.5342f, 5.6065f, 24.9892f, 17.226f, 4.6422f, 20.2632f,
    12.5235f, -2.4092f, 11.4156f, 10.7635f, -7.8521f, 9.2503f,
    12.1653f, -1.4192f, 15.6784f, 20.5443f, 8.4588f, 18.3248f,
    19.5871f, 6.4214f, 11.9764f, 13.0473f, -0.1181f, 3.6056f,
    7.0436f, 1.8343f, 7.4998f, 12.8286f, 14.6653f, 13.0427f,
    17.2751f, 16.8777f, 10.8744f, 12.6683f, 10.7472f, 0.1362f,
    7.4816f, 6.9496f,
};

static const float k_case71_features[28] = {
    4.0249512f, 0.276190476f, 0.276190476f, -11.0148869f, -5.9157033f, 5.12452507f,
    10.9107885f, 0.648074925f, 0.101446077f, 6.91146421f, 48.2276459f, 6.91220903f,
    -0.0607835613f, -0.903986692f, 3.95976663f, 0.685714286f, 0.685714286f, -12.1020021f,
    -4.87708664f, 5.39692163f, 12.0860386f, 0.670491576f, 0.250352085f, 7.51099968f,
    56.9575653f, 7.51517057f, -0.0405454449f, -0.882272959f,
};


static const char *const k_names[] = {
    "bior1.1", "bior1.3", "bior1.5", "bior2.2", "bior2.4", "bior2.6", "bior2.8", "bior3.1",
    "bior3.3", "bior3.5", "bior3.7", "bior3.9", "bior4.4", "bior5.5", "bior6.8",
    "coif1", "coif2", "coif3", "db2", "db3", "db4", "db5", "db6", "db7", "db8", "db9", "db10",
    "haar", "rbio1.1", "rbio1.3", "rbio1.5", "rbio2.2", "rbio2.4", "rbio2.6", "rbio2.8",
    "rbio3.1", "rbio3.3", "rbio3.5", "rbio3.7", "rbio3.9", "rbio4.4", "rbio5.5", "rbio6.8",
    "sym2", "sym3", "sym4", "sym5", "sym6", "sym7", "sym8", "sym9", "sym10",
};

static void test_names(void)
{
    size_t i, j;
    int seen[EDGERT__N_WAVELETS];
    memset(seen, 0, sizeof seen);
    CHECK_EQ_INT(sizeof k_names / sizeof k_names[0], EDGERT__N_WAVELETS);
    for (i = 0; i < sizeof k_names / sizeof k_names[0]; i++) {
        const int idx = edgert_wavelet_index(k_names[i]);
        CHECK(idx >= 0 && idx < EDGERT__N_WAVELETS);
        if (idx >= 0 && idx < EDGERT__N_WAVELETS) {
            CHECK(!seen[idx]);
            seen[idx] = 1;
            CHECK(strcmp(edgert__wavelet_filters[idx].name, k_names[i]) == 0);
            CHECK(edgert__wavelet_filters[idx].taps >= 2);
            CHECK(edgert__wavelet_filters[idx].taps <= EDGERT__WAVELET_MAX_TAPS);
        }
    }
    for (j = 0; j < EDGERT__N_WAVELETS; j++) CHECK(seen[j]);
    CHECK_EQ_INT(edgert__wavelet_filters[edgert_wavelet_index("db10")].taps, 20);
    CHECK_EQ_INT(edgert__wavelet_filters[edgert_wavelet_index("bior3.5")].taps, 12);
    CHECK_EQ_INT(edgert_wavelet_index("db1"), EDGERT_ERR_PARAM);   /* not offered */
    CHECK_EQ_INT(edgert_wavelet_index("db11"), EDGERT_ERR_PARAM);
    CHECK_EQ_INT(edgert_wavelet_index("dmey"), EDGERT_ERR_PARAM);
    CHECK_EQ_INT(edgert_wavelet_index("DB4"), EDGERT_ERR_PARAM);
    CHECK_EQ_INT(edgert_wavelet_index(""), EDGERT_ERR_PARAM);
    CHECK_EQ_INT(edgert_wavelet_index(NULL), EDGERT_ERR_PARAM);
}

static void test_haar_by_hand(void)
{
    /* haar, symmetric: n = 5 -> 3 coefficients per array; the last pair is (x4, x4) */
    const float x[5] = {1.0f, 2.0f, 3.0f, 4.0f, 6.0f};
    const double r = 0.70710678118654752;
    float out[6], scratch[8];
    int32_t lens[2], total = 0;
    size_t bytes = 0;
    const int h = edgert_wavelet_index("haar");
    CHECK_EQ_INT(edgert_wavedec_size(h, 1, 5, &total, &bytes), EDGERT_OK);
    CHECK_EQ_INT(total, 6);
    CHECK(bytes <= sizeof scratch);
    CHECK_EQ_INT(edgert_wavedec(x, 5, h, 1, out, lens, scratch, sizeof scratch), EDGERT_OK);
    CHECK_EQ_INT(lens[0], 3);
    CHECK_EQ_INT(lens[1], 3);
    CHECK_NEAR(out[0], 3.0 * r, 1e-6);
    CHECK_NEAR(out[1], 7.0 * r, 1e-6);
    CHECK_NEAR(out[2], 12.0 * r, 1e-6);
    CHECK_NEAR(out[3], -1.0 * r, 1e-6);  /* dec_hi = (-r, r): x[2o] - x[2o+1] scaled */
    CHECK_NEAR(out[4], -1.0 * r, 1e-6);
    CHECK_NEAR(out[5], 0.0, 1e-6);
}

static void test_db4_against_pywt(void)
{
    float out[34], scratch[64];
    int32_t lens[3], total = 0, i;
    size_t bytes = 0;
    const int w = edgert_wavelet_index("db4");
    CHECK_EQ_INT(edgert_wavedec_size(w, 2, 21, &total, &bytes), EDGERT_OK);
    CHECK_EQ_INT(total, 34);
    CHECK(bytes <= sizeof scratch);
    CHECK_EQ_INT(edgert_wavedec(k_x21, 21, w, 2, out, lens, scratch, bytes), EDGERT_OK);
    for (i = 0; i < 3; i++) CHECK_EQ_INT(lens[i], k_db4_l2_lengths[i]);
    for (i = 0; i < 34; i++) CHECK_NEAR(out[i], k_db4_l2[i], 2e-6);
    CHECK_EQ_INT(edgert_wavedec(k_x21, 21, w, 2, out, lens, scratch, bytes - 1),
                 EDGERT_ERR_SCRATCH);
    CHECK_EQ_INT(edgert_wavedec(k_x21, 0, w, 2, out, lens, scratch, bytes), EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_wavedec(k_x21, 21, w, 0, out, lens, scratch, bytes), EDGERT_ERR_PARAM);
    CHECK_EQ_INT(edgert_wavedec(k_x21, 21, 99, 2, out, lens, scratch, bytes), EDGERT_ERR_PARAM);
    CHECK_EQ_INT(edgert_wavedec(NULL, 21, w, 2, out, lens, scratch, bytes), EDGERT_ERR_NULL);
}

static void params_for(edgert_spectral_params *p, const char *wavelet, int32_t level)
{
    memset(p, 0, sizeof *p);
    p->version = 3;
    p->sampling_freq = 100.0f;
    p->scale_axes = 1.0f;
    p->decimation_ratio = 1;
    p->analysis_type = EDGERT_ANALYSIS_WAVELET;
    p->fft_length = 16;
    p->wavelet_level = level;
    p->wavelet = edgert_wavelet_index(wavelet);
}

/* haar, even n: cA[o] = (x[2o] + x[2o+1]) r, cD[o] = (x[2o] - x[2o+1]) r with r = 1/sqrt(2),
 * so an input built from chosen (a, d) pairs has those coefficient arrays. */
static void haar_input(const double *a, const double *d, int32_t m, float *x)
{
    const double r = 0.70710678118654752;
    int32_t o;
    for (o = 0; o < m; o++) {
        x[2 * o] = (float)((a[o] + d[o]) * r);
        x[2 * o + 1] = (float)((a[o] - d[o]) * r);
    }
}

static void test_statistics_by_hand(void)
{
    /* cD = -1.5 -0.5 0.5 1.5 repeated 8 times (32 values), cA = 2 (constant) */
    double a[32], d[32];
    float x[64], out[28], scratch[3 * 50];
    edgert_spectral_params p;
    int32_t o;
    const float *fd = out + 14;
    for (o = 0; o < 32; o++) {
        a[o] = 2.0;
        d[o] = (double)(o % 4) - 1.5;
    }
    haar_input(a, d, 32, x);
    params_for(&p, "haar", 1);
    CHECK(edgert__wavelet_scratch_floats(&p, 64) <= sizeof scratch / sizeof scratch[0]);
    CHECK_EQ_INT(edgert__wavelet_axis(&p, x, 64, out, scratch), EDGERT_OK);
    CHECK_NEAR(fd[0], log(4.0), 1e-6);           /* 4 equally filled bins of 100 */
    CHECK_NEAR(fd[1], 15.0 / 32.0, 0);           /* -0.5 -> 0.5 and 1.5 -> -1.5 */
    CHECK_NEAR(fd[2], 15.0 / 32.0, 0);           /* mean 0 */
    CHECK_NEAR(fd[3], -1.5, 1e-6);               /* sorted[2] */
    CHECK_NEAR(fd[4], -0.5, 1e-6);               /* sorted[8] */
    CHECK_NEAR(fd[5], 0.5, 1e-6);                /* sorted[23] */
    CHECK_NEAR(fd[6], 1.5, 1e-6);                /* sorted[29] */
    CHECK_NEAR(fd[7], 0.5, 1e-6);                /* median: sorted[int(15.5 + 0.5)] */
    CHECK_NEAR(fd[8], 0.0, 1e-6);
    CHECK_NEAR(fd[9], sqrt(1.25), 1e-6);         /* std, ddof 0 */
    CHECK_NEAR(fd[10], 1.25 * 32.0 / 31.0, 1e-6);  /* var, ddof 1 */
    CHECK_NEAR(fd[11], sqrt(1.25), 1e-6);        /* rms */
    CHECK_NEAR(fd[12], 0.0, 1e-5);
    CHECK_NEAR(fd[13], 2.5625 / 1.5625 - 3.0, 1e-5);
    /* the constant approximation: one value, no spread */
    CHECK_NEAR(out[0], 0.0, 0);
    CHECK_NEAR(out[1], 0.0, 0);
    CHECK_NEAR(out[7], 2.0, 1e-6);
    CHECK_NEAR(out[9], 0.0, 1e-6);
    CHECK_NEAR(out[12], 0.0, 0);
    CHECK_NEAR(out[13], -3.0, 0);
}

/* Percentiles of arrays with many ties and adversarial orders against a plain sort. */
static void test_percentiles_against_sorting(void)
{
    static double a[1024], d[1024], sorted[1024];
    static float x[2048], out[28], scratch[3 * 1040];
    static const double pct[5] = {0.05, 0.25, 0.75, 0.95, 0.5};
    edgert_spectral_params p;
    int32_t pattern, o, i, j;
    uint32_t state = 12345u;
    params_for(&p, "haar", 1);
    CHECK(edgert__wavelet_scratch_floats(&p, 2048) <= sizeof scratch / sizeof scratch[0]);
    for (pattern = 0; pattern < 5; pattern++) {
        for (o = 0; o < 1024; o++) {
            a[o] = 0.0;
            state = state * 1664525u + 1013904223u;
            switch (pattern) {
            case 0: d[o] = (double)((state >> 16) % 7u) - 3.0; break;  /* many ties */
            case 1: d[o] = (double)o; break;                            /* ascending */
            case 2: d[o] = (double)(1024 - o); break;                   /* descending */
            case 3: d[o] = (double)(o < 512 ? o : 1023 - o); break;     /* organ pipe */
            default: d[o] = (o % 2) ? 1.0 : 0.0; break;                 /* two values */
            }
        }
        haar_input(a, d, 1024, x);
        CHECK_EQ_INT(edgert__wavelet_axis(&p, x, 2048, out, scratch), EDGERT_OK);
        for (i = 0; i < 1024; i++) {  /* insertion sort of the expected detail array */
            const double v = d[i];
            for (j = i; j > 0 && sorted[j - 1] > v; j--) sorted[j] = sorted[j - 1];
            sorted[j] = v;
        }
        for (i = 0; i < 5; i++) {
            const double want = sorted[(int32_t)(1023.0 * pct[i] + 0.5)];
            CHECK_NEAR(out[14 + 3 + i], want, 1e-6 * (fabs(want) > 1.0 ? fabs(want) : 1.0) * 4);
        }
    }
}

static void test_reference_case(void)
{
    /* the reference block removes the mean before wavedec; done here in double */
    float y[200], out[28], scratch[400];
    double mean = 0.0;
    int32_t i;
    edgert_spectral_params p;
    params_for(&p, "coif2", 1);
    CHECK_EQ_INT(edgert__wavelet_features_per_axis(&p), 28);
    CHECK(edgert__wavelet_scratch_floats(&p, 200) <= sizeof scratch / sizeof scratch[0]);
    for (i = 0; i < 200; i++) mean += k_case71_raw[i];
    mean /= 200.0;
    for (i = 0; i < 200; i++) y[i] = (float)((double)k_case71_raw[i] - mean);
    CHECK_EQ_INT(edgert__wavelet_check(&p, 200), EDGERT_OK);
    CHECK_EQ_INT(edgert__wavelet_axis(&p, y, 200, out, scratch), EDGERT_OK);
    for (i = 0; i < 28; i++) {
        const double b = k_case71_features[i];
        CHECK_NEAR(out[i], b, 1e-4 * (fabs(b) > 1.0 ? fabs(b) : 1.0));
    }
}

static void test_degenerate(void)
{
    float y[128], out[14 * 3], scratch[3 * 80];
    int32_t i, a;
    edgert_spectral_params p;
    params_for(&p, "db4", 2);
    memset(y, 0, sizeof y);
    CHECK(edgert__wavelet_scratch_floats(&p, 128) <= sizeof scratch / sizeof scratch[0]);
    CHECK_EQ_INT(edgert__wavelet_axis(&p, y, 128, out, scratch), EDGERT_OK);
    for (a = 0; a < 3; a++) {
        const float *f = out + 14 * a;
        for (i = 0; i < 12; i++) CHECK_NEAR(f[i], 0.0, 0.0);  /* entropy .. rms */
        CHECK_NEAR(f[12], 0.0, 0.0);                          /* skew (scipy: NaN) */
        CHECK_NEAR(f[13], -3.0, 0.0);                         /* kurtosis (scipy: NaN) */
    }
}

static void test_errors(void)
{
    float y[256], out[14 * 8], scratch[3 * 140];
    edgert_spectral_params p;
    memset(y, 0, sizeof y);
    params_for(&p, "sym5", 3);
    CHECK_EQ_INT(edgert__wavelet_check(&p, 256), EDGERT_OK);     /* 32 * 2^3 */
    CHECK_EQ_INT(edgert__wavelet_check(&p, 255), EDGERT_ERR_TOO_SHORT);
    CHECK_EQ_INT(edgert__wavelet_axis(&p, y, 255, out, scratch), EDGERT_ERR_TOO_SHORT);
    p.wavelet_level = 0;
    CHECK_EQ_INT(edgert__wavelet_check(&p, 256), EDGERT_ERR_PARAM);
    p.wavelet_level = 8;
    CHECK_EQ_INT(edgert__wavelet_check(&p, 1 << 20), EDGERT_ERR_PARAM);
    CHECK_EQ_INT(edgert__wavelet_features_per_axis(&p), EDGERT_ERR_PARAM);
    p.wavelet_level = 7;
    CHECK_EQ_INT(edgert__wavelet_features_per_axis(&p), 14 * 8);
    CHECK_EQ_INT(edgert__wavelet_check(&p, 4095), EDGERT_ERR_TOO_SHORT);
    p.wavelet_level = 1;
    p.wavelet = -1;
    CHECK_EQ_INT(edgert__wavelet_check(&p, 256), EDGERT_ERR_PARAM);
    p.wavelet = EDGERT__N_WAVELETS;
    CHECK_EQ_INT(edgert__wavelet_axis(&p, y, 256, out, scratch), EDGERT_ERR_PARAM);
    p.wavelet = edgert_wavelet_index("haar");
    y[100] = NAN;
    CHECK_EQ_INT(edgert__wavelet_axis(&p, y, 256, out, scratch), EDGERT_ERR_NONFINITE);
    CHECK_EQ_INT(edgert__wavelet_axis(NULL, y, 256, out, scratch), EDGERT_ERR_NULL);
    CHECK_EQ_INT(edgert__wavelet_axis(&p, y, 256, out, NULL), EDGERT_ERR_NULL);
}

int main(void)
{
    test_names();
    test_haar_by_hand();
    test_db4_against_pywt();
    test_statistics_by_hand();
    test_percentiles_against_sorting();
    test_reference_case();
    test_degenerate();
    test_errors();
    CTEST_END();
}
