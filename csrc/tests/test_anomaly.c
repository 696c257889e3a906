/* K-means scorer, window count, int8 quantization and polyphase resampling: hand-computed
 * expectations. */
#include <math.h>
#include <string.h>
#include "../edgert.h"
#include "ctest.h"

static void test_kmeans(void)
{
    /* 2 axes picked from 4-feature rows; 2 clusters */
    const int32_t axes[2] = {1, 3};
    const float mean[2] = {1.0f, 2.0f}, scale[2] = {2.0f, 4.0f};
    const float centers[4] = {0.0f, 0.0f, 3.0f, 4.0f};
    const float max_error[2] = {0.5f, 1.0f};
    edgert_kmeans_params p;
    float feats[3 * 4] = {
        9.0f, 1.0f, 9.0f, 2.0f,    /* z = (0, 0): c0 -> 0 - 0.5 */
        9.0f, 7.0f, 9.0f, 18.0f,   /* z = (3, 4): c1 -> 0 - 1.0 ; c0 -> 5 - 0.5 */
        9.0f, 3.0f, 9.0f, 2.0f,    /* z = (1, 0): c0 -> 1 - 0.5 ; c1 -> sqrt(4+16) - 1 */
    };
    float scores[3];
    memset(&p, 0, sizeof p);
    p.n_axes = 2; p.axes = axes; p.mean = mean; p.scale = scale;
    p.n_clusters = 2; p.centers = centers; p.max_error = max_error;
    CHECK_EQ_INT(edgert_kmeans_score_batch(&p, feats, 3, 4, scores), EDGERT_OK);
    CHECK_NEAR(scores[0], -0.5, 1e-6);
    CHECK_NEAR(scores[1], -1.0, 1e-6);
    CHECK_NEAR(scores[2], 0.5, 1e-6);
    /* the running minimum starts at 1000: a far point never scores above it */
    feats[1] = 1e30f;
    CHECK_EQ_INT(edgert_kmeans_score_batch(&p, feats, 1, 4, scores), EDGERT_OK);
    CHECK_NEAR(scores[0], 1000.0, 0.0);
    /* bad input and parameters */
    feats[1] = NAN;
    CHECK_EQ_INT(edgert_kmeans_score_batch(&p, feats, 1, 4, scores), EDGERT_ERR_NONFINITE);
    CHECK_EQ_INT(edgert_kmeans_score_batch(&p, feats, 1, 3, scores), EDGERT_ERR_PARAM);
    CHECK_EQ_INT(edgert_kmeans_score_batch(NULL, feats, 1, 4, scores), EDGERT_ERR_NULL);
    CHECK_EQ_INT(edgert_kmeans_score_batch(&p, feats, -1, 4, scores), EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_kmeans_check(&p, 4), EDGERT_OK);
    CHECK_EQ_INT(edgert_kmeans_check(&p, 3), EDGERT_ERR_PARAM);
    {
        const float zero_scale[2] = {0.0f, 1.0f};
        p.scale = zero_scale;
        CHECK_EQ_INT(edgert_kmeans_check(&p, 4), EDGERT_ERR_PARAM);
        p.scale = scale;
    }
    /* zero windows is fine */
    CHECK_EQ_INT(edgert_kmeans_score_batch(&p, feats, 0, 4, scores), EDGERT_OK);
}

/* 100 axes (beyond the stack cache): every feature 1 above its mean, scale 2 -> z = 0.5 each;
 * one cluster at the origin with maxError 1: score = sqrt(100 * 0.25) - 1 = 4 */
static void test_kmeans_many_axes(void)
{
    int32_t axes[100];
    float mean[100], scale[100], centers[100], feats[100], score = 0.0f;
    const float max_error[1] = {1.0f};
    edgert_kmeans_params p;
    int i;
    for (i = 0; i < 100; i++) {
        axes[i] = 99 - i; mean[i] = (float)i; scale[i] = 2.0f; centers[i] = 0.0f;
        feats[99 - i] = (float)i + 1.0f;
    }
    memset(&p, 0, sizeof p);
    p.n_axes = 100; p.axes = axes; p.mean = mean; p.scale = scale;
    p.n_clusters = 1; p.centers = centers; p.max_error = max_error;
    CHECK_EQ_INT(edgert_kmeans_score_batch(&p, feats, 1, 100, &score), EDGERT_OK);
    CHECK_NEAR(score, 4.0, 1e-5);
}

static void test_window_count(void)
{
    int64_t c = -1;
    CHECK_EQ_INT(edgert_window_count(125, 125, 5, 1, &c), EDGERT_OK); CHECK_EQ_INT(c, 1);
    CHECK_EQ_INT(edgert_window_count(134, 125, 5, 1, &c), EDGERT_OK); CHECK_EQ_INT(c, 2);
    CHECK_EQ_INT(edgert_window_count(135, 125, 5, 1, &c), EDGERT_OK); CHECK_EQ_INT(c, 3);
    CHECK_EQ_INT(edgert_window_count(225000, 125, 5, 1, &c), EDGERT_OK); CHECK_EQ_INT(c, 44976);
    CHECK_EQ_INT(edgert_window_count(100, 125, 5, 1, &c), EDGERT_OK); CHECK_EQ_INT(c, 1);
    CHECK_EQ_INT(edgert_window_count(100, 125, 5, 0, &c), EDGERT_OK); CHECK_EQ_INT(c, 0);
    CHECK_EQ_INT(edgert_window_count(100, 0, 5, 0, &c), EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_window_count(100, 10, 5, 0, NULL), EDGERT_ERR_NULL);
}

static void test_quantize(void)
{
    const float x[7] = {0.5f, -0.5f, 1.5f, 2.5f, -2.5f, 1000.0f, -1000.0f};
    int8_t q[7];
    float back[7];
    const int8_t qi[2] = {-128, 127};
    CHECK_EQ_INT(edgert_quantize_int8(x, 7, 1.0f, 0, q), EDGERT_OK);
    CHECK_EQ_INT(q[0], 1); CHECK_EQ_INT(q[1], -1);      /* half away from zero */
    CHECK_EQ_INT(q[2], 2); CHECK_EQ_INT(q[3], 3); CHECK_EQ_INT(q[4], -3);
    CHECK_EQ_INT(q[5], 127); CHECK_EQ_INT(q[6], -128);  /* clamped */
    CHECK_EQ_INT(edgert_quantize_int8(x, 1, 0.25f, -10, q), EDGERT_OK);
    CHECK_EQ_INT(q[0], -8);
    CHECK_EQ_INT(edgert_quantize_int8(x, 1, 0.0f, 0, q), EDGERT_ERR_PARAM);
    {
        const float bad[1] = {NAN};
        CHECK_EQ_INT(edgert_quantize_int8(bad, 1, 1.0f, 0, q), EDGERT_ERR_NONFINITE);
    }
    CHECK_EQ_INT(edgert_dequantize_int8(qi, 2, 1.0f / 256.0f, -128, back), EDGERT_OK);
    CHECK_NEAR(back[0], 0.0, 0.0);
    CHECK_NEAR(back[1], 255.0 / 256.0, 0.0);
}

static void test_resample(void)
{
    /* up=2, down=1 with taps {0.5, 1, 0.5}: linear interpolation */
    const float taps[3] = {0.5f, 1.0f, 0.5f};
    const float x[6] = {0.0f, 10.0f, 2.0f, 20.0f, 4.0f, 40.0f}; /* 3 steps x 2 axes */
    float y[12];
    CHECK_EQ_INT(edgert_resample_poly(taps, 3, 2, 1, x, 3, 2, y, 6), EDGERT_OK);
    CHECK_NEAR(y[0], 0.0, 1e-6); CHECK_NEAR(y[1], 10.0, 1e-6);
    CHECK_NEAR(y[2], 1.0, 1e-6); CHECK_NEAR(y[3], 15.0, 1e-6);
    CHECK_NEAR(y[4], 2.0, 1e-6); CHECK_NEAR(y[5], 20.0, 1e-6);
    CHECK_NEAR(y[8], 4.0, 1e-6); CHECK_NEAR(y[10], 2.0, 1e-6); /* last: half of 4 (zero after) */
    CHECK_EQ_INT(edgert_resample_poly(taps, 3, 2, 1, x, 3, 2, y, 5), EDGERT_ERR_OUTPUT);
    CHECK_EQ_INT(edgert_resample_poly(taps, 2, 2, 1, x, 3, 2, y, 6), EDGERT_ERR_ARG);
    /* down by 2 with a 1-tap filter keeps every other sample: ceil(3/2) = 2 outputs */
    {
        const float one[1] = {1.0f};
        CHECK_EQ_INT(edgert_resample_poly(one, 1, 1, 2, x, 3, 2, y, 2), EDGERT_OK);
        CHECK_NEAR(y[0], 0.0, 0.0); CHECK_NEAR(y[2], 4.0, 0.0); CHECK_NEAR(y[3], 40.0, 0.0);
    }
}

int main(void)
{
    test_kmeans();
    test_kmeans_many_axes();
    test_window_count();
    test_quantize();
    test_resample();
    CTEST_END();
}
