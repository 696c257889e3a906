/*
 * audio.c - the MFCC, MFE and Spectrogram DSP blocks (implementation versions 1-4):
 * configuration checks in the reference's order, a prepared state (FFT plan, mel filterbank,
 * DCT basis) in caller memory, per-frame rows and the whole-window finish, and the batch call.
 *
 * Numerics follow the training reference (processing-blocks mfcc/, mfe/, spectrogram/, float64
 * numpy): frames, power spectra, mel energies, logs and cepstra in double; float32 exactly where
 * the reference is float32: the sliding normalisation's D and output, MFE v1/v2's 0-1 scaling,
 * MFE v3/v4's input scaling and pre-emphasis. The sliding window mean is the reference's
 * sequential sum in window order (on a constant column only that order reproduces the
 * reference's rounding noise; spec, Precision).
 *
 * Stages: frame_row() computes one frame's values from its samples only (frames whose circular
 * pre-emphasis reads the window's end - the first `wrap_frames` - depend on the window too);
 * finish() applies what the block does over the whole window to the assembled rows. The batch
 * call reuses the rows of frames that consecutive windows share; a continuous caller does the
 * same through edgert_audio_frame_rows()/edgert_audio_finish().
 */
#if defined(__GNUC__) && !defined(__clang__) && !defined(__OPTIMIZE_SIZE__)
/* the normalisation's column loops vectorise at O3 */
#pragma GCC optimize("O3")
#endif
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "edgert.h"
#include "spectral_internal.h"
#include "window_internal.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#if !defined(EDGERT_NO_SIMD) && (defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2))
#include <emmintrin.h>
#define EDGERT_AUDIO_SSE2 1
#endif

#if defined(__GNUC__) || defined(__clang__)
#define AUDIO_RESTRICT __restrict__
#elif defined(_MSC_VER)
#define AUDIO_RESTRICT __restrict
#else
#define AUDIO_RESTRICT restrict
#endif

#define AUDIO_MAGIC 0x41554431u /* "AUD1" */

/* pipelines */
enum { K_MFCC, K_MFE_NORM, K_MFE_DB, K_SG_MINMAX, K_SG_DB3, K_SG_DB4 };
/* pre-emphasis of the frame samples */
enum { PRE_NONE, PRE_F64, PRE_F32 };

typedef struct {
    edgert_audio_layout ly;
    int32_t kind, pre;
    int32_t L, N, B, M, C;      /* C: cepstra kept (MFCC) */
    int32_t h;                  /* pre-emphasis shift (0 = none) */
    int32_t win;                /* sliding normalisation window (0 = none) */
    int32_t n_mirror;           /* entries of the mirror table (F + win - 1) */
    int32_t w_cap;              /* capacity of the filterbank weight table */
} geometry;

/* byte offsets of the tables inside a state (all multiples of 8) */
typedef struct {
    size_t plan, fstart, flen, fw, dct, mirror, total;
} state_map;

/* byte offsets of the frame/finish scratch (after aligning its base to 16) */
typedef struct {
    size_t buf, work, pw, lg, d, ext, pre, acc, total;
} scratch_map;

typedef struct {
    uint32_t magic;
    int32_t n_samples;
    edgert_audio_params p;
    edgert_audio_layout ly;
} state_header;

/* a state viewed through its tables */
typedef struct {
    const state_header *hd;
    geometry g;
    edgert__rfft_plan plan;
    const int32_t *fstart, *flen, *mirror;
    const double *fw, *dct;
} view;

static size_t al8(size_t b) { return (b + 7u) & ~(size_t)7u; }
static size_t al16(size_t b) { return (b + 15u) & ~(size_t)15u; }

static int is_pow2(int32_t n) { return n > 0 && (n & (n - 1)) == 0; }

/* ceil, except a value less than 0.001 above an integer is floored (spec: cnf) */
static double cnf(double v)
{
    double fl = floor(v), d = v - fl;
    if (d > 0.0 && d < 0.001)
        return fl;
    return ceil(v);
}

/* round half to even without depending on the floating-point environment */
static double round_half_even(double v)
{
    double r = floor(v + 0.5);
    if (r - v == 0.5 && fmod(r, 2.0) != 0.0)
        r -= 1.0;
    return r;
}

static double mel_of(double f) { return 1127.0 * log(1.0 + f / 700.0); }
static double hz_of(double m) { return 700.0 * (exp(m / 1127.0) - 1.0); }

/* bin edge b_j of the mel filterbank, j = 0..M+1 (numpy linspace of the mel range lo..hi =
 * mel_of(low_frequency)..mel_of(high_frequency), which the caller computes once for all edges,
 * back to Hz, last edge - 0.001 Hz, floor(K*h/fs)) */
static double mel_edge(const geometry *g, double lo, double hi, double fs, int32_t version,
                       int32_t j)
{
    double step = (hi - lo) / (double)(g->M + 1);
    double m = j == g->M + 1 ? hi : (double)j * step + lo;
    double h = hz_of(m);
    double K = version >= 4 ? (double)g->N + 1.0 : (double)(g->N / 2 + 2);
    if (j == g->M + 1)
        h -= 0.001;
    return floor(K * h / fs);
}

/* Support of filter i from its edges (l, m, r): weights (k-l)/(m-l) on l < k <= m and
 * (r-k)/(r-m) on m <= k < r. Returns the first bin and the count (0: all-zero filter). */
static int32_t filter_support(double l, double m, double r, int32_t *first)
{
    double lo = l < m ? l + 1.0 : m, hi = m < r ? r - 1.0 : m;
    if (!(l < m) && !(m < r))
        return 0;
    *first = (int32_t)lo;
    return (int32_t)(hi - lo + 1.0);
}

static int fail(edgert_audio_layout *ly, int32_t problem)
{
    ly->problem = problem;
    return problem == EDGERT_AUDIO_FEW_FRAMES ? EDGERT_ERR_TOO_SHORT : EDGERT_ERR_PARAM;
}

/* The reference's checks in its order (after edgert's own sanity checks of values the
 * reference cannot process), and the geometry of a valid configuration. */
static int make_geometry(const edgert_audio_params *p, int32_t L, int32_t n_axes, geometry *g)
{
    edgert_audio_layout *ly = &g->ly;
    int32_t v, blk, mel;
    double fs, nd, sd, Fd;
    memset(g, 0, sizeof(*g));
    if (p == NULL)
        return EDGERT_ERR_NULL;
    if (L < 0)
        return EDGERT_ERR_ARG;
    blk = p->block;
    v = p->version;
    fs = p->sampling_freq;
    if (blk != EDGERT_AUDIO_MFCC && blk != EDGERT_AUDIO_MFE && blk != EDGERT_AUDIO_SPECTROGRAM)
        return fail(ly, EDGERT_AUDIO_BAD_BLOCK);
    mel = blk != EDGERT_AUDIO_SPECTROGRAM;
    if (v < 1 || v > 4)
        return fail(ly, EDGERT_AUDIO_BAD_VERSION);
    /* edgert's sanity checks */
    if (!isfinite(fs) || !(fs > 0.0))
        return fail(ly, EDGERT_AUDIO_BAD_RATE);
    if (!isfinite(p->frame_length))
        return fail(ly, EDGERT_AUDIO_BAD_FRAME);
    if (!isfinite(p->frame_stride))
        return fail(ly, EDGERT_AUDIO_BAD_STRIDE);
    if (blk == EDGERT_AUDIO_MFCC && p->num_cepstral < 1)
        return fail(ly, EDGERT_AUDIO_BAD_CEPSTRAL);
    if ((blk == EDGERT_AUDIO_MFCC || (blk == EDGERT_AUDIO_MFE && v <= 2)) &&
        (p->win_size < 0 || p->win_size > EDGERT_AUDIO_MAX_WIN_SIZE))
        return fail(ly, EDGERT_AUDIO_BAD_WIN_SIZE);
    if (mel && (!isfinite(p->low_frequency) || !isfinite(p->high_frequency)))
        return fail(ly, EDGERT_AUDIO_BAD_FREQ);
    if (blk == EDGERT_AUDIO_MFCC && !isfinite(p->pre_cof))
        return fail(ly, EDGERT_AUDIO_BAD_PRE_COF);
    if (((blk == EDGERT_AUDIO_MFE && v >= 3) || (blk == EDGERT_AUDIO_SPECTROGRAM && v >= 3)) &&
        (!isfinite(p->noise_floor_db) || !(p->noise_floor_db < -12.0)))
        return fail(ly, EDGERT_AUDIO_BAD_NOISE_FLOOR);
    /* the reference's checks */
    if (mel && p->num_filters < 2)
        return fail(ly, EDGERT_AUDIO_FEW_FILTERS);
    if (!is_pow2(p->fft_length))
        return fail(ly, EDGERT_AUDIO_FFT_NOT_POW2);
    if (p->fft_length < 2 || p->fft_length > EDGERT_FFT_MAX_LENGTH)
        return fail(ly, EDGERT_AUDIO_BAD_FFT_SIZE);
    if (n_axes != 1)
        return fail(ly, EDGERT_AUDIO_AXES);
    if (blk == EDGERT_AUDIO_SPECTROGRAM) {
        if (L == 0)
            return fail(ly, EDGERT_AUDIO_EMPTY);
        if (p->frame_length < 4.0 / fs)
            return fail(ly, EDGERT_AUDIO_SHORT_FRAME);
        if (p->frame_stride < 4.0 / fs)
            return fail(ly, EDGERT_AUDIO_SHORT_STRIDE);
    }
    /* framing */
    nd = v == 1 ? round_half_even(fs * p->frame_length) : cnf(fs * p->frame_length);
    sd = cnf(fs * p->frame_stride);
    if (!(nd >= 1.0))
        return fail(ly, EDGERT_AUDIO_BAD_FRAME);
    if (!(sd >= 1.0))
        return fail(ly, EDGERT_AUDIO_BAD_STRIDE);
    if (sd > (double)L)
        sd = L > 0 ? (double)L : 1.0; /* longer than the window: the frame count is the same */
    if (nd > (double)L) {
        Fd = -1.0;
    } else {
        Fd = v == 1 ? floor(((double)L - nd) / sd) : floor(((double)L - nd + sd) / sd);
    }
    ly->n_frames = (int32_t)Fd;
    ly->frame_stride = (int32_t)sd;
    if (nd <= (double)L)
        ly->frame_length = (int32_t)nd;
    if (Fd < 1.0)
        return fail(ly, EDGERT_AUDIO_FEW_FRAMES);
    if (Fd > (double)EDGERT_AUDIO_MAX_FRAMES)
        return fail(ly, EDGERT_AUDIO_MANY_FRAMES);
    g->L = L;
    g->N = p->fft_length;
    g->B = g->N / 2 + 1;
    if (blk == EDGERT_AUDIO_MFCC) {
        if (p->pre_shift <= 0)
            return fail(ly, EDGERT_AUDIO_BAD_SHIFT);
        if (p->pre_shift >= L)
            return fail(ly, EDGERT_AUDIO_LONG_SHIFT);
        g->h = p->pre_shift;
        g->pre = PRE_F64;
    } else if (blk == EDGERT_AUDIO_MFE && v >= 3) {
        g->h = 1;
        g->pre = PRE_F32;
    }
    if (mel) {
        double low = p->low_frequency, high = p->high_frequency, prev2 = 0.0, prev1 = 0.0;
        double mel_lo, mel_hi;
        int32_t j;
        if (v <= 3 && low == 0.0)
            low = 300.0; /* spec quirk 3 */
        if (high == 0.0)
            high = fs / 2.0;
        ly->low_frequency = low;
        ly->high_frequency = high;
        g->M = p->num_filters;
        if (high > fs / 2.0)
            return fail(ly, EDGERT_AUDIO_HIGH_FREQ);
        if (low < 0.0)
            return fail(ly, EDGERT_AUDIO_LOW_FREQ);
        if (low > high)
            return fail(ly, EDGERT_AUDIO_LOW_ABOVE_HIGH);
        /* at most 2(B-1) filters of a monotone edge sequence over B bins are non-zero */
        if (g->M > 2 * g->B)
            return fail(ly, EDGERT_AUDIO_EMPTY_FILTER);
        g->w_cap = 0;
        mel_lo = mel_of(low);
        mel_hi = mel_of(high);
        for (j = 0; j < g->M + 2; j++) {
            double b = mel_edge(g, mel_lo, mel_hi, fs, v, j);
            if (j >= 2) {
                int32_t first = 0, cnt = filter_support(prev2, prev1, b, &first);
                if (cnt <= 0)
                    return fail(ly, EDGERT_AUDIO_EMPTY_FILTER);
                if (first < 0 || first + cnt > g->B)
                    return fail(ly, EDGERT_AUDIO_EMPTY_FILTER); /* not reachable for low>=0 */
                g->w_cap += cnt;
            }
            prev2 = prev1;
            prev1 = b;
        }
    }
    if (blk == EDGERT_AUDIO_MFCC) {
        if (p->win_size > 0 && p->win_size % 2 == 0)
            return fail(ly, EDGERT_AUDIO_EVEN_WINDOW);
        g->win = p->win_size;
        g->C = p->num_cepstral < g->M ? p->num_cepstral : g->M;
        g->kind = K_MFCC;
        ly->per_frame = g->C;
    } else if (blk == EDGERT_AUDIO_MFE) {
        if (v <= 2) {
            if (p->win_size % 2 == 0)
                return fail(ly, EDGERT_AUDIO_EVEN_WINDOW);
            g->win = p->win_size;
            g->kind = K_MFE_NORM;
        } else {
            g->kind = K_MFE_DB;
        }
        ly->per_frame = g->M;
    } else {
        g->kind = v <= 2 ? K_SG_MINMAX : (v == 3 ? K_SG_DB3 : K_SG_DB4);
        ly->per_frame = g->B;
    }
    if ((int64_t)ly->per_frame * ly->n_frames > INT32_MAX)
        return EDGERT_ERR_OVERFLOW;
    ly->n_features = ly->per_frame * ly->n_frames;
    ly->wrap_frames = 0;
    if (g->h > 0)
        ly->wrap_frames = (int32_t)(((int64_t)g->h + ly->frame_stride - 1) / ly->frame_stride);
    if (ly->wrap_frames > ly->n_frames)
        ly->wrap_frames = ly->n_frames;
    g->n_mirror = g->win > 0 ? ly->n_frames + g->win - 1 : 0;
    ly->problem = EDGERT_AUDIO_OK;
    return EDGERT_OK;
}

static void map_state(const geometry *g, state_map *m)
{
    size_t o = al8(sizeof(state_header));
    m->plan = o;
    o += al8(edgert__rfft_plan_bytes(g->N));
    m->fstart = o;
    o += al8((size_t)g->M * sizeof(int32_t));
    m->flen = o;
    o += al8((size_t)g->M * sizeof(int32_t));
    m->fw = o;
    o += (size_t)g->w_cap * sizeof(double);
    m->dct = o;
    o += (size_t)g->C * (size_t)g->M * sizeof(double);
    m->mirror = o;
    o += al8((size_t)g->n_mirror * sizeof(int32_t));
    m->total = o;
}

/* Row buffers the batch keeps: frames of windows a few steps apart line up when the window
 * step is not a multiple of the frame stride (250 ms steps with 20 ms strides: every other
 * window), so the batch keeps the rows of up to 4 earlier windows - 1 when the rows are large. */
#define AUDIO_BATCH_ROW_SETS 4
static int32_t batch_row_sets(const geometry *g)
{
    size_t one = (size_t)g->ly.n_features * sizeof(double);
    return one <= ((size_t)1 << 20) ? AUDIO_BATCH_ROW_SETS : 1;
}

static void map_scratch(const geometry *g, scratch_map *m)
{
    size_t o = 0, pf = (size_t)g->ly.per_frame;
    m->buf = o;
    o += al16((size_t)g->N * sizeof(double));
    m->work = o;
    o += al16((size_t)g->N * sizeof(double));
    m->pw = o;
    o += al16((size_t)g->B * sizeof(double));
    m->lg = o;
    o += al16((size_t)g->M * sizeof(double));
    m->d = o;
    o += g->win > 0 ? al16((size_t)g->ly.n_frames * pf * sizeof(double)) : 0;
    m->ext = o;
    o += al16((size_t)g->n_mirror * sizeof(double));
    m->pre = o;
    o += g->win > 0 ? al16(2u * ((size_t)g->n_mirror + 1u) * pf * sizeof(double)) : 0;
    m->acc = o;
    o += g->win > 0 ? al16((3u * (size_t)g->ly.n_frames + 3u) * pf * sizeof(double)) : 0;
    m->total = o + 16u; /* slack to align the base */
}

int edgert_audio_check(const edgert_audio_params *p, int32_t n_samples, int32_t n_axes,
                       edgert_audio_layout *layout)
{
    geometry g;
    int st;
    if (layout == NULL)
        return EDGERT_ERR_NULL;
    st = make_geometry(p, n_samples, n_axes, &g);
    *layout = g.ly;
    return st;
}

/* Scratch of edgert_audio_features_batch: its state (16-aligned) + the frame/finish scratch +
 * the row sets + 16 bytes of slack to align the base. */
static size_t batch_bytes_of(const geometry *g, const state_map *sm, const scratch_map *xm)
{
    return al16(sm->total) + xm->total +
           (size_t)batch_row_sets(g) * al16((size_t)g->ly.n_features * sizeof(double)) + 16u;
}

int edgert_audio_scratch_size(const edgert_audio_params *p, int32_t n_samples,
                              size_t *state_bytes, size_t *scratch_bytes, size_t *batch_bytes)
{
    geometry g;
    state_map sm;
    scratch_map xm;
    int st;
    if (state_bytes == NULL || scratch_bytes == NULL || batch_bytes == NULL)
        return EDGERT_ERR_NULL;
    st = make_geometry(p, n_samples, 1, &g);
    if (st != EDGERT_OK)
        return st;
    map_state(&g, &sm);
    map_scratch(&g, &xm);
    *state_bytes = sm.total;
    *scratch_bytes = xm.total;
    *batch_bytes = batch_bytes_of(&g, &sm, &xm);
    return EDGERT_OK;
}

int edgert__audio_sizes(const edgert_audio_params *p, int32_t n_samples, int32_t n_axes,
                        int32_t *n_features, size_t *batch_bytes)
{
    geometry g;
    state_map sm;
    scratch_map xm;
    int st = make_geometry(p, n_samples, n_axes, &g);
    if (st != EDGERT_OK)
        return st;
    map_state(&g, &sm);
    map_scratch(&g, &xm);
    *n_features = g.ly.n_features;
    *batch_bytes = batch_bytes_of(&g, &sm, &xm);
    return EDGERT_OK;
}

/* ------------------------------------------------------------------------------ state */
static int init_state(const edgert_audio_params *p, int32_t L, unsigned char *base,
                      size_t bytes)
{
    geometry g;
    state_map sm;
    state_header *hd;
    int st;
    int32_t i, j;
    if (((size_t)base & 7u) != 0)
        return EDGERT_ERR_ARG;
    st = make_geometry(p, L, 1, &g);
    if (st != EDGERT_OK)
        return st;
    map_state(&g, &sm);
    if (bytes < sm.total)
        return EDGERT_ERR_SCRATCH;
    memset(base, 0, sizeof(state_header));
    hd = (state_header *)base;
    hd->n_samples = L;
    hd->p = *p;
    hd->ly = g.ly;
    {
        edgert__rfft_plan plan;
        st = edgert__rfft_plan_init(&plan, g.N, base + sm.plan);
        if (st != EDGERT_OK)
            return st;
    }
    if (g.M > 0) {
        int32_t *fstart = (int32_t *)(base + sm.fstart), *flen = (int32_t *)(base + sm.flen);
        double *fw = (double *)(base + sm.fw);
        double e[3] = {0.0, 0.0, 0.0};
        const double mel_lo = mel_of(g.ly.low_frequency), mel_hi = mel_of(g.ly.high_frequency);
        int32_t off = 0;
        for (j = 0; j < g.M + 2; j++) {
            e[0] = e[1];
            e[1] = e[2];
            e[2] = mel_edge(&g, mel_lo, mel_hi, p->sampling_freq, p->version, j);
            if (j >= 2) {
                int32_t first = 0, cnt = filter_support(e[0], e[1], e[2], &first), k;
                double l = e[0], m = e[1], r = e[2];
                if (cnt <= 0 || off + cnt > g.w_cap)
                    return EDGERT_ERR_INTERNAL;
                fstart[j - 2] = first;
                flen[j - 2] = cnt;
                for (k = 0; k < cnt; k++) {
                    double kk = (double)(first + k), w = 0.0;
                    if (l < kk && kk <= m)
                        w = (kk - l) / (m - l);
                    else if (m <= kk && kk < r)
                        w = (r - kk) / (r - m);
                    fw[off + k] = w;
                }
                off += cnt;
            }
        }
    }
    if (g.kind == K_MFCC) {
        const double pi = 3.14159265358979323846264338327950288;
        double *dct = (double *)(base + sm.dct);
        double s0 = sqrt(1.0 / (double)g.M), sq = sqrt(2.0 / (double)g.M);
        for (j = 0; j < g.C; j++)
            for (i = 0; i < g.M; i++)
                dct[(size_t)i * g.C + j] =
                    (j == 0 ? s0 : sq) *
                    cos(pi * (double)j * (double)(2 * i + 1) / (double)(2 * g.M));
    }
    if (g.n_mirror > 0) {
        int32_t *mir = (int32_t *)(base + sm.mirror);
        int32_t R = g.ly.n_frames, pad = (g.win - 1) / 2;
        for (i = 0; i < g.n_mirror; i++) {
            int64_t jj = ((int64_t)i - pad) % (2 * (int64_t)R);
            if (jj < 0)
                jj += 2 * (int64_t)R;
            mir[i] = (int32_t)(jj >= R ? 2 * (int64_t)R - 1 - jj : jj);
        }
    }
    hd->magic = AUDIO_MAGIC;
    return EDGERT_OK;
}

static int same_layout(const edgert_audio_layout *a, const edgert_audio_layout *b)
{
    return a->problem == b->problem && a->n_frames == b->n_frames &&
           a->frame_length == b->frame_length && a->frame_stride == b->frame_stride &&
           a->per_frame == b->per_frame && a->n_features == b->n_features &&
           a->wrap_frames == b->wrap_frames && a->low_frequency == b->low_frequency &&
           a->high_frequency == b->high_frequency;
}

/* Validate a state (its header re-checked, every index table in range) and view it. */
static int open_state(const void *state, size_t bytes, view *vw)
{
    const unsigned char *base = (const unsigned char *)state;
    const state_header *hd;
    state_map sm;
    int32_t i, total = 0;
    if (state == NULL)
        return EDGERT_ERR_NULL;
    if (((size_t)base & 7u) != 0 || bytes < sizeof(state_header))
        return EDGERT_ERR_ARG;
    hd = (const state_header *)base;
    if (hd->magic != AUDIO_MAGIC)
        return EDGERT_ERR_ARG;
    if (make_geometry(&hd->p, hd->n_samples, 1, &vw->g) != EDGERT_OK)
        return EDGERT_ERR_ARG;
    if (!same_layout(&vw->g.ly, &hd->ly))
        return EDGERT_ERR_ARG;
    map_state(&vw->g, &sm);
    if (bytes < sm.total)
        return EDGERT_ERR_ARG;
    if (edgert__rfft_plan_view(&vw->plan, vw->g.N, base + sm.plan) != EDGERT_OK)
        return EDGERT_ERR_ARG;
    vw->hd = hd;
    vw->fstart = (const int32_t *)(base + sm.fstart);
    vw->flen = (const int32_t *)(base + sm.flen);
    vw->fw = (const double *)(base + sm.fw);
    vw->dct = (const double *)(base + sm.dct);
    vw->mirror = (const int32_t *)(base + sm.mirror);
    for (i = 0; i < vw->g.M; i++) {
        int32_t f = vw->fstart[i], n = vw->flen[i];
        if (f < 0 || n < 1 || n > vw->g.B || f > vw->g.B - n || n > vw->g.w_cap - total)
            return EDGERT_ERR_ARG;
        total += n;
    }
    for (i = 0; i < vw->g.n_mirror; i++)
        if (vw->mirror[i] < 0 || vw->mirror[i] >= vw->g.ly.n_frames)
            return EDGERT_ERR_ARG;
    return EDGERT_OK;
}

int edgert_audio_state_init(const edgert_audio_params *p, int32_t n_samples, void *state,
                            size_t state_bytes)
{
    if (p == NULL || state == NULL)
        return EDGERT_ERR_NULL;
    return init_state(p, n_samples, (unsigned char *)state, state_bytes);
}

/* ------------------------------------------------------------------------------ frames */
typedef struct {
    dsp_real *buf, *work, *pw; /* the FFT's working precision (dsp_real.h) */
    double *lg, *d, *ext, *pre, *acc;
} scratch_ptrs;

static int open_scratch(const geometry *g, void *scratch, size_t bytes, scratch_ptrs *s)
{
    scratch_map m;
    unsigned char *base;
    if (scratch == NULL)
        return EDGERT_ERR_NULL;
    map_scratch(g, &m);
    if (bytes < m.total)
        return EDGERT_ERR_SCRATCH;
    base = (unsigned char *)scratch;
    base += (16u - ((size_t)base & 15u)) & 15u;
    s->buf = (dsp_real *)(base + m.buf);
    s->work = (dsp_real *)(base + m.work);
    s->pw = (dsp_real *)(base + m.pw);
    s->lg = (double *)(base + m.lg);
    s->d = (double *)(base + m.d);
    s->ext = (double *)(base + m.ext);
    s->pre = (double *)(base + m.pre);
    s->acc = (double *)(base + m.acc);
    return EDGERT_OK;
}

static uint32_t nonfinite_bits_f(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof(u));
    return (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
}

/* Mel energy of filter i over the power spectrum pw (exact zeros -> 1e-10). */
static double mel_energy(const view *vw, const dsp_real *pw, int32_t i, int32_t *off)
{
    const double *w = vw->fw + *off;
    const dsp_real *pk = pw + vw->fstart[i];
    int32_t k, n = vw->flen[i];
    double e = 0.0;
    for (k = 0; k < n; k++)
        e += w[k] * (double)pk[k];
    *off += n;
    return e == 0.0 ? 1e-10 : e;
}

/* The values of frame k of the window x (sample i at x[i*xs]). Returns 1 when a sample it
 * read was NaN/inf. */
static uint32_t frame_row(const view *vw, const float *x, size_t xs, int32_t k, double *row,
                          const scratch_ptrs *s)
{
    const geometry *g = &vw->g;
    const edgert_audio_params *p = &vw->hd->p;
    const int32_t n = g->ly.frame_length < g->N ? g->ly.frame_length : g->N;
    const int32_t base = k * g->ly.frame_stride, B = g->B;
    const dsp_real inv_n = (dsp_real)(1.0 / (double)g->N); /* a power of two: exact */
    dsp_real *AUDIO_RESTRICT buf = s->buf;
    dsp_real *AUDIO_RESTRICT pw = s->pw;
    const float *AUDIO_RESTRICT xf = x + (size_t)base * xs;
    const ptrdiff_t sx = (ptrdiff_t)xs; /* pre-emphasis reads samples before the frame */
    dsp_real chk = DSP_REAL(0.0);
    int32_t t, i;

    /* the frame's samples (pre-emphasised); a NaN/inf among them makes every FFT bin
     * non-finite, which the check after the transform catches (no per-sample test) */
    if (g->pre == PRE_NONE) {
        if (xs == 1)
            for (t = 0; t < n; t++)
                buf[t] = (dsp_real)xf[t];
        else
            for (t = 0; t < n; t++)
                buf[t] = (dsp_real)xf[(size_t)t * xs];
    } else if (g->pre == PRE_F64) {
        const double c = p->pre_cof;
        const int32_t h = g->h;
        t = 0;
        for (; t < n && base + t < h; t++) /* circular: the window's last samples */
            buf[t] = (dsp_real)((double)xf[(size_t)t * xs] -
                                c * (double)x[(size_t)(g->L - h + base + t) * xs]);
        if (xs == 1) {
            for (; t < n; t++) /* base + t - h >= 0: inside the window */
                buf[t] = (dsp_real)((double)xf[t] - c * (double)xf[t - h]);
        } else {
            for (; t < n; t++)
                buf[t] = (dsp_real)((double)xf[(size_t)t * xs] -
                                    c * (double)xf[(ptrdiff_t)(t - h) * sx]);
        }
    } else {
        /* MFE v3/v4: x/32768 and the 0.98 pre-emphasis in float32, as the reference */
        const float scale = 1.0f / 32768.0f, coef = 0.98f;
        t = 0;
        if (base == 0 && n > 0) {
            float a32 = xf[0] * scale, b32 = x[(size_t)(g->L - 1) * xs] * scale;
            float pb = coef * b32;
            buf[0] = (dsp_real)(a32 - pb);
            t = 1;
        }
        for (; t < n; t++) {
            float a32 = xf[(size_t)t * xs] * scale;
            float b32 = xf[(ptrdiff_t)(t - 1) * sx] * scale;
            float pb = coef * b32;
            buf[t] = (dsp_real)(a32 - pb);
        }
    }
    edgert__rfft_power(&vw->plan, buf, n, pw, s->work);
    for (i = 0; i < B; i++) {
        pw[i] *= inv_n;
        chk += pw[i] * DSP_REAL(0.0); /* NaN when a bin is NaN or infinite */
    }
    if (chk != DSP_REAL(0.0))
        return 1;

    switch (g->kind) {
    case K_MFCC: {
        double e0 = 0.0, e1 = 0.0, e;
        int32_t off = 0, q;
        for (i = 0; i + 1 < B; i += 2) { /* all bins, also those outside the mel range */
            e0 += (double)pw[i];
            e1 += (double)pw[i + 1];
        }
        if (i < B)
            e0 += (double)pw[i];
        e = e0 + e1;
        if (e == 0.0)
            e = 1e-10;
        for (i = 0; i < g->M; i++)
            s->lg[i] = log(mel_energy(vw, pw, i, &off));
        /* c_q = sum_i basis[i][q] * lg_i, i in order; vectorised over q */
        {
            const int32_t nc = g->C, nm = g->M;
            const double *AUDIO_RESTRICT basis = vw->dct;
            const double *AUDIO_RESTRICT lg = s->lg;
            double *AUDIO_RESTRICT r = row;
            for (q = 0; q < nc; q++)
                r[q] = 0.0;
            for (i = 0; i < nm; i++) {
                const double *AUDIO_RESTRICT b = basis + (size_t)i * (size_t)nc;
                double li = lg[i];
                for (q = 0; q < nc; q++)
                    r[q] += b[q] * li;
            }
        }
        row[0] = log(e); /* c0 is the log frame energy (spec quirk 5) */
        break;
    }
    case K_MFE_NORM: {
        int32_t off = 0;
        for (i = 0; i < g->M; i++)
            row[i] = mel_energy(vw, pw, i, &off);
        break;
    }
    case K_MFE_DB: {
        double nf = p->noise_floor_db, span = 12.0 - nf;
        int32_t off = 0;
        for (i = 0; i < g->M; i++) {
            double e = mel_energy(vw, pw, i, &off);
            double d = 10.0 * log10(e > 1e-30 ? e : 1e-30);
            double v = (d - nf) / span, q;
            v = v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v);
            q = round_half_even(256.0 * v);
            if (q == 256.0)
                q = 0.0; /* the reference's uint8 wrap (spec quirk 6) */
            row[i] = q / 256.0;
        }
        break;
    }
    case K_SG_DB4: {
        double nf = p->noise_floor_db, span = 12.0 - nf;
        for (i = 0; i < g->B; i++) {
            double v = (double)pw[i];
            double d = 10.0 * log10(v > 1e-30 ? v : 1e-30);
            double r = (d - nf) / span;
            row[i] = r < 0.0 ? 0.0 : r;
        }
        break;
    }
    default: /* K_SG_MINMAX, K_SG_DB3: the power spectrum, scaled over the whole window */
        for (i = 0; i < g->B; i++)
            row[i] = (double)pw[i];
        break;
    }
    return 0;
}

/* ------------------------------------------------------------------------------ finish */
/* Sliding sums of one column: acc[i] = e[i] + e[i+1] + ... + e[i+W-1], added in that order
 * (the reference's sequential window sum), for i < R. e holds the column extended by the
 * mirror table (R + W - 1 values). Vectorised over rows: every acc[i] still adds its terms in
 * window order, so the SIMD and scalar paths give the same bits. */
static void window_sums(const double *e, int32_t R, int32_t W, double *acc)
{
    int32_t i = 0, t;
#ifdef EDGERT_AUDIO_SSE2
    /* eight rows at a time, two per lane pair; each lane adds its terms in window order */
    for (; i + 8 <= R; i += 8) {
        __m128d a0 = _mm_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
        const double *ei = e + i;
        for (t = 0; t < W; t++) {
            const double *et = ei + t;
            a0 = _mm_add_pd(a0, _mm_loadu_pd(et));
            a1 = _mm_add_pd(a1, _mm_loadu_pd(et + 2));
            a2 = _mm_add_pd(a2, _mm_loadu_pd(et + 4));
            a3 = _mm_add_pd(a3, _mm_loadu_pd(et + 6));
        }
        _mm_storeu_pd(acc + i, a0);
        _mm_storeu_pd(acc + i + 2, a1);
        _mm_storeu_pd(acc + i + 4, a2);
        _mm_storeu_pd(acc + i + 6, a3);
    }
#endif
    for (; i < R; i++) {
        double a = 0.0;
        for (t = 0; t < W; t++)
            a += e[i + t];
        acc[i] = a;
    }
}

/* var[i] = sum over t < W of (e[i+t] - mean[i])^2, in order; vectorised like window_sums */
static void window_sq_dev(const double *e, const double *mean, int32_t R, int32_t W,
                          double *var)
{
    int32_t i = 0, t;
#ifdef EDGERT_AUDIO_SSE2
    for (; i + 8 <= R; i += 8) {
        __m128d a0 = _mm_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
        __m128d m0 = _mm_loadu_pd(mean + i), m1 = _mm_loadu_pd(mean + i + 2);
        __m128d m2 = _mm_loadu_pd(mean + i + 4), m3 = _mm_loadu_pd(mean + i + 6);
        const double *ei = e + i;
        for (t = 0; t < W; t++) {
            const double *et = ei + t;
            __m128d d0 = _mm_sub_pd(_mm_loadu_pd(et), m0);
            __m128d d1 = _mm_sub_pd(_mm_loadu_pd(et + 2), m1);
            __m128d d2 = _mm_sub_pd(_mm_loadu_pd(et + 4), m2);
            __m128d d3 = _mm_sub_pd(_mm_loadu_pd(et + 6), m3);
            a0 = _mm_add_pd(a0, _mm_mul_pd(d0, d0));
            a1 = _mm_add_pd(a1, _mm_mul_pd(d1, d1));
            a2 = _mm_add_pd(a2, _mm_mul_pd(d2, d2));
            a3 = _mm_add_pd(a3, _mm_mul_pd(d3, d3));
        }
        _mm_storeu_pd(var + i, a0);
        _mm_storeu_pd(var + i + 2, a1);
        _mm_storeu_pd(var + i + 4, a2);
        _mm_storeu_pd(var + i + 6, a3);
    }
#endif
    for (; i < R; i++) {
        double a = 0.0;
        for (t = 0; t < W; t++) {
            double dv = e[i + t] - mean[i];
            a += dv * dv;
        }
        var[i] = a;
    }
}

/* Window sums of every column at once, in O((R + W) C): compensated (2Sum) prefix sums over
 * the mirrored rows, within a few ulps of the exact sums and so within (W-1) ulps of the
 * reference's sequential ones. Row k of the extended column is (Y[mir[k]] - shift)^p,
 * p = 1 or 2 (shift may be NULL). hi, lo: (R + W) x C; sums: R x C. The inner loops run over
 * the columns and vectorise. */
static void window_sums_fast(const double *Y, int32_t R, int32_t C, int32_t W,
                             const int32_t *mir, const double *shift, int square,
                             double *AUDIO_RESTRICT hi, double *AUDIO_RESTRICT lo,
                             double *AUDIO_RESTRICT sums)
{
    int32_t n = R + W - 1, k, i, c;
    for (c = 0; c < C; c++) {
        hi[c] = 0.0;
        lo[c] = 0.0;
    }
    for (k = 0; k < n; k++) {
        const double *AUDIO_RESTRICT y = Y + (size_t)mir[k] * (size_t)C;
        const double *AUDIO_RESTRICT h0 = hi + (size_t)k * (size_t)C;
        const double *AUDIO_RESTRICT l0 = lo + (size_t)k * (size_t)C;
        double *AUDIO_RESTRICT h1 = hi + (size_t)(k + 1) * (size_t)C;
        double *AUDIO_RESTRICT l1 = lo + (size_t)(k + 1) * (size_t)C;
        for (c = 0; c < C; c++) {
            double v = shift != NULL ? y[c] - shift[c] : y[c];
            double sum, t, bp;
            if (square)
                v *= v;
            sum = h0[c];
            t = sum + v;
            bp = t - sum;
            h1[c] = t;
            l1[c] = l0[c] + ((sum - (t - bp)) + (v - bp));
        }
    }
    for (i = 0; i < R; i++) {
        const double *h0 = hi + (size_t)i * (size_t)C, *h1 = hi + (size_t)(i + W) * (size_t)C;
        const double *l0 = lo + (size_t)i * (size_t)C, *l1 = lo + (size_t)(i + W) * (size_t)C;
        double *o = sums + (size_t)i * (size_t)C;
        for (c = 0; c < C; c++)
            o[c] = (h1[c] - h0[c]) + (l1[c] - l0[c]);
    }
}

/* The normalisation's fast path is within the parity tolerance unless the window's spread is
 * tiny next to the values (digital silence, identical frames): there the output is the
 * rounding noise of the sequential mean divided by ~1e-10, so only the reference's own
 * operation order reproduces it. The margin: the sequential sum is within (W-1) ulps of the
 * exact one; a spread above 1e-9 * W * max|x| keeps that difference below 1e-5 of the
 * output (tolerance 1e-4). */
static double fragile_spread(int32_t W, double max_abs)
{
    return 1e-9 * (double)W * max_abs;
}

/* Column c of X extended by the mirror table into ext (R + W - 1 values). */
static void extend_column(const double *X, int32_t C, int32_t c, const int32_t *mir,
                          int32_t n_ext, double *ext)
{
    int32_t i;
    for (i = 0; i < n_ext; i++)
        ext[i] = X[(size_t)mir[i] * (size_t)C + (size_t)c];
}

/* Column c of D = float32(X - window mean): the mean of rows i-p..i+p (mirrored) as a
 * sequential sum in window order, divided by W. X and D: R x C row-major; ext: R + W - 1,
 * acc: R doubles (left holding the window sums). */
static void center_column(const double *X, int32_t R, int32_t C, int32_t W,
                          const int32_t *mir, int32_t c, double *ext, double *acc, double *D)
{
    int32_t i;
    const double wd = (double)W;
    extend_column(X, C, c, mir, R + W - 1, ext);
    window_sums(ext, R, W, acc);
    for (i = 0; i < R; i++)
        D[(size_t)i * C + c] = (double)(float)(X[(size_t)i * C + c] - acc[i] / wd);
}

/* D = float32(X - window mean) for every column (center_column). */
static void sliding_center(const double *X, int32_t R, int32_t C, int32_t W,
                           const int32_t *mir, double *ext, double *acc, double *D)
{
    int32_t c;
    for (c = 0; c < C; c++)
        center_column(X, R, C, W, mir, c, ext, acc, D);
}

/* MFCC normalisation (mean and variance) of R x C rows X into out: all columns through the
 * fast path (O((R + W) C)), then the reference's sequential sums for any column where a
 * window's spread is tiny (fragile_spread) or its variance badly conditioned.
 * D: R x C; ext: R + W - 1; pre: 2 (R + W) C; acc: 3 R C + 3 C doubles. */
static void cmvn(const double *X, int32_t R, int32_t C, int32_t W, const int32_t *mir,
                 double *D, double *ext, double *pre, double *acc, float *out)
{
    int32_t i, c, n_ext = R + W - 1;
    const double wd = (double)W;
    double *hi = pre, *lo = pre + (size_t)(n_ext + 1) * (size_t)C;
    double *S = acc, *Q = acc + (size_t)R * C, *SD = acc + 2 * (size_t)R * C;
    double *shift = acc + 3 * (size_t)R * C, *mx = shift + C, *fragile = mx + C;
    for (c = 0; c < C; c++) {
        shift[c] = 0.0;
        mx[c] = 0.0;
        fragile[c] = 0.0;
    }
    window_sums_fast(X, R, C, W, mir, NULL, 0, hi, lo, S);
    for (i = 0; i < R; i++)
        for (c = 0; c < C; c++) {
            size_t k = (size_t)i * C + c;
            double d = (double)(float)(X[k] - S[k] / wd);
            D[k] = d;
            shift[c] += d;
            mx[c] = fabs(X[k]) > mx[c] ? fabs(X[k]) : mx[c];
        }
    /* window mean and variance of D from sums of D - shift and (D - shift)^2, shift = the
     * column's mean of D (keeps the subtraction well conditioned; a window whose mean is far
     * from it takes the exact path) */
    for (c = 0; c < C; c++)
        shift[c] /= (double)R;
    window_sums_fast(D, R, C, W, mir, shift, 0, hi, lo, S);
    window_sums_fast(D, R, C, W, mir, shift, 1, hi, lo, Q);
    for (i = 0; i < R; i++)
        for (c = 0; c < C; c++) {
            size_t k = (size_t)i * C + c;
            double m = S[k] / wd, v = Q[k] / wd - m * m;
            double sd = sqrt(v > 0.0 ? v : 0.0);
            SD[k] = sd;
            if (sd < fragile_spread(W, mx[c]) || m * m > 1e6 * v)
                fragile[c] = 1.0;
        }
    for (c = 0; c < C; c++) {
        if (fragile[c] == 0.0) {
            for (i = 0; i < R; i++) {
                size_t k = (size_t)i * C + c;
                out[k] = (float)(D[k] / (SD[k] + 1e-10));
            }
            continue;
        }
        /* the reference's order of operations, for this column */
        center_column(X, R, C, W, mir, c, ext, S, D);
        extend_column(D, C, c, mir, n_ext, ext);
        window_sums(ext, R, W, S);
        for (i = 0; i < R; i++)
            S[i] /= wd;
        window_sq_dev(ext, S, R, W, Q);
        for (i = 0; i < R; i++) {
            double sd = sqrt(Q[i] / wd);
            out[(size_t)i * C + c] = (float)(D[(size_t)i * C + c] / (sd + 1e-10));
        }
    }
}

/* MFE v1/v2: D = float32(X - window mean) for every column, fast path; returns 1 when the
 * whole matrix is so flat (or touches 0 so closely) that the 0-1 scaling would expose the
 * mean's rounding - then the caller recomputes D with the reference's sequential sums. */
static int cmn_fast(const double *X, int32_t R, int32_t C, int32_t W, const int32_t *mir,
                    double *D, double *pre, double *acc)
{
    int32_t n_ext = R + W - 1;
    size_t k, n = (size_t)R * (size_t)C;
    double wd = (double)W, mx = 0.0, lo, hi, tau;
    window_sums_fast(X, R, C, W, mir, NULL, 0, pre, pre + (size_t)(n_ext + 1) * C, acc);
    lo = hi = (double)(float)(X[0] - acc[0] / wd);
    for (k = 0; k < n; k++) {
        double d = (double)(float)(X[k] - acc[k] / wd);
        D[k] = d;
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        mx = fabs(X[k]) > mx ? fabs(X[k]) : mx;
    }
    tau = fragile_spread(W, mx);
    return hi - lo < tau || fabs(lo) < tau || fabs(hi) < tau;
}

static int finish(const view *vw, const double *rows, double peak, float *out,
                  const scratch_ptrs *s)
{
    const geometry *g = &vw->g;
    int32_t R = g->ly.n_frames, C = g->ly.per_frame, n = g->ly.n_features, i;
    uint32_t bad = 0;
    switch (g->kind) {
    case K_MFCC:
        if (g->win > 0) {
            cmvn(rows, R, C, g->win, vw->mirror, s->d, s->ext, s->pre, s->acc, out);
        } else {
            for (i = 0; i < n; i++)
                out[i] = (float)rows[i];
        }
        break;
    case K_MFE_NORM: {
        float lo, hi;
        if (cmn_fast(rows, R, C, g->win, vw->mirror, s->d, s->pre, s->acc))
            sliding_center(rows, R, C, g->win, vw->mirror, s->ext, s->acc, s->d);
        lo = hi = (float)s->d[0];
        for (i = 0; i < n; i++) {
            float v = (float)s->d[i];
            out[i] = v;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        if (lo != 0.0f && hi != 0.0f) {
            float span = hi - lo;
            for (i = 0; i < n; i++) {
                float num = out[i] - lo;
                float v = span != 0.0f ? num / span : 0.0f;
                out[i] = v != v ? 0.0f : v; /* NaN -> 0 */
            }
        }
        break;
    }
    case K_SG_MINMAX: {
        double lo = rows[0], hi = rows[0];
        for (i = 1; i < n; i++) {
            lo = rows[i] < lo ? rows[i] : lo;
            hi = rows[i] > hi ? rows[i] : hi;
        }
        for (i = 0; i < n; i++)
            out[i] = hi > lo ? (float)((rows[i] - lo) / (hi - lo)) : 0.0f;
        break;
    }
    case K_SG_DB3: {
        /* rescale x -> x/32768 when a sample is outside [-1, 1]: exactly P * 2^-30 */
        double sc = peak > 1.0 ? 1.0 / 1073741824.0 : 1.0;
        double nf = vw->hd->p.noise_floor_db, span = 12.0 - nf;
        for (i = 0; i < n; i++) {
            double v = rows[i] * sc;
            double d = 10.0 * log10(v > 1e-30 ? v : 1e-30);
            double r = (d - nf) / span;
            out[i] = (float)(r < 0.0 ? 0.0 : (r > 1.0 ? 1.0 : r));
        }
        break;
    }
    default: /* K_MFE_DB, K_SG_DB4: final per frame */
        for (i = 0; i < n; i++)
            out[i] = (float)rows[i];
        break;
    }
    for (i = 0; i < n; i++)
        bad |= nonfinite_bits_f(out[i]);
    return bad ? EDGERT_ERR_NONFINITE : EDGERT_OK;
}

/* --------------------------------------------------------------------- public stages */
int edgert_audio_frame_rows(const void *state, size_t state_bytes, const float *x,
                            int32_t n_samples, int32_t first, int32_t count, double *rows,
                            void *scratch, size_t scratch_bytes)
{
    view vw;
    scratch_ptrs s;
    int32_t k, pf;
    int st;
    if (x == NULL || rows == NULL)
        return EDGERT_ERR_NULL;
    st = open_state(state, state_bytes, &vw);
    if (st != EDGERT_OK)
        return st;
    if (n_samples != vw.hd->n_samples || first < 0 || count < 0 ||
        first > vw.g.ly.n_frames - count)
        return EDGERT_ERR_ARG;
    st = open_scratch(&vw.g, scratch, scratch_bytes, &s);
    if (st != EDGERT_OK)
        return st;
    pf = vw.g.ly.per_frame;
    for (k = 0; k < count; k++)
        if (frame_row(&vw, x, 1, first + k, rows + (size_t)k * (size_t)pf, &s))
            return EDGERT_ERR_NONFINITE;
    return EDGERT_OK;
}

int edgert_audio_finish(const void *state, size_t state_bytes, const double *rows, double peak,
                        float *out, void *scratch, size_t scratch_bytes)
{
    view vw;
    scratch_ptrs s;
    int st;
    if (rows == NULL || out == NULL)
        return EDGERT_ERR_NULL;
    st = open_state(state, state_bytes, &vw);
    if (st != EDGERT_OK)
        return st;
    st = open_scratch(&vw.g, scratch, scratch_bytes, &s);
    if (st != EDGERT_OK)
        return st;
    return finish(&vw, rows, peak, out, &s);
}

/* ---------------------------------------------------------------------------- batch */
int edgert_audio_features_batch(const edgert_audio_params *p, const float *data,
                                int32_t n_rows, int32_t row_stride, const int32_t *axes,
                                int32_t n_axes, const int32_t *starts, int32_t n_windows,
                                int32_t n_samples, float *out, int32_t out_stride,
                                void *scratch, size_t scratch_bytes)
{
    geometry g;
    state_map sm;
    scratch_map xm;
    view vw;
    scratch_ptrs s;
    unsigned char *base;
    double *sets;
    size_t xs, set_bytes;
    int32_t w, F, pf, S, n_sets, j;
    int32_t set_start[AUDIO_BATCH_ROW_SETS], set_used[AUDIO_BATCH_ROW_SETS];
    int st;

    if (p == NULL || data == NULL || axes == NULL || starts == NULL || out == NULL)
        return EDGERT_ERR_NULL;
    st = make_geometry(p, n_samples, n_axes, &g);
    if (st != EDGERT_OK)
        return st;
    if (out_stride < g.ly.n_features)
        return EDGERT_ERR_ARG;
    /* one axis (make_geometry refuses others) */
    st = edgert_check_windows(axes, 1, row_stride, starts, n_windows, n_rows, n_samples);
    if (st != EDGERT_OK)
        return st;
    if (n_windows == 0)
        return EDGERT_OK;
    if (scratch == NULL)
        return EDGERT_ERR_NULL;
    map_state(&g, &sm);
    map_scratch(&g, &xm);
    if (scratch_bytes < batch_bytes_of(&g, &sm, &xm))
        return EDGERT_ERR_SCRATCH;
    n_sets = batch_row_sets(&g);
    set_bytes = al16((size_t)g.ly.n_features * sizeof(double));
    base = (unsigned char *)scratch;
    base += (16u - ((size_t)base & 15u)) & 15u;
    st = init_state(p, n_samples, base, sm.total);
    if (st != EDGERT_OK)
        return st;
    st = open_state(base, sm.total, &vw);
    if (st != EDGERT_OK)
        return EDGERT_ERR_INTERNAL;
    st = open_scratch(&g, base + al16(sm.total), xm.total, &s);
    if (st != EDGERT_OK)
        return st;
    sets = (double *)(base + al16(sm.total) + xm.total);
    sets = (double *)((unsigned char *)sets + ((16u - ((size_t)sets & 15u)) & 15u));
    for (j = 0; j < n_sets; j++)
        set_used[j] = -1; /* window number that last filled the set; -1: empty */

    F = g.ly.n_frames;
    pf = g.ly.per_frame;
    S = g.ly.frame_stride;
    xs = (size_t)row_stride;
    for (w = 0; w < n_windows; w++) {
        const float *xw = data + (size_t)starts[w] * xs + (size_t)axes[0];
        int32_t k, d = 0, keep = 0, pick = -1, oldest = 0;
        double peak = 0.0, *rows;
        /* the kept window whose frames line up with this one's and overlap it most */
        for (j = 0; j < n_sets; j++) {
            int32_t diff;
            if (set_used[j] < 0) {
                continue;
            }
            diff = starts[w] - set_start[j];
            if (diff > 0 && diff % S == 0 && diff / S < F && (pick < 0 || diff / S < d)) {
                pick = j;
                d = diff / S;
            }
        }
        if (pick >= 0) {
            /* frames d..F-1 of that window are frames 0..F-d-1 of this one */
            rows = (double *)((unsigned char *)sets + (size_t)pick * set_bytes);
            memmove(rows, rows + (size_t)d * pf, (size_t)(F - d) * pf * sizeof(double));
            keep = F - d;
        } else {
            /* an empty set, else the one filled longest ago */
            for (j = 0; j < n_sets; j++) {
                if (set_used[j] < 0) {
                    oldest = j;
                    break;
                }
                if (set_used[j] < set_used[oldest])
                    oldest = j;
            }
            pick = oldest;
            rows = (double *)((unsigned char *)sets + (size_t)pick * set_bytes);
        }
        set_used[pick] = -1; /* invalid until this window's rows are complete */
        for (k = 0; k < F; k++) {
            if (k < keep && k >= g.ly.wrap_frames)
                continue;
            if (frame_row(&vw, xw, xs, k, rows + (size_t)k * pf, &s))
                return EDGERT_ERR_NONFINITE;
        }
        if (g.kind == K_SG_DB3) {
            int32_t t;
            for (t = 0; t < n_samples; t++) {
                double a = fabs((double)xw[(size_t)t * xs]);
                peak = a > peak ? a : peak;
            }
        }
        st = finish(&vw, rows, peak, out + (size_t)w * (size_t)out_stride, &s);
        if (st != EDGERT_OK)
            return st;
        set_used[pick] = w;
        set_start[pick] = starts[w];
    }
    return EDGERT_OK;
}
