/* Pure-C tests of the audio blocks (audio.c): reference vectors (audio_vectors.h, from
 * tests/data/audio/cases.json), batch with shared frames == window by window, the continuous
 * stages (frame rows + finish) == batch bit for bit, every configuration problem in the
 * reference's order, and bad arguments, corrupt states and random parameters -> a status,
 * never a crash (ASan/UBSan). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../edgert.h"
#include "audio_vectors.h"
#include "ctest.h"

static unsigned char scratch[1 << 23];
static unsigned char scratch2[1 << 22];
static double state_mem[1 << 18];
static float out[1 << 16];
static float out2[1 << 16];
static double rows[1 << 16];
static float signal_buf[48000];

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static double urand(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

static edgert_audio_params params_of(const audio_case *c)
{
    edgert_audio_params p;
    memset(&p, 0, sizeof(p));
    p.block = c->block;
    p.version = c->version;
    p.sampling_freq = c->fs;
    p.frame_length = c->frame_length;
    p.frame_stride = c->frame_stride;
    p.fft_length = c->fft_length;
    p.num_filters = c->num_filters;
    p.num_cepstral = c->num_cepstral;
    p.win_size = c->win_size;
    p.low_frequency = c->low;
    p.high_frequency = c->high;
    p.pre_cof = c->pre_cof;
    p.pre_shift = c->pre_shift;
    p.noise_floor_db = c->noise_floor_db;
    return p;
}

static edgert_audio_params defaults(int32_t block, int32_t version)
{
    edgert_audio_params p;
    memset(&p, 0, sizeof(p));
    p.block = block;
    p.version = version;
    p.sampling_freq = 16000.0;
    p.frame_length = 0.02;
    p.frame_stride = block == EDGERT_AUDIO_MFCC ? 0.02 : 0.01;
    p.fft_length = block == EDGERT_AUDIO_SPECTROGRAM ? 128 : 256;
    p.num_filters = block == EDGERT_AUDIO_MFCC ? 32 : 40;
    p.num_cepstral = 13;
    p.win_size = 101;
    p.low_frequency = 300.0;
    p.high_frequency = 0.0;
    p.pre_cof = 0.98;
    p.pre_shift = 1;
    p.noise_floor_db = -52.0;
    return p;
}

/* features of windows at starts over x (n_rows samples, stride 1) */
static int run_batch(const edgert_audio_params *p, const float *x, int32_t n_rows,
                     const int32_t *starts, int32_t n_windows, int32_t n_samples, float *o,
                     int32_t *n_features)
{
    edgert_audio_layout ly;
    size_t sb, xb, bb;
    int32_t axis = 0;
    int st = edgert_audio_check(p, n_samples, 1, &ly);
    if (st != EDGERT_OK)
        return st;
    st = edgert_audio_scratch_size(p, n_samples, &sb, &xb, &bb);
    if (st != EDGERT_OK)
        return st;
    if (bb > sizeof(scratch))
        return -1000;
    *n_features = ly.n_features;
    return edgert_audio_features_batch(p, x, n_rows, 1, &axis, 1, starts, n_windows, n_samples,
                                       o, ly.n_features, scratch, bb);
}

static void test_vectors(void)
{
    size_t i;
    for (i = 0; i < sizeof(audio_cases) / sizeof(audio_cases[0]); i++) {
        const audio_case *c = &audio_cases[i];
        edgert_audio_params p = params_of(c);
        int32_t start = 0, nf = -1, k;
        double worst = 0.0;
        CHECK_EQ_INT(run_batch(&p, c->raw, c->n_raw, &start, 1, c->n_raw, out, &nf), EDGERT_OK);
        CHECK_EQ_INT(nf, c->n_features);
        for (k = 0; k < c->n_features && k < nf; k++) {
            double want = c->features[k];
            double err = fabs((double)out[k] - want) / (fabs(want) > 1.0 ? fabs(want) : 1.0);
            worst = err > worst ? err : worst;
        }
        if (worst > 1e-4)
            fprintf(stderr, "case %d: worst relative error %g\n", c->index, worst);
        CHECK(worst <= 1e-4);
    }
}

/* a speech-like signal: two tones with an envelope and some noise, int16 values */
static void make_signal(float *x, int32_t n, double fs)
{
    int32_t i;
    for (i = 0; i < n; i++) {
        double t = (double)i / fs;
        double env = 0.5 + 0.5 * sin(2.0 * 3.14159265 * 3.0 * t);
        double v = 6000.0 * env * sin(2.0 * 3.14159265 * 440.0 * t) +
                   2000.0 * sin(2.0 * 3.14159265 * 1870.0 * t) + (urand() - 0.5) * 400.0;
        x[i] = (float)floor(v + 0.5);
    }
}

/* Every block/version: a batch over overlapping windows (frames shared) equals each window
 * alone, and the continuous stages reproduce it bit for bit. */
static void test_batch_and_continuous(void)
{
    int32_t blk, ver;
    const int32_t n_total = 40000, L = 16000;
    make_signal(signal_buf, n_total, 16000.0);
    for (blk = 0; blk < 3; blk++) {
        for (ver = 1; ver <= 4; ver++) {
            edgert_audio_params p = defaults(blk, ver);
            edgert_audio_layout ly;
            int32_t starts[12], nw = 0, nf = 0, w, k;
            size_t sb, xb, bb;
            if (blk == EDGERT_AUDIO_MFCC && ver == 4)
                p.low_frequency = 0.0;
            CHECK_EQ_INT(edgert_audio_check(&p, L, 1, &ly), EDGERT_OK);
            /* slides by 1, 3 and 7 frames, a jump back, one not a multiple of the stride */
            starts[nw++] = 0;
            starts[nw++] = ly.frame_stride;
            starts[nw++] = 4 * ly.frame_stride;
            starts[nw++] = 11 * ly.frame_stride;
            starts[nw++] = 2 * ly.frame_stride;
            starts[nw++] = 2 * ly.frame_stride + 7;
            starts[nw++] = 2 * ly.frame_stride + 7 + 3 * ly.frame_stride / 2;   /* half strides: */
            starts[nw++] = 2 * ly.frame_stride + 7 + 6 * ly.frame_stride / 2;   /* every other */
            starts[nw++] = 2 * ly.frame_stride + 7 + 9 * ly.frame_stride / 2;   /* one shares */
            starts[nw++] = n_total - L;
            CHECK_EQ_INT(run_batch(&p, signal_buf, n_total, starts, nw, L, out, &nf), EDGERT_OK);
            for (w = 0; w < nw; w++) {
                int same = 1;
                CHECK_EQ_INT(run_batch(&p, signal_buf + starts[w], L, &starts[0], 1, L, out2, &nf),
                             EDGERT_OK);
                for (k = 0; k < nf; k++)
                    same &= memcmp(&out[(size_t)w * nf + k], &out2[k], sizeof(float)) == 0;
                if (!same)
                    fprintf(stderr, "block %d v%d window %d: batch != single\n", blk, ver, w);
                CHECK(same);
            }
            /* continuous: slide by 2 frames at a time, keeping rows */
            CHECK_EQ_INT(edgert_audio_scratch_size(&p, L, &sb, &xb, &bb), EDGERT_OK);
            CHECK(sb <= sizeof(state_mem) && xb <= sizeof(scratch2));
            CHECK_EQ_INT(edgert_audio_state_init(&p, L, state_mem, sb), EDGERT_OK);
            {
                int32_t F = ly.n_frames, pf = ly.per_frame, d = 2, pos;
                CHECK((size_t)F * pf <= sizeof(rows) / sizeof(rows[0]));
                CHECK_EQ_INT(edgert_audio_frame_rows(state_mem, sb, signal_buf, L, 0, F, rows,
                                                     scratch2, xb), EDGERT_OK);
                for (pos = 0; pos + L <= n_total && pos < 6 * d * ly.frame_stride;
                     pos += d * ly.frame_stride) {
                    double peak = 0.0;
                    int32_t t, same = 1;
                    const float *x = signal_buf + pos;
                    if (pos > 0) {
                        memmove(rows, rows + (size_t)d * pf, (size_t)(F - d) * pf * sizeof(double));
                        CHECK_EQ_INT(edgert_audio_frame_rows(state_mem, sb, x, L, 0, ly.wrap_frames,
                                                             rows, scratch2, xb), EDGERT_OK);
                        CHECK_EQ_INT(edgert_audio_frame_rows(state_mem, sb, x, L, F - d, d,
                                                             rows + (size_t)(F - d) * pf, scratch2,
                                                             xb), EDGERT_OK);
                    }
                    for (t = 0; t < L; t++)
                        peak = fabs((double)x[t]) > peak ? fabs((double)x[t]) : peak;
                    CHECK_EQ_INT(edgert_audio_finish(state_mem, sb, rows, peak, out2, scratch2, xb),
                                 EDGERT_OK);
                    CHECK_EQ_INT(run_batch(&p, signal_buf, n_total, &pos, 1, L, out, &nf), EDGERT_OK);
                    for (k = 0; k < nf; k++)
                        same &= memcmp(&out[k], &out2[k], sizeof(float)) == 0;
                    if (!same)
                        fprintf(stderr, "block %d v%d pos %d: continuous != batch\n", blk, ver, pos);
                    CHECK(same);
                }
            }
        }
    }
}

static int32_t problem_of(const edgert_audio_params *p, int32_t n, int32_t axes, int *status)
{
    edgert_audio_layout ly;
    memset(&ly, 0xAB, sizeof(ly));
    *status = edgert_audio_check(p, n, axes, &ly);
    return ly.problem;
}

/* Each problem from a configuration that has it first, and the layouts of valid ones. */
static void test_checks(void)
{
    edgert_audio_params p;
    edgert_audio_layout ly;
    int st;
    /* feature counts of the defaults at 16 kHz, 1 s (spec: MFCC 650 / v1 637, MFE 3960 /
     * 3920, spectrogram 6435 / 6370) */
    p = defaults(EDGERT_AUDIO_MFCC, 4);
    CHECK_EQ_INT(edgert_audio_check(&p, 16000, 1, &ly), EDGERT_OK);
    CHECK_EQ_INT(ly.n_features, 650);
    CHECK_EQ_INT(ly.wrap_frames, 1);
    p.version = 1;
    CHECK_EQ_INT(edgert_audio_check(&p, 16000, 1, &ly), EDGERT_OK);
    CHECK_EQ_INT(ly.n_features, 637);
    p = defaults(EDGERT_AUDIO_MFE, 4);
    CHECK_EQ_INT(edgert_audio_check(&p, 16000, 1, &ly), EDGERT_OK);
    CHECK_EQ_INT(ly.n_features, 3960);
    p.version = 1;
    CHECK_EQ_INT(edgert_audio_check(&p, 16000, 1, &ly), EDGERT_OK);
    CHECK_EQ_INT(ly.n_features, 3920);
    CHECK_EQ_INT(ly.wrap_frames, 0);
    p = defaults(EDGERT_AUDIO_SPECTROGRAM, 4);
    CHECK_EQ_INT(edgert_audio_check(&p, 16000, 1, &ly), EDGERT_OK);
    CHECK_EQ_INT(ly.n_features, 6435);
    p.version = 1;
    CHECK_EQ_INT(edgert_audio_check(&p, 16000, 1, &ly), EDGERT_OK);
    CHECK_EQ_INT(ly.n_features, 6370);
    /* cnf: 16000 * 0.025 = 400.00000000000006 -> 400 */
    p = defaults(EDGERT_AUDIO_MFCC, 2);
    p.frame_length = 0.025;
    CHECK_EQ_INT(edgert_audio_check(&p, 16000, 1, &ly), EDGERT_OK);
    CHECK_EQ_INT(ly.frame_length, 400);
    /* v1 rounds, v2 ceils: 0.02015 s at 16 kHz = 322.4 samples */
    p.frame_length = 0.02015;
    CHECK_EQ_INT(edgert_audio_check(&p, 16000, 1, &ly), EDGERT_OK);
    CHECK_EQ_INT(ly.frame_length, 323);
    p.version = 1;
    CHECK_EQ_INT(edgert_audio_check(&p, 16000, 1, &ly), EDGERT_OK);
    CHECK_EQ_INT(ly.frame_length, 322);
    /* v1-v3: low 0 means 300 Hz; v4 keeps 0 */
    p = defaults(EDGERT_AUDIO_MFE, 3);
    p.low_frequency = 0.0;
    CHECK_EQ_INT(edgert_audio_check(&p, 16000, 1, &ly), EDGERT_OK);
    CHECK(ly.low_frequency == 300.0 && ly.high_frequency == 8000.0);
    p.version = 4;
    CHECK_EQ_INT(edgert_audio_check(&p, 16000, 1, &ly), EDGERT_OK);
    CHECK(ly.low_frequency == 0.0);

    /* the reference's errors (cases.json), each with the problem code */
    p = defaults(EDGERT_AUDIO_MFCC, 5);
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_BAD_VERSION);
    CHECK_EQ_INT(st, EDGERT_ERR_PARAM);
    p = defaults(EDGERT_AUDIO_MFCC, 4);
    p.num_filters = 1;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_FEW_FILTERS);
    p = defaults(EDGERT_AUDIO_MFCC, 4);
    p.fft_length = 300;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_FFT_NOT_POW2);
    p = defaults(EDGERT_AUDIO_MFCC, 4);
    CHECK_EQ_INT(problem_of(&p, 1600, 2, &st), EDGERT_AUDIO_AXES);
    p.frame_length = 0.2;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_FEW_FRAMES);
    CHECK_EQ_INT(st, EDGERT_ERR_TOO_SHORT);
    p = defaults(EDGERT_AUDIO_MFCC, 2);
    p.frame_length = 0.1;
    p.frame_stride = 0.001;
    CHECK_EQ_INT(problem_of(&p, 16000, 1, &st), EDGERT_AUDIO_MANY_FRAMES);
    {
        edgert_audio_layout l2;
        edgert_audio_check(&p, 16000, 1, &l2);
        CHECK_EQ_INT(l2.n_frames, 901);
    }
    p = defaults(EDGERT_AUDIO_MFCC, 4);
    p.fft_length = 128;
    p.low_frequency = 0.0;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_EMPTY_FILTER);
    p = defaults(EDGERT_AUDIO_MFCC, 3);
    p.num_filters = 40;
    p.low_frequency = 80.0;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_EMPTY_FILTER);
    p = defaults(EDGERT_AUDIO_MFCC, 4);
    p.high_frequency = 9000.0;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_HIGH_FREQ);
    p = defaults(EDGERT_AUDIO_MFCC, 1);
    p.pre_shift = 0;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_BAD_SHIFT);
    p = defaults(EDGERT_AUDIO_MFCC, 4);
    p.win_size = 100;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_EVEN_WINDOW);
    p.win_size = 0; /* MFCC: no normalisation */
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_OK);
    p = defaults(EDGERT_AUDIO_MFE, 2);
    p.win_size = 0; /* MFE v1/v2: 0 is even */
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_EVEN_WINDOW);
    p.version = 3; /* v3/v4 ignore win_size */
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_OK);
    p = defaults(EDGERT_AUDIO_MFE, 3);
    p.high_frequency = 8001.0;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_HIGH_FREQ);
    p = defaults(EDGERT_AUDIO_SPECTROGRAM, 4);
    CHECK_EQ_INT(problem_of(&p, 0, 1, &st), EDGERT_AUDIO_EMPTY);
    p.frame_length = 0.0002;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_SHORT_FRAME);
    p = defaults(EDGERT_AUDIO_SPECTROGRAM, 2);
    p.frame_stride = 0.0002;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_SHORT_STRIDE);
    p = defaults(EDGERT_AUDIO_SPECTROGRAM, 4);
    p.frame_stride = 0.0003;
    CHECK_EQ_INT(problem_of(&p, 16000, 1, &st), EDGERT_AUDIO_MANY_FRAMES);
    p = defaults(EDGERT_AUDIO_SPECTROGRAM, 0);
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_BAD_VERSION);
    /* order: version before filters before FFT before axes before frames */
    p = defaults(EDGERT_AUDIO_MFE, 9);
    p.num_filters = 0;
    p.fft_length = 3;
    CHECK_EQ_INT(problem_of(&p, 10, 7, &st), EDGERT_AUDIO_BAD_VERSION);
    p.version = 4;
    CHECK_EQ_INT(problem_of(&p, 10, 7, &st), EDGERT_AUDIO_FEW_FILTERS);
    p.num_filters = 40;
    CHECK_EQ_INT(problem_of(&p, 10, 7, &st), EDGERT_AUDIO_FFT_NOT_POW2);
    p.fft_length = 256;
    CHECK_EQ_INT(problem_of(&p, 10, 7, &st), EDGERT_AUDIO_AXES);
    CHECK_EQ_INT(problem_of(&p, 10, 1, &st), EDGERT_AUDIO_FEW_FRAMES);
    /* edgert's own sanity checks */
    p = defaults(EDGERT_AUDIO_MFCC, 4);
    p.sampling_freq = 0.0;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_BAD_RATE);
    p = defaults(EDGERT_AUDIO_MFCC, 4);
    p.frame_length = NAN;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_BAD_FRAME);
    p = defaults(EDGERT_AUDIO_MFCC, 4);
    p.frame_stride = 0.0;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_BAD_STRIDE);
    p = defaults(EDGERT_AUDIO_MFCC, 4);
    p.num_cepstral = 0;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_BAD_CEPSTRAL);
    p = defaults(EDGERT_AUDIO_MFCC, 4);
    p.win_size = -3;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_BAD_WIN_SIZE);
    p.win_size = EDGERT_AUDIO_MAX_WIN_SIZE + 2;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_BAD_WIN_SIZE);
    p = defaults(EDGERT_AUDIO_MFCC, 4);
    p.high_frequency = INFINITY;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_BAD_FREQ);
    p = defaults(EDGERT_AUDIO_MFCC, 4);
    p.pre_cof = NAN;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_BAD_PRE_COF);
    p = defaults(EDGERT_AUDIO_MFE, 3);
    p.noise_floor_db = -12.0;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_BAD_NOISE_FLOOR);
    p = defaults(EDGERT_AUDIO_MFE, 4);
    p.fft_length = 1 << 20;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_BAD_FFT_SIZE);
    p = defaults(EDGERT_AUDIO_MFCC, 4);
    p.pre_shift = 400;
    CHECK_EQ_INT(problem_of(&p, 400, 1, &st), EDGERT_AUDIO_LONG_SHIFT);
    p = defaults(EDGERT_AUDIO_MFCC, 4);
    p.low_frequency = -5.0;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_LOW_FREQ);
    p.low_frequency = 5000.0;
    p.high_frequency = 4000.0;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_LOW_ABOVE_HIGH);
    p = defaults(EDGERT_AUDIO_MFE, 4);
    p.num_filters = 2000000000;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_EMPTY_FILTER);
    p.block = 7;
    CHECK_EQ_INT(problem_of(&p, 1600, 1, &st), EDGERT_AUDIO_BAD_BLOCK);
    /* extreme sizes: no overflow anywhere (UBSan) */
    p = defaults(EDGERT_AUDIO_MFCC, 2);
    p.frame_stride = 1e12;
    CHECK_EQ_INT(edgert_audio_check(&p, INT32_MAX, 1, &ly), EDGERT_OK);
    CHECK_EQ_INT(ly.n_frames, 1);
    CHECK_EQ_INT(ly.frame_stride, INT32_MAX);
    p.version = 1;
    CHECK_EQ_INT(problem_of(&p, INT32_MAX, 1, &st), EDGERT_AUDIO_FEW_FRAMES);
    p.version = 2;
    p.frame_length = 1e12;
    CHECK_EQ_INT(problem_of(&p, INT32_MAX, 1, &st), EDGERT_AUDIO_FEW_FRAMES);
    p = defaults(EDGERT_AUDIO_SPECTROGRAM, 4);
    p.sampling_freq = 1e300;
    CHECK_EQ_INT(problem_of(&p, INT32_MAX, 1, &st), EDGERT_AUDIO_FEW_FRAMES);
    p = defaults(EDGERT_AUDIO_MFE, 4);
    p.frame_stride = 1e-9;
    CHECK_EQ_INT(problem_of(&p, INT32_MAX, 1, &st), EDGERT_AUDIO_BAD_STRIDE);
    p.frame_stride = 1.0 / 16000.0;
    CHECK_EQ_INT(problem_of(&p, INT32_MAX, 1, &st), EDGERT_AUDIO_MANY_FRAMES);
    p = defaults(EDGERT_AUDIO_MFE, 4);
    CHECK_EQ_INT(edgert_audio_check(&p, -1, 1, &ly), EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_audio_check(NULL, 100, 1, &ly), EDGERT_ERR_NULL);
    CHECK_EQ_INT(edgert_audio_check(&p, 100, 1, NULL), EDGERT_ERR_NULL);
}

/* Bad arguments, wrong buffers and corrupt states: statuses, never a crash. */
static void test_bad_arguments(void)
{
    edgert_audio_params p = defaults(EDGERT_AUDIO_MFCC, 4);
    edgert_audio_layout ly;
    size_t sb, xb, bb;
    int32_t axis = 0, start = 0, bad_start = 5, bad_axis = 1;
    const int32_t L = 4000;
    make_signal(signal_buf, L, 16000.0);
    CHECK_EQ_INT(edgert_audio_check(&p, L, 1, &ly), EDGERT_OK);
    CHECK_EQ_INT(edgert_audio_scratch_size(&p, L, &sb, &xb, &bb), EDGERT_OK);
    CHECK_EQ_INT(edgert_audio_scratch_size(&p, L, NULL, &xb, &bb), EDGERT_ERR_NULL);
    CHECK_EQ_INT(edgert_audio_features_batch(&p, NULL, L, 1, &axis, 1, &start, 1, L, out,
                                             ly.n_features, scratch, bb), EDGERT_ERR_NULL);
    CHECK_EQ_INT(edgert_audio_features_batch(&p, signal_buf, L, 1, &axis, 1, &start, 1, L, out,
                                             ly.n_features, NULL, bb), EDGERT_ERR_NULL);
    CHECK_EQ_INT(edgert_audio_features_batch(&p, signal_buf, L, 1, &axis, 1, &start, 1, L, out,
                                             ly.n_features, scratch, bb - 1), EDGERT_ERR_SCRATCH);
    CHECK_EQ_INT(edgert_audio_features_batch(&p, signal_buf, L, 1, &axis, 1, &bad_start, 1, L,
                                             out, ly.n_features, scratch, bb), EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_audio_features_batch(&p, signal_buf, L, 1, &bad_axis, 1, &start, 1, L,
                                             out, ly.n_features, scratch, bb), EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_audio_features_batch(&p, signal_buf, L, 1, &axis, 1, &start, 1, L, out,
                                             ly.n_features - 1, scratch, bb), EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_audio_features_batch(&p, signal_buf, L, 1, &axis, 2, &start, 1, L, out,
                                             ly.n_features, scratch, bb), EDGERT_ERR_PARAM);
    CHECK_EQ_INT(edgert_audio_features_batch(&p, signal_buf, L, 1, &axis, 1, &start, 0, L, out,
                                             ly.n_features, NULL, 0), EDGERT_OK);
    /* misaligned scratch is fine (aligned inside) */
    CHECK_EQ_INT(edgert_audio_features_batch(&p, signal_buf, L, 1, &axis, 1, &start, 1, L, out,
                                             ly.n_features, scratch + 3, bb), EDGERT_OK);
    /* NaN / inf in a frame */
    signal_buf[100] = NAN;
    CHECK_EQ_INT(edgert_audio_features_batch(&p, signal_buf, L, 1, &axis, 1, &start, 1, L, out,
                                             ly.n_features, scratch, bb), EDGERT_ERR_NONFINITE);
    signal_buf[100] = INFINITY;
    CHECK_EQ_INT(edgert_audio_features_batch(&p, signal_buf, L, 1, &axis, 1, &start, 1, L, out,
                                             ly.n_features, scratch, bb), EDGERT_ERR_NONFINITE);
    signal_buf[100] = 0.0f;
    /* MFE v1/v2 energies beyond float32 -> NONFINITE, not UB */
    {
        edgert_audio_params q = defaults(EDGERT_AUDIO_MFE, 2);
        size_t s2, x2, b2;
        edgert_audio_layout l2;
        int32_t t;
        int st;
        for (t = 0; t < L; t++)
            signal_buf[t] = t < L / 2 ? ((t & 1) ? 3e38f : -3e38f) : 0.0f;
        CHECK_EQ_INT(edgert_audio_check(&q, L, 1, &l2), EDGERT_OK);
        CHECK_EQ_INT(edgert_audio_scratch_size(&q, L, &s2, &x2, &b2), EDGERT_OK);
        /* D overflows float32; the 0-1 scaling then turns the infinities into NaN and those
         * into 0 as the reference does: finite output, or NONFINITE - never UB */
        st = edgert_audio_features_batch(&q, signal_buf, L, 1, &axis, 1, &start, 1, L, out,
                                         l2.n_features, scratch, b2);
        CHECK(st == EDGERT_OK || st == EDGERT_ERR_NONFINITE);
        for (t = 0; st == EDGERT_OK && t < l2.n_features; t++)
            CHECK(isfinite(out[t]));
        q = defaults(EDGERT_AUDIO_MFCC, 4);
        CHECK_EQ_INT(edgert_audio_scratch_size(&q, L, &s2, &x2, &b2), EDGERT_OK);
        CHECK_EQ_INT(edgert_audio_check(&q, L, 1, &l2), EDGERT_OK);
        st = edgert_audio_features_batch(&q, signal_buf, L, 1, &axis, 1, &start, 1, L, out,
                                         l2.n_features, scratch, b2);
#ifdef EDGERT_DSP_FLOAT32
        /* the float32 working precision's spectrum overflows: refused, not wrong */
        CHECK(st == EDGERT_OK || st == EDGERT_ERR_NONFINITE);
#else
        CHECK_EQ_INT(st, EDGERT_OK); /* double spectra hold (3e38)^2 * N */
#endif
        make_signal(signal_buf, L, 16000.0);
    }

    /* continuous stages: states that were not initialised, damaged or too small */
    CHECK_EQ_INT(edgert_audio_state_init(&p, L, state_mem, sb - 1), EDGERT_ERR_SCRATCH);
    CHECK_EQ_INT(edgert_audio_state_init(&p, L, (unsigned char *)state_mem + 4, sb), EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_audio_state_init(&p, L, state_mem, sb), EDGERT_OK);
    CHECK_EQ_INT(edgert_audio_frame_rows(state_mem, sb, signal_buf, L, 0, ly.n_frames, rows,
                                         scratch2, xb), EDGERT_OK);
    CHECK_EQ_INT(edgert_audio_frame_rows(state_mem, sb, signal_buf, L + 1, 0, 1, rows, scratch2,
                                         xb), EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_audio_frame_rows(state_mem, sb, signal_buf, L, ly.n_frames, 1, rows,
                                         scratch2, xb), EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_audio_frame_rows(state_mem, sb, signal_buf, L, -1, 1, rows, scratch2, xb),
                 EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_audio_frame_rows(state_mem, sb, signal_buf, L, 0, 1, rows, scratch2,
                                         xb - 1), EDGERT_ERR_SCRATCH);
    CHECK_EQ_INT(edgert_audio_frame_rows(state_mem, sb - 8, signal_buf, L, 0, 1, rows, scratch2,
                                         xb), EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_audio_finish(state_mem, sb, rows, 0.0, out, scratch2, xb), EDGERT_OK);
    CHECK_EQ_INT(edgert_audio_finish(state_mem, sb, NULL, 0.0, out, scratch2, xb), EDGERT_ERR_NULL);
    {
        /* flip every byte of the state in turn (a sample of positions): never a crash */
        unsigned char *s = (unsigned char *)state_mem;
        size_t i;
        for (i = 0; i < sb; i += 1 + (size_t)(rnd() % 61)) {
            unsigned char keep = s[i];
            int st;
            s[i] = (unsigned char)(keep ^ (1u << (rnd() % 8)));
            st = edgert_audio_frame_rows(state_mem, sb, signal_buf, L, 0, ly.n_frames, rows,
                                         scratch2, xb);
            CHECK(st == EDGERT_OK || st == EDGERT_ERR_ARG || st == EDGERT_ERR_NONFINITE);
            st = edgert_audio_finish(state_mem, sb, rows, 1.0, out, scratch2, xb);
            CHECK(st == EDGERT_OK || st == EDGERT_ERR_ARG || st == EDGERT_ERR_NONFINITE);
            s[i] = keep;
        }
        memset(state_mem, 0x5a, sb);
        CHECK_EQ_INT(edgert_audio_finish(state_mem, sb, rows, 1.0, out, scratch2, xb),
                     EDGERT_ERR_ARG);
    }
}

static double pick(const double *v, int n) { return v[rnd() % (uint64_t)n]; }

/* Random parameters, including absurd ones: check/size never crash; when valid and small,
 * the batch and the continuous stages run and agree. */
static void test_fuzz(void)
{
    static const double fsv[] = {16000, 8000, 44100, 1000, 100, 11025, 0, -5, NAN, INFINITY,
                                 1e300, 3.0};
    static const double lenv[] = {0.02, 0.025, 0.032, 0.016, 0.02015, 0.5, 0.0, -0.01, 1e9,
                                  NAN, 0.0002, 0.064};
    static const double freqv[] = {0, 300, 80, 20, 4000, 7600, 22000, -1, NAN, 1e12, 8000,
                                   100};
    static const double nfv[] = {-52, -72, -100, -30, -12, 0, NAN, -1e300, -45, -13};
    int iter, ran = 0;
    make_signal(signal_buf, 48000, 16000.0);
    for (iter = 0; iter < 6000; iter++) {
        edgert_audio_params p;
        edgert_audio_layout ly;
        size_t sb = 0, xb = 0, bb = 0;
        int32_t L, st, st2, axis = 0, starts[3];
        memset(&p, 0, sizeof(p));
        p.block = (int32_t)(rnd() % 4) - (rnd() % 8 == 0);
        p.version = (int32_t)(rnd() % 6);
        p.sampling_freq = pick(fsv, 12);
        p.frame_length = pick(lenv, 12);
        p.frame_stride = pick(lenv, 12) * (rnd() % 2 ? 0.5 : 1.0);
        p.fft_length = (rnd() % 10 == 0) ? (int32_t)(rnd() % 3000) - 5 : 1 << (rnd() % 13);
        p.num_filters = (rnd() % 10 == 0) ? (int32_t)(rnd() >> 33) : (int32_t)(rnd() % 70) - 2;
        p.num_cepstral = (int32_t)(rnd() % 50) - 2;
        p.win_size = (rnd() % 10 == 0) ? (int32_t)(rnd() >> 33) : (int32_t)(rnd() % 160) - 5;
        p.low_frequency = pick(freqv, 12);
        p.high_frequency = pick(freqv, 12);
        p.pre_cof = rnd() % 8 == 0 ? NAN : urand() * 2.0 - 0.5;
        p.pre_shift = (int32_t)(rnd() % 5) - 1;
        p.noise_floor_db = pick(nfv, 10);
        L = (rnd() % 6 == 0) ? (int32_t)(rnd() % 64) - 2 : (int32_t)(rnd() % 16000);
        st = edgert_audio_check(&p, L, 1, &ly);
        st2 = edgert_audio_scratch_size(&p, L, &sb, &xb, &bb);
        CHECK(st == st2 || st2 == EDGERT_ERR_NULL);
        if (st != EDGERT_OK) {
            CHECK(st == EDGERT_ERR_PARAM || st == EDGERT_ERR_TOO_SHORT || st == EDGERT_ERR_ARG ||
                  st == EDGERT_ERR_OVERFLOW);
            if (st == EDGERT_ERR_PARAM || st == EDGERT_ERR_TOO_SHORT)
                CHECK(ly.problem > 0);
            continue;
        }
        CHECK(ly.n_features == ly.n_frames * ly.per_frame && ly.n_frames >= 1 &&
              ly.n_frames <= EDGERT_AUDIO_MAX_FRAMES);
        if (bb > sizeof(scratch) || sb > sizeof(state_mem) || xb > sizeof(scratch2) ||
            (size_t)ly.n_features * 3 > sizeof(out) / sizeof(out[0]) ||
            (int64_t)L + 700 + ly.frame_stride > 48000)
            continue;
        starts[0] = 0;
        starts[1] = ly.frame_stride;
        starts[2] = 700;
        st = edgert_audio_features_batch(&p, signal_buf, L + 700 + ly.frame_stride, 1, &axis, 1,
                                         starts, 3, L, out, ly.n_features, scratch, bb);
        if (st != EDGERT_OK && st != EDGERT_ERR_NONFINITE)
            fprintf(stderr, "fuzz batch: status %d\n", st);
        CHECK(st == EDGERT_OK || st == EDGERT_ERR_NONFINITE);
        if (st == EDGERT_OK) {
            int32_t k, same = 1;
            CHECK_EQ_INT(edgert_audio_state_init(&p, L, state_mem, sb), EDGERT_OK);
            CHECK_EQ_INT(edgert_audio_frame_rows(state_mem, sb, signal_buf + ly.frame_stride, L, 0,
                                                 ly.n_frames, rows, scratch2, xb), EDGERT_OK);
            {
                double peak = 0.0;
                for (k = 0; k < L; k++) {
                    double a = fabs((double)signal_buf[ly.frame_stride + k]);
                    peak = a > peak ? a : peak;
                }
                CHECK_EQ_INT(edgert_audio_finish(state_mem, sb, rows, peak, out2, scratch2, xb),
                             EDGERT_OK);
            }
            for (k = 0; k < ly.n_features; k++)
                same &= memcmp(&out[ly.n_features + k], &out2[k], sizeof(float)) == 0;
            CHECK(same);
            ran++;
        }
    }
    CHECK(ran > 20);
    printf("fuzz: %d random configurations ran end to end\n", ran);
}

int main(void)
{
    test_vectors();
    test_checks();
    test_batch_and_continuous();
    test_bad_arguments();
    test_fuzz();
    CTEST_END();
}
