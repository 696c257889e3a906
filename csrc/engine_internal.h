/* engine_internal.h - fixed-point arithmetic shared by the int8 kernels (the TFLite Micro
 * "double rounding" semantics and gemmlowp's fixed-point transcendental functions) and the
 * kernel-dispatch interface between engine.c and the csrc/kernel_*.c families. */
#ifndef EDGERT_ENGINE_INTERNAL_H
#define EDGERT_ENGINE_INTERNAL_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "edgert.h"
#include "edgert_config.h"

/* The RDBPOT below relies on an arithmetic right shift of negative values (what every
 * compiler we target does); refuse to build where it is not. */
typedef char eg_arith_shift_required[((-1) >> 1) == -1 ? 1 : -1];

/* Wrapping int32 add/sub/shift (gemmlowp relies on two's complement wrap; C does not). */
static inline int32_t eg_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static inline int32_t eg_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }
static inline int32_t eg_shl(int32_t a, int s) { return (int32_t)((uint32_t)a << s); }

/* Saturating rounding doubling high multiply (gemmlowp). gemmlowp computes
 * trunc((ab + nudge) / 2^31) with nudge = ab >= 0 ? 2^30 : 1 - 2^30; for both signs that equals
 * floor((ab + 2^30) / 2^31), one add and an arithmetic shift (tests/test_kernels.c checks the
 * identity against the literal formula). */
static inline int32_t eg_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

/* The literal gemmlowp formulation, kept as the reference of the identity above. */
static inline int32_t eg_srdhm_reference(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* Rounding divide by power of two, round half away from zero, exponent 0..31:
 * gemmlowp's (x >> e) + (rem > thr) equals floor((x + 2^(e-1) - (x < 0)) / 2^e). */
static inline int32_t eg_rdbpot(int32_t x, int exponent)
{
    if (exponent == 0) return x;
    return (int32_t)(((int64_t)x + ((int64_t)1 << (exponent - 1)) - (x < 0)) >> exponent);
}

static inline int32_t eg_rdbpot_reference(int32_t x, int exponent)
{
    int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    int32_t rem = x & mask;
    int32_t thr = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (rem > thr ? 1 : 0);
}

/* MultiplyByQuantizedMultiplier (double rounding): RDBPOT(SRDHM(x << left, m), right).
 * Kernels call it only with m >= 0 (plans are validated), where SRDHM's saturation case
 * (both operands INT32_MIN) cannot occur, so both roundings are straight-line code. */
static inline int32_t eg_mbqm(int32_t x, int32_t m, int32_t shift)
{
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    const int32_t v = (int32_t)(((int64_t)eg_shl(x, left) * (int64_t)m + ((int64_t)1 << 30)) >> 31);
    const int32_t mask = (int32_t)((1u << right) - 1u);
    return (v >> right) + ((v & mask) > ((mask >> 1) + (v < 0)));
}

/* eg_mbqm with the usual case (shift <= 0: no left shift) on its own straight path. */
static inline int32_t eg_mbqm_fast(int32_t x, int32_t m, int32_t shift)
{
    if (shift <= 0) {
        const int right = -shift;
        const int32_t v = (int32_t)(((int64_t)x * (int64_t)m + ((int64_t)1 << 30)) >> 31);
        const int32_t mask = (int32_t)((1u << right) - 1u);
        return (v >> right) + ((v & mask) > ((mask >> 1) + (v < 0)));
    }
    return (int32_t)(((int64_t)eg_shl(x, shift) * (int64_t)m + ((int64_t)1 << 30)) >> 31);
}

static inline int32_t eg_mbqm_reference(int32_t x, int32_t m, int32_t shift)
{
    int left = shift > 0 ? shift : 0;
    int right = shift > 0 ? 0 : -shift;
    return eg_rdbpot_reference(eg_srdhm_reference(eg_shl(x, left), m), right);
}

/* gemmlowp SaturatingRoundingMultiplyByPOT<e> for e > 0 (saturating left shift). */
static inline int32_t eg_sat_shl(int32_t x, int e)
{
    int32_t thr = (int32_t)(((int64_t)1 << (31 - e)) - 1);
    if (x > thr) return INT32_MAX;
    if (x < -thr) return INT32_MIN;
    return eg_shl(x, e);
}

static inline int32_t eg_rounding_half_sum(int32_t a, int32_t b)
{
    int64_t sum = (int64_t)a + (int64_t)b;
    int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

static inline int32_t eg_clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

static inline float eg_clampf(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

int32_t eg_exp_on_negative_values(int32_t a, int integer_bits);
int32_t eg_one_over_one_plus_x_for_x_in_0_1(int32_t a);
int32_t eg_one_minus_x_over_one_plus_x_for_x_in_0_1(int32_t a);
int32_t eg_logistic_q(int32_t a, int integer_bits);
int32_t eg_tanh_q(int32_t a, int integer_bits);

/* EDGERT_NO_SIMD forces the portable C paths (tests build both). */
#if (defined(__SSE2__) || defined(_M_X64)) && !defined(EDGERT_NO_SIMD)
#include <emmintrin.h>
#define EG_SSE2 1
/* 4-lane SRDHM for multipliers m >= 0 (bit-exact with eg_srdhm): two unsigned 32x32->64
 * products, corrected for negative a (a*m = a_u*m - 2^32*m), + 2^30, bits 31..62. */
static inline __m128i eg_srdhm4_pos(__m128i a, __m128i m)
{
    const __m128i rnd = _mm_set_epi32(0, 1 << 30, 0, 1 << 30);
    const __m128i corr = _mm_and_si128(_mm_srai_epi32(a, 31), m);
    __m128i p02 = _mm_mul_epu32(a, m);
    __m128i p13 = _mm_mul_epu32(_mm_srli_epi64(a, 32), _mm_srli_epi64(m, 32));
    p02 = _mm_sub_epi64(p02, _mm_slli_epi64(corr, 32));
    p13 = _mm_sub_epi64(p13, _mm_and_si128(corr, _mm_set_epi32(-1, 0, -1, 0)));
    p02 = _mm_srli_epi64(_mm_add_epi64(p02, rnd), 31);
    p13 = _mm_srli_epi64(_mm_add_epi64(p13, rnd), 31);
    return _mm_unpacklo_epi32(_mm_shuffle_epi32(p02, _MM_SHUFFLE(3, 1, 2, 0)),
                              _mm_shuffle_epi32(p13, _MM_SHUFFLE(3, 1, 2, 0)));
}

/* 4-lane RDBPOT with one exponent 0..31 (bit-exact with eg_rdbpot). */
static inline __m128i eg_rdbpot4(__m128i v, int right)
{
    const __m128i mask = _mm_set1_epi32((int32_t)((1u << right) - 1u));
    const __m128i rem = _mm_and_si128(v, mask);
    const __m128i thr = _mm_sub_epi32(_mm_srli_epi32(mask, 1), _mm_srai_epi32(v, 31));
    return _mm_sub_epi32(_mm_sra_epi32(v, _mm_cvtsi32_si128(right)), _mm_cmpgt_epi32(rem, thr));
}

/* + offset, clamp to [lo, hi] (within int8), store 4 int8. */
static inline void eg_store4_s8(__m128i v, int32_t offset, int32_t lo, int32_t hi, int8_t *y)
{
    int32_t packed;
    v = _mm_add_epi32(v, _mm_set1_epi32(offset));
    v = _mm_packs_epi32(v, v);
    v = _mm_min_epi16(_mm_max_epi16(v, _mm_set1_epi16((int16_t)lo)), _mm_set1_epi16((int16_t)hi));
    v = _mm_packs_epi16(v, v);
    packed = _mm_cvtsi128_si32(v);
    memcpy(y, &packed, 4);
}

/* 4 int8 -> 4 int32 (sign-extended). */
static inline __m128i eg_load4_s8(const int8_t *x)
{
    int32_t raw;
    __m128i v;
    memcpy(&raw, x, 4);
    v = _mm_cvtsi32_si128(raw);
    v = _mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8);
    return _mm_srai_epi32(_mm_unpacklo_epi16(v, v), 16);
}
#endif

/* Packed int16 matrix-vector product + requantization shared by FULLY_CONNECTED and CONV_2D
 * (kernel_fc.c): weights in groups of 4 rows x pairs of columns, see pack_fc_weights() in
 * edgert/engine/compiler.py; xw: depth values then a 0. */
#ifndef EG_WIDE_MAX
#define EG_WIDE_MAX EDGERT_ENGINE_WIDE_MAX   /* plans for a microcontroller carry no packed copies */
#endif
void eg_matvec_packed(const int16_t *xw, int32_t depth, const int16_t *wp, int32_t units,
                      const int32_t *bias, const int32_t *mult, const int32_t *shift,
                      const edgert_act *a, int8_t *y);
/* float32: y = clamp(W x + bias) with W transposed and padded ([depth][units rounded up to
 * 8], see transpose_weights() in compiler.py); each output sums in d order (the reference
 * order) while the inner loop runs over 8 outputs. */
void eg_matvec_f32_transposed(const float *x, int32_t depth, const float *wt, int32_t units,
                              const float *bias, float lo, float hi, float *y);
static inline int64_t eg_packed_numel(int32_t units, int32_t depth)
{
    return (((int64_t)units + 3) / 4) * (((int64_t)depth + 1) / 2) * 8;
}

/* A resolved op: tensor records and data pointers of its inputs and output. */
typedef struct {
    const edgert_op *op;
    const edgert_tensor *it[EDGERT_OP_MAX_INPUTS];
    const void *in[EDGERT_OP_MAX_INPUTS];
    const edgert_tensor *ot;
    void *out;
} eg_call;

static inline int32_t eg_numel(const edgert_tensor *t)
{
    return t->dims[0] * t->dims[1] * t->dims[2] * t->dims[3];
}

/* Kernel entry points: *_check validates params against the tensors (EDGERT_ERR_MODEL when
 * inconsistent) with data pointers unset; the run function assumes a checked op. */
int eg_fc_check(const eg_call *c);
int eg_fc_run(const eg_call *c);
int eg_conv_check(const eg_call *c);
int eg_conv_run(const eg_call *c);
int eg_dwconv_check(const eg_call *c);
int eg_dwconv_run(const eg_call *c);
int eg_pool_check(const eg_call *c);
int eg_pool_run(const eg_call *c);
int eg_softmax_check(const eg_call *c);
int eg_softmax_run(const eg_call *c);
int eg_unary_check(const eg_call *c);      /* LOGISTIC TANH RELU RELU6 QUANTIZE DEQUANTIZE REQUANTIZE */
int eg_unary_run(const eg_call *c);
int eg_binary_check(const eg_call *c);     /* ADD MUL */
int eg_binary_run(const eg_call *c);
int eg_mean_check(const eg_call *c);
int eg_mean_run(const eg_call *c);
int eg_copy_check(const eg_call *c);       /* RESHAPE SQUEEZE EXPAND_DIMS */
int eg_copy_run(const eg_call *c);
int eg_pad_check(const eg_call *c);
int eg_pad_run(const eg_call *c);
int eg_concat_check(const eg_call *c);
int eg_concat_run(const eg_call *c);
int eg_slice_check(const eg_call *c);
int eg_slice_run(const eg_call *c);

/* Helpers for checks. */
int eg_check_act(const edgert_act *a, int32_t dtype);
/* Per-channel multipliers/shifts (const tensors: pointers are set during checks). */
int eg_check_mult_shift(const void *mult, const void *shift, int32_t n);
int eg_check_one_mult_shift(int32_t m, int32_t s);
static inline int eg_same_dims(const edgert_tensor *a, const edgert_tensor *b)
{
    return a->dims[0] == b->dims[0] && a->dims[1] == b->dims[1] && a->dims[2] == b->dims[2] &&
           a->dims[3] == b->dims[3];
}

#endif /* EDGERT_ENGINE_INTERNAL_H */
