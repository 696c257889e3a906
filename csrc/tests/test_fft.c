/* Pure-C tests of fft.c and filter.c: real FFT against a direct double DFT, sosfilt against
 * the difference equation, designs against scipy's numbers (spectral_vectors.h), bad
 * arguments -> statuses. Runs under ASan/UBSan (make -C csrc test). */
#include <math.h>
#include <string.h>

#include "../edgert.h"
#include "../spectral_internal.h"
#include "ctest.h"
#include "spectral_vectors.h"

#define PI 3.14159265358979323846

static unsigned char scratch[1 << 21];

static unsigned lcg(unsigned *s) { *s = *s * 1664525u + 1013904223u; return *s >> 8; }

static void test_rfft_vs_dft(void)
{
    static float x[4096], re[2049], im[2049];
    int32_t n;
    unsigned seed = 7;
    for (n = 2; n <= 4096; n *= 2) {
        size_t need;
        int32_t k, t;
        double worst = 0.0, norm = 0.0;
        CHECK_EQ_INT(edgert_rfft_scratch_size(n, &need), EDGERT_OK);
        CHECK(need <= sizeof(scratch));
        for (t = 0; t < n; t++) {
            x[t] = (float)((double)(lcg(&seed) % 20001) / 10000.0 - 1.0) + 2.0f;
            norm += (double)x[t] * x[t];
        }
        CHECK_EQ_INT(edgert_rfft(x, n, re, im, scratch, need), EDGERT_OK);
        for (k = 0; k <= n / 2; k += (n > 256 ? 37 : 1)) {
            double sr = 0.0, si = 0.0, e;
            for (t = 0; t < n; t++) {
                double a = -2.0 * PI * (double)((int64_t)k * t % n) / (double)n;
                sr += x[t] * cos(a);
                si += x[t] * sin(a);
            }
            e = hypot(sr - re[k], si - im[k]);
            if (e > worst)
                worst = e;
        }
        /* float32 outputs of a double transform: error ~ 1e-7 of the spectrum's norm */
        CHECK(worst <= 3e-7 * sqrt(norm * n));
    }
}

static void test_rfft_errors(void)
{
    float x[16] = {0}, re[9], im[9];
    size_t need;
    CHECK_EQ_INT(edgert_rfft_scratch_size(24, &need), EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_rfft_scratch_size(1, &need), EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_rfft_scratch_size(131072, &need), EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_rfft_scratch_size(16, NULL), EDGERT_ERR_NULL);
    CHECK_EQ_INT(edgert_rfft_scratch_size(16, &need), EDGERT_OK);
    CHECK_EQ_INT(edgert_rfft(x, 16, re, im, scratch, need - 1), EDGERT_ERR_SCRATCH);
    CHECK_EQ_INT(edgert_rfft(NULL, 16, re, im, scratch, need), EDGERT_ERR_NULL);
    x[5] = NAN;
    CHECK_EQ_INT(edgert_rfft(x, 16, re, im, scratch, need), EDGERT_ERR_NONFINITE);
    x[5] = INFINITY;
    CHECK_EQ_INT(edgert_rfft(x, 16, re, im, scratch, need), EDGERT_ERR_NONFINITE);
}

static void test_designs(void)
{
    float sos[48];
    double c[24], zi[8];
    int i;
    CHECK_EQ_INT(edgert_butter_sos(EDGERT_FILTER_LOW, 4, 5.0, 62.5, sos), EDGERT_OK);
    for (i = 0; i < 12; i++)
        CHECK_NEAR(sos[i], butter4_low_5_62[i], 2e-7 * fabs(butter4_low_5_62[i]) + 1e-12);
    CHECK_EQ_INT(edgert_butter_sos(EDGERT_FILTER_HIGH, 6, 20.0, 1000.0, sos), EDGERT_OK);
    for (i = 0; i < 18; i++)
        CHECK_NEAR(sos[i], butter6_high_20_1000[i], 2e-7 * fabs(butter6_high_20_1000[i]) + 1e-12);
    CHECK_EQ_INT(edgert_decimation_sos(10, c, zi), EDGERT_OK);
    for (i = 0; i < 24; i++)
        CHECK_NEAR(c[i], cheby_r10[i], 1e-9 * fabs(cheby_r10[i]) + 1e-15);
    for (i = 0; i < 8; i++)
        CHECK_NEAR(zi[i], cheby_r10_zi[i], 1e-8 * fabs(cheby_r10_zi[i]) + 1e-12);
    CHECK_EQ_INT(edgert_butter_sos(EDGERT_FILTER_LOW, 5, 5.0, 62.5, sos), EDGERT_ERR_PARAM);
    CHECK_EQ_INT(edgert_butter_sos(EDGERT_FILTER_LOW, 4, 31.25, 62.5, sos), EDGERT_ERR_PARAM);
    CHECK_EQ_INT(edgert_butter_sos(EDGERT_FILTER_NONE, 4, 5.0, 62.5, sos), EDGERT_ERR_PARAM);
    CHECK_EQ_INT(edgert_butter_sos(EDGERT_FILTER_LOW, 4, NAN, 62.5, sos), EDGERT_ERR_PARAM);
    CHECK_EQ_INT(edgert_decimation_sos(1, c, zi), EDGERT_ERR_PARAM);
}

static void test_sosfilt(void)
{
    /* one section against its difference equation y[t] = b.x - a1 y[t-1] - a2 y[t-2] */
    const float sos[6] = {0.2f, 0.3f, -0.1f, 1.0f, -0.5f, 0.25f};
    float x[200], y[200], zi[2] = {0.0f, 0.0f};
    double yp1 = 0, yp2 = 0, xp1 = 0, xp2 = 0;
    unsigned seed = 3;
    int t;
    for (t = 0; t < 200; t++)
        x[t] = (float)(lcg(&seed) % 1000) / 500.0f - 1.0f;
    CHECK_EQ_INT(edgert_sosfilt(sos, 1, x, y, 200, zi), EDGERT_OK);
    for (t = 0; t < 200; t++) {
        double v = 0.2 * x[t] + 0.3 * xp1 - 0.1 * xp2 + 0.5 * yp1 - 0.25 * yp2;
        CHECK_NEAR(y[t], v, 1e-5);
        yp2 = yp1;
        yp1 = v;
        xp2 = xp1;
        xp1 = x[t];
    }
    /* continuing from the returned state equals filtering in one go */
    {
        float a[200], zs[2] = {0, 0};
        CHECK_EQ_INT(edgert_sosfilt(sos, 1, x, a, 120, zs), EDGERT_OK);
        CHECK_EQ_INT(edgert_sosfilt(sos, 1, x + 120, a + 120, 80, zs), EDGERT_OK);
        for (t = 0; t < 200; t++)
            CHECK_NEAR(a[t], y[t], 1e-6);
    }
    CHECK_EQ_INT(edgert_sosfilt(sos, 0, x, y, 10, NULL), EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_sosfilt(sos, 1, x, y, -1, NULL), EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_sosfilt(NULL, 1, x, y, 10, NULL), EDGERT_ERR_NULL);
    CHECK_EQ_INT(edgert_sosfilt(sos, 1, x, y, 0, NULL), EDGERT_OK);
}

/* The max-hold spectrum takes four frames at a time (AVX2, when the CPU has it), then two
 * (SSE2), then one: whatever the frame count, alignment and path, the result must equal, bit
 * for bit, the maximum of the single-frame spectra. */
static void test_welch_paths_agree(void)
{
    static double plan_mem[4 * 256 + 256];
    static double y[10 * 256], work_mem[6 * 256 + 4 + 2], pmax[129], want[129], fw[256];
    static const int32_t sizes[] = {16, 32, 64, 256};
    unsigned seed = 11u;
    size_t si;
    int32_t i;
    for (i = 0; i < 10 * 256; i++)
        y[i] = (double)(lcg(&seed) % 20001u) / 1000.0 - 10.0;
    for (si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        int32_t n = sizes[si], ov, misalign;
        edgert__rfft_plan plan;
        CHECK_EQ_INT(edgert__rfft_plan_init(&plan, n, plan_mem), EDGERT_OK);
        for (ov = 0; ov < 2; ov++) {
            int32_t step = ov ? n / 2 : n, len;
            for (len = 1; len <= 10 * n; len += (len < 3 * n ? 1 : 7)) {
                for (misalign = 0; misalign < 2; misalign++) {
                    int32_t k, ix, same = 1;
                    double *work = work_mem + misalign; /* 8-byte offset: no SSE2 lanes */
                    for (k = 0; k <= n / 2; k++)
                        want[k] = 0.0;
                    for (ix = 0; ix < len; ix += step)
                        edgert__rfft_power_max(&plan, y + ix, len - ix < n ? len - ix : n,
                                               0.25, want, fw);
                    edgert__welch_max_hold(&plan, y, len, step, 0.25, pmax, work);
                    for (k = 0; k <= n / 2; k++)
                        same &= memcmp(&pmax[k], &want[k], sizeof(double)) == 0;
                    CHECK(same);
                }
            }
        }
    }
}

int main(void)
{
    test_welch_paths_agree();
    test_rfft_vs_dft();
    test_rfft_errors();
    test_designs();
    test_sosfilt();
    CTEST_END();
}
