/* Pure-C tests of the engine: the fast fixed-point forms against gemmlowp's literal formulas,
 * gemmlowp exp/reciprocal accuracy, a hand-built plan (FULLY_CONNECTED int8 with and without
 * the packed int16 weights, SOFTMAX with and without its exp table, float32 FC) and the plan
 * validation that must reject bad offsets instead of crashing (run under ASan/UBSan). */
#include <math.h>
#include <string.h>
#include "../edgert.h"
#include "../engine_internal.h"
#include "ctest.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 32);
}

static const int32_t EDGE[] = {0, 1, -1, 2, -2, INT32_MAX, INT32_MIN, INT32_MAX - 1, INT32_MIN + 1,
                               1 << 30, -(1 << 30), (1 << 30) + 1, 12345, -12345, 65536, -65536};
#define N_EDGE (int)(sizeof EDGE / sizeof EDGE[0])

static void test_fixed_point_identities(void)
{
    int i, j, e, bad = 0;
    for (i = 0; i < N_EDGE; i++)
        for (j = 0; j < N_EDGE; j++)
            bad += eg_srdhm(EDGE[i], EDGE[j]) != eg_srdhm_reference(EDGE[i], EDGE[j]);
    for (i = 0; i < 300000; i++) {
        int32_t a = (int32_t)rnd(), b = (int32_t)rnd();
        if (i & 1) a >>= rnd() % 31;
        bad += eg_srdhm(a, b) != eg_srdhm_reference(a, b);
    }
    CHECK_EQ_INT(bad, 0);
    bad = 0;
    for (e = 0; e <= 31; e++) {
        for (i = 0; i < N_EDGE; i++) bad += eg_rdbpot(EDGE[i], e) != eg_rdbpot_reference(EDGE[i], e);
        for (i = 0; i < 20000; i++) {
            int32_t x = (int32_t)rnd() >> (rnd() % 32);
            bad += eg_rdbpot(x, e) != eg_rdbpot_reference(x, e);
        }
    }
    CHECK_EQ_INT(bad, 0);
    bad = 0;
    for (e = -31; e <= 30; e++) {
        for (i = 0; i < N_EDGE; i++)
            bad += eg_mbqm(EDGE[i], 1518500250, e) != eg_mbqm_reference(EDGE[i], 1518500250, e);
        for (i = 0; i < 20000; i++) {
            int32_t x = (int32_t)rnd() >> (rnd() % 32), m = (int32_t)(rnd() >> 1);
            bad += eg_mbqm(x, m, e) != eg_mbqm_reference(x, m, e);
        }
    }
    CHECK_EQ_INT(bad, 0);
    /* documented values */
    CHECK_EQ_INT(edgert_fx_srdhm(INT32_MIN, INT32_MIN), INT32_MAX);
    CHECK_EQ_INT(edgert_fx_rdbpot(5, 1), 3);     /* 2.5 -> 3 */
    CHECK_EQ_INT(edgert_fx_rdbpot(-5, 1), -3);   /* -2.5 -> -3 */
    CHECK_EQ_INT(edgert_fx_rdbpot(-3, 2), -1);   /* -0.75 -> -1 */
    CHECK_EQ_INT(edgert_fx_mbqm(100, 1 << 30, 1), 100);   /* multiplier 1.0 */
    CHECK_EQ_INT(edgert_fx_mbqm(100, 1 << 30, -1), 25);   /* 0.25 */
    CHECK_EQ_INT(edgert_fx_mbqm(-6, 1 << 30, -1), -2);    /* -3 / 2 = -1.5 -> -2 */
}

static void test_gemmlowp_functions(void)
{
    int i;
    CHECK_EQ_INT(edgert_fx_exp_on_negative_values(0, 5), INT32_MAX);
    for (i = 0; i <= 400; i++) {
        double v = -i / 25.0;   /* 0 .. -16 */
        int32_t raw = (int32_t)lround(v * (double)(1 << 26));
        double got = edgert_fx_exp_on_negative_values(raw, 5) / 2147483648.0;
        CHECK_NEAR(got, exp(raw / (double)(1 << 26)), 2e-8 + 1e-6 * exp(v));
    }
    for (i = 0; i <= 100; i++) {
        double x = i / 100.0;
        int32_t raw = i == 100 ? INT32_MAX : (int32_t)lround(x * 2147483648.0);
        CHECK_NEAR(edgert_fx_one_over_one_plus_x(raw) / 2147483648.0, 1.0 / (1.0 + raw / 2147483648.0), 1e-8);
    }
    CHECK_NEAR(eg_logistic_q(0, 4) / 2147483648.0, 0.5, 1e-9);
    CHECK_NEAR(eg_logistic_q(1 << 27, 4) / 2147483648.0, 1.0 / (1.0 + exp(-1.0)), 1e-6);
    CHECK_NEAR(eg_tanh_q(-(1 << 27), 4) / 2147483648.0, tanh(-1.0), 1e-6);
}

/* A plan with one int8 FULLY_CONNECTED (4 -> 3) + SOFTMAX, built by hand. */
enum { T_X, T_W, T_B, T_M, T_S, T_Y, T_P, T_WP, T_LUT, N_T };

typedef struct {
    edgert_tensor t[N_T];
    edgert_op ops[2];
    edgert_plan plan;
    union { int32_t align; unsigned char bytes[1184]; } consts;
} test_plan;

static void tensor(edgert_tensor *t, int32_t dtype, int32_t space, uint32_t off, int32_t d2, int32_t d3)
{
    const uint32_t es = dtype == EDGERT_DTYPE_INT8 ? 1 : dtype == EDGERT_DTYPE_INT16 ? 2 : 4;
    t->dtype = dtype; t->space = space; t->offset = off;
    t->dims[0] = 1; t->dims[1] = 1; t->dims[2] = d2; t->dims[3] = d3;
    t->bytes = (uint32_t)(d2 * d3) * es;
}

static void build_plan(test_plan *tp, int packed, int lut)
{
    static const int8_t w[12] = {10, -20, 30, 40, -50, 60, 70, -80, 90, 100, 110, -120};
    static const int32_t bias[3] = {100, -200, 300};
    int32_t mult[3], shift[3], k;
    int16_t wp[16] = {0};   /* packed: 1 group of 4 outputs x 2 pairs x 2 = 16 */
    edgert_softmax_params sp;
    memset(tp, 0, sizeof *tp);
    for (k = 0; k < 3; k++) { mult[k] = 1 << 30; shift[k] = -6; }   /* 2^-7 */
    for (k = 0; k < 2; k++) {
        int j, t;
        for (j = 0; j < 3; j++)
            for (t = 0; t < 2; t++) wp[(k * 4 + j) * 2 + t] = w[j * 4 + 2 * k + t];
    }
    memcpy(tp->consts.bytes + 0, w, 12);
    memcpy(tp->consts.bytes + 16, bias, 12);
    memcpy(tp->consts.bytes + 32, mult, 12);
    memcpy(tp->consts.bytes + 48, shift, 12);
    memcpy(tp->consts.bytes + 64, wp, 32);
    sp.beta = 1.0f; sp.in_mult = 1 << 30; sp.in_left_shift = 23; sp.diff_min = -248;   /* scale ~0.125 */
    CHECK_EQ_INT(edgert_softmax_exp_lut(&sp, (int32_t *)(void *)(tp->consts.bytes + 96)), 0);
    tensor(&tp->t[T_X], EDGERT_DTYPE_INT8, EDGERT_SPACE_ARENA, 0, 1, 4);
    tensor(&tp->t[T_W], EDGERT_DTYPE_INT8, EDGERT_SPACE_CONST, 0, 3, 4);
    tensor(&tp->t[T_B], EDGERT_DTYPE_INT32, EDGERT_SPACE_CONST, 16, 1, 3);
    tensor(&tp->t[T_M], EDGERT_DTYPE_INT32, EDGERT_SPACE_CONST, 32, 1, 3);
    tensor(&tp->t[T_S], EDGERT_DTYPE_INT32, EDGERT_SPACE_CONST, 48, 1, 3);
    tensor(&tp->t[T_Y], EDGERT_DTYPE_INT8, EDGERT_SPACE_ARENA, 16, 1, 3);
    tensor(&tp->t[T_P], EDGERT_DTYPE_INT8, EDGERT_SPACE_ARENA, 0, 1, 3);
    tensor(&tp->t[T_WP], EDGERT_DTYPE_INT16, EDGERT_SPACE_CONST, 64, 2, 8);
    tensor(&tp->t[T_LUT], EDGERT_DTYPE_INT32, EDGERT_SPACE_CONST, 96, 1, 256);
    tp->ops[0].type = EDGERT_OP_FULLY_CONNECTED; tp->ops[0].dtype = EDGERT_DTYPE_INT8;
    tp->ops[0].n_in = packed ? 6 : 5;
    for (k = 0; k < 8; k++) tp->ops[0].in[k] = -1;
    tp->ops[0].in[0] = T_X; tp->ops[0].in[1] = T_W; tp->ops[0].in[2] = T_B; tp->ops[0].in[3] = T_M;
    tp->ops[0].in[4] = T_S; tp->ops[0].in[5] = T_WP;
    tp->ops[0].out = T_Y;
    tp->ops[0].p.fc.rows = 1; tp->ops[0].p.fc.depth = 4; tp->ops[0].p.fc.units = 3;
    tp->ops[0].p.fc.a.in_offset = 0; tp->ops[0].p.fc.a.out_offset = 5;
    tp->ops[0].p.fc.a.act_min = -128; tp->ops[0].p.fc.a.act_max = 127;
    tp->ops[1].type = EDGERT_OP_SOFTMAX; tp->ops[1].dtype = EDGERT_DTYPE_INT8; tp->ops[1].n_in = lut ? 2 : 1;
    for (k = 0; k < 8; k++) tp->ops[1].in[k] = -1;
    tp->ops[1].in[0] = T_Y; tp->ops[1].in[1] = T_LUT; tp->ops[1].out = T_P;
    tp->ops[1].p.softmax = sp;
    tp->plan.n_tensors = N_T; tp->plan.tensors = tp->t;
    tp->plan.n_ops = 2; tp->plan.ops = tp->ops;
    tp->plan.n_inputs = 1; tp->plan.inputs[0] = T_X;
    tp->plan.n_outputs = 2; tp->plan.outputs[0] = T_Y; tp->plan.outputs[1] = T_P;
    tp->plan.arena_bytes = 32; tp->plan.consts_bytes = 96 + 1024;
}

static void test_hand_built_plan(void)
{
    static test_plan tp;
    int8_t x[2][4] = {{1, 2, 3, 4}, {-7, 0, 5, 127}};
    int8_t y[2][3], p[2][3], y2[2][3], p2[2][3];
    union { int32_t a; unsigned char b[32]; } arena;
    const void *ins[1];
    void *outs[2];
    int variant, i, k;
    ins[0] = x;
    build_plan(&tp, 0, 0);
    outs[0] = y; outs[1] = p;
    CHECK_EQ_INT(edgert_engine_invoke_batch(&tp.plan, tp.consts.bytes, sizeof tp.consts.bytes, arena.b, 32, ins, 2, outs), 0);
    for (i = 0; i < 2; i++) {
        static const int8_t w[12] = {10, -20, 30, 40, -50, 60, 70, -80, 90, 100, 110, -120};
        static const int32_t bias[3] = {100, -200, 300};
        for (k = 0; k < 3; k++) {
            int32_t acc = bias[k] + w[4 * k] * x[i][0] + w[4 * k + 1] * x[i][1] + w[4 * k + 2] * x[i][2] +
                          w[4 * k + 3] * x[i][3];
            double want = floor(acc / 128.0 + 0.5) + 5;   /* positive and negative halves: see below */
            if (acc < 0) want = -floor(-acc / 128.0 + 0.5) + 5;
            if (want > 127) want = 127;
            if (want < -128) want = -128;
            CHECK_EQ_INT(y[i][k], (int)want);
        }
    }
    /* the other variants (packed weights, exp table) give exactly the same bytes */
    for (variant = 1; variant < 4; variant++) {
        build_plan(&tp, variant & 1, variant >> 1);
        outs[0] = y2; outs[1] = p2;
        CHECK_EQ_INT(edgert_engine_invoke_batch(&tp.plan, tp.consts.bytes, sizeof tp.consts.bytes, arena.b, 32, ins, 2, outs), 0);
        CHECK(memcmp(y, y2, sizeof y) == 0);
        CHECK(memcmp(p, p2, sizeof p) == 0);
    }
    /* softmax outputs sum to ~256 - 3*128 */
    for (i = 0; i < 2; i++) CHECK_NEAR(p[i][0] + p[i][1] + p[i][2] + 3 * 128, 256, 3);
}

static void test_plan_validation(void)
{
    static test_plan tp;
    int8_t x[4] = {0}, y[3], p[3];
    union { int32_t a; unsigned char b[64]; } arena;
    const void *ins[1];
    void *outs[2];
    ins[0] = x; outs[0] = y; outs[1] = p;
#define INVOKE() edgert_engine_invoke(&tp.plan, tp.consts.bytes, sizeof tp.consts.bytes, arena.b, 32, ins, outs)
    build_plan(&tp, 1, 1);
    CHECK_EQ_INT(INVOKE(), 0);
    tp.t[T_Y].offset = 30; CHECK_EQ_INT(INVOKE(), EDGERT_ERR_MODEL);        /* past the arena */
    build_plan(&tp, 1, 1); tp.t[T_Y].offset = 2; CHECK_EQ_INT(INVOKE(), EDGERT_ERR_MODEL);  /* overlaps its input */
    build_plan(&tp, 1, 1); tp.t[T_B].offset = 4096; CHECK_EQ_INT(INVOKE(), EDGERT_ERR_MODEL);
    build_plan(&tp, 1, 1); tp.t[T_B].offset = 18; CHECK_EQ_INT(INVOKE(), EDGERT_ERR_MODEL);   /* misaligned */
    build_plan(&tp, 1, 1); tp.t[T_W].bytes = 13; CHECK_EQ_INT(INVOKE(), EDGERT_ERR_MODEL);
    build_plan(&tp, 1, 1); tp.t[T_W].dims[2] = -3; CHECK_EQ_INT(INVOKE(), EDGERT_ERR_MODEL);
    build_plan(&tp, 1, 1); tp.t[T_WP].dims[3] = 4; tp.t[T_WP].bytes = 16; CHECK_EQ_INT(INVOKE(), EDGERT_ERR_MODEL);
    build_plan(&tp, 1, 1); tp.ops[0].p.fc.depth = 5; CHECK_EQ_INT(INVOKE(), EDGERT_ERR_MODEL);
    build_plan(&tp, 1, 1); tp.ops[0].in[2] = 99; CHECK_EQ_INT(INVOKE(), EDGERT_ERR_MODEL);
    build_plan(&tp, 1, 1); tp.ops[0].type = 0; CHECK_EQ_INT(INVOKE(), EDGERT_ERR_MODEL);
    build_plan(&tp, 1, 1); tp.ops[1].p.softmax.in_left_shift = 31; CHECK_EQ_INT(INVOKE(), EDGERT_ERR_MODEL);
    build_plan(&tp, 1, 1); ((int32_t *)(void *)(tp.consts.bytes + 48))[1] = 31; CHECK_EQ_INT(INVOKE(), EDGERT_ERR_MODEL);
    build_plan(&tp, 1, 1); tp.plan.outputs[1] = T_LUT; CHECK_EQ_INT(INVOKE(), EDGERT_ERR_MODEL);   /* const output */
    build_plan(&tp, 1, 1); tp.plan.arena_bytes = 64;
    CHECK_EQ_INT(INVOKE(), EDGERT_ERR_SCRATCH);                 /* caller's arena (32) smaller than the plan's */
    build_plan(&tp, 1, 1);
    CHECK_EQ_INT(edgert_engine_invoke(&tp.plan, NULL, 0, arena.b, 32, ins, outs), EDGERT_ERR_MODEL);
    CHECK_EQ_INT(edgert_engine_invoke(NULL, tp.consts.bytes, sizeof tp.consts.bytes, arena.b, 32, ins, outs), EDGERT_ERR_NULL);
    CHECK_EQ_INT(edgert_engine_invoke_batch(&tp.plan, tp.consts.bytes, sizeof tp.consts.bytes, arena.b, 32, ins, -1, outs),
                 EDGERT_ERR_ARG);
    CHECK_EQ_INT(edgert_engine_check(&tp.plan, tp.consts.bytes, sizeof tp.consts.bytes), 0);
#undef INVOKE
}

static void test_float_fc(void)
{
    edgert_tensor t[4];
    edgert_op op;
    edgert_plan plan;
    union { float f[16]; unsigned char b[64]; } consts;
    union { float f[8]; unsigned char b[32]; } arena;
    float x[3] = {1.0f, -2.0f, 0.5f}, y[2];
    const void *ins[1] = {x};
    void *outs[1] = {y};
    int k;
    memset(&op, 0, sizeof op);
    memset(&plan, 0, sizeof plan);
    consts.f[0] = 1; consts.f[1] = 2; consts.f[2] = 3; consts.f[3] = -1; consts.f[4] = 0.5f; consts.f[5] = 4;
    consts.f[8] = 0.25f; consts.f[9] = -10;
    tensor(&t[0], EDGERT_DTYPE_FLOAT32, EDGERT_SPACE_ARENA, 0, 1, 3);
    tensor(&t[1], EDGERT_DTYPE_FLOAT32, EDGERT_SPACE_CONST, 0, 2, 3);
    tensor(&t[2], EDGERT_DTYPE_FLOAT32, EDGERT_SPACE_CONST, 32, 1, 2);
    tensor(&t[3], EDGERT_DTYPE_FLOAT32, EDGERT_SPACE_ARENA, 16, 1, 2);
    op.type = EDGERT_OP_FULLY_CONNECTED; op.dtype = EDGERT_DTYPE_FLOAT32; op.n_in = 3;
    for (k = 0; k < 8; k++) op.in[k] = k < 3 ? k : -1;
    op.out = 3;
    op.p.fc.rows = 1; op.p.fc.depth = 3; op.p.fc.units = 2;
    op.p.fc.a.f_min = -5.0f; op.p.fc.a.f_max = 3.0e38f;   /* clamp at -5 like a fused activation */
    plan.n_tensors = 4; plan.tensors = t; plan.n_ops = 1; plan.ops = &op;
    plan.n_inputs = 1; plan.inputs[0] = 0; plan.n_outputs = 1; plan.outputs[0] = 3;
    plan.arena_bytes = 32; plan.consts_bytes = 64;
    CHECK_EQ_INT(edgert_engine_invoke(&plan, consts.b, 64, arena.b, 32, ins, outs), 0);
    CHECK_NEAR(y[0], 1 - 4 + 1.5 + 0.25, 1e-6);
    CHECK_NEAR(y[1], -5.0, 0);                    /* -1 - 1 + 2 - 10 = -10, clamped */
}

/* Random int8 FULLY_CONNECTED layers: the packed/SIMD path (n_in 6) must give exactly the
 * bytes of the plain int8 path (n_in 5), with per-tensor (common shift: vector requant) and
 * per-channel multipliers, left and right shifts, any input offset. */
static void test_fc_packed_equals_plain(void)
{
    enum { U = 13, D = 37, G = (U + 3) / 4, P = (D + 1) / 2 };
    static int8_t w[U * D];
    static int16_t wp[G * P * 8];
    static int32_t bias[U], mult[U], shift[U];
    static int8_t x[D], y1[U], y2[U];
    edgert_op op;
    eg_call c;
    int trial, o, d, bad = 0;
    for (trial = 0; trial < 400; trial++) {
        const int per_channel = trial & 1;
        const int32_t common_shift = -(int32_t)(rnd() % 12) + (trial % 7 == 0 ? 2 : 0);
        memset(wp, 0, sizeof wp);
        for (o = 0; o < U; o++) {
            for (d = 0; d < D; d++) {
                w[o * D + d] = (int8_t)rnd();
                wp[((o / 4) * P + d / 2) * 8 + (o % 4) * 2 + d % 2] = w[o * D + d];
            }
            bias[o] = (int32_t)(rnd() % 200001) - 100000;
            mult[o] = (int32_t)((1u << 30) + rnd() % (1u << 30));
            shift[o] = per_channel ? -(int32_t)(rnd() % 12) : common_shift;
        }
        for (d = 0; d < D; d++) x[d] = (int8_t)rnd();
        memset(&op, 0, sizeof op);
        op.type = EDGERT_OP_FULLY_CONNECTED; op.dtype = EDGERT_DTYPE_INT8;
        op.p.fc.rows = 1; op.p.fc.depth = D; op.p.fc.units = U;
        op.p.fc.a.out_offset = (int32_t)(rnd() % 41) - 20;
        op.p.fc.a.act_min = trial % 3 ? -128 : -20; op.p.fc.a.act_max = trial % 5 ? 127 : 90;
        memset(&c, 0, sizeof c);
        c.op = &op; c.in[0] = x; c.in[1] = w; c.in[2] = bias; c.in[3] = mult; c.in[4] = shift; c.in[5] = wp;
        op.n_in = 5; c.out = y1; eg_fc_run(&c);
        op.n_in = 6; c.out = y2; eg_fc_run(&c);
        bad += memcmp(y1, y2, U) != 0;
    }
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    test_fc_packed_equals_plain();
    test_fixed_point_identities();
    test_gemmlowp_functions();
    test_hand_built_plan();
    test_plan_validation();
    test_float_fc();
    CTEST_END();
}
