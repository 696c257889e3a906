/* engine_fixedpoint.c - gemmlowp's fixed-point exp / reciprocal / logistic / tanh on raw int32
 * values, as TFLite Micro's int8 SOFTMAX, LOGISTIC and TANH use them.  A value with
 * `integer_bits` integer bits has raw = real * 2^(31 - integer_bits). */
#include "engine_internal.h"

/* exp(a) for a in [-1/4, 0), Q0.31 in and out (Taylor expansion around -1/8). */
static int32_t exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a)
{
    const int32_t constant_term = 1895147668;     /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    int32_t x = eg_add(a, (int32_t)1 << 28);
    int32_t x2 = eg_srdhm(x, x);
    int32_t x3 = eg_srdhm(x2, x);
    int32_t x4 = eg_srdhm(x2, x2);
    int32_t x4_over_4 = eg_rdbpot(x4, 2);
    int32_t poly = eg_rdbpot(eg_add(eg_srdhm(eg_add(x4_over_4, x3), constant_1_over_3), x2), 1);
    return eg_add(constant_term, eg_srdhm(constant_term, eg_add(x, poly)));
}

int32_t eg_exp_on_negative_values(int32_t a, int integer_bits)
{
    static const int32_t multipliers[7] = {
        1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242
    };
    const int frac_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (frac_bits - 2);
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_q_minus_q = eg_sub(a & mask, one_quarter);
    int32_t rescaled = integer_bits > 0 ? eg_sat_shl(a_mod_q_minus_q, integer_bits) : a_mod_q_minus_q;
    int32_t result = exp_on_interval_between_negative_one_quarter_and_0_excl(rescaled);
    const int32_t remainder = eg_sub(a_mod_q_minus_q, a);
    int e;
    for (e = -2; e <= 4; e++) {
        if (integer_bits > e) {
            int shift = frac_bits + e;
            if (remainder & (int32_t)((uint32_t)1 << shift))
                result = eg_srdhm(result, multipliers[e + 2]);
        }
    }
    if (integer_bits > 5) {
        int32_t clamp = -((int32_t)1 << (36 - integer_bits));
        if (a < clamp) result = 0;
    }
    if (a == 0) result = INT32_MAX;
    return result;
}

/* Newton-Raphson iterations shared by the two divisions below; returns x (Q2.29) ~ 1/(1+a). */
static int32_t nr_reciprocal_half_denominator(int32_t half_denominator)
{
    const int32_t c48_over_17 = 1515870810;        /* Q2.29 */
    const int32_t cneg32_over_17 = -1010580540;    /* Q2.29 */
    const int32_t f2_one = (int32_t)1 << 29;
    int32_t x = eg_add(c48_over_17, eg_srdhm(half_denominator, cneg32_over_17));
    int i;
    for (i = 0; i < 3; i++) {
        int32_t hdx = eg_srdhm(half_denominator, x);
        int32_t one_minus = eg_sub(f2_one, hdx);
        x = eg_add(x, eg_sat_shl(eg_srdhm(x, one_minus), 2));
    }
    return x;
}

int32_t eg_one_over_one_plus_x_for_x_in_0_1(int32_t a)
{
    int32_t half_denominator = eg_rounding_half_sum(a, INT32_MAX);
    int32_t x = nr_reciprocal_half_denominator(half_denominator);
    return eg_sat_shl(x, 1);
}

int32_t eg_one_minus_x_over_one_plus_x_for_x_in_0_1(int32_t a)
{
    int32_t half_denominator = eg_rounding_half_sum(a, INT32_MAX);
    int32_t x = nr_reciprocal_half_denominator(half_denominator);
    return eg_sat_shl(eg_sub(x, (int32_t)1 << 29), 2);
}

int32_t eg_logistic_q(int32_t a, int integer_bits)
{
    if (a == 0) return (int32_t)1 << 30;
    int32_t abs_a = a > 0 ? a : eg_sub(0, a);
    int32_t pos = eg_one_over_one_plus_x_for_x_in_0_1(
        eg_exp_on_negative_values(eg_sub(0, abs_a), integer_bits));
    return a > 0 ? pos : eg_sub(INT32_MAX, pos);
}

int32_t eg_tanh_q(int32_t a, int integer_bits)
{
    if (a == 0) return 0;
    int32_t n = a < 0 ? a : eg_sub(0, a);
    int32_t t = eg_one_minus_x_over_one_plus_x_for_x_in_0_1(
        eg_exp_on_negative_values(n, integer_bits + 1));
    return a < 0 ? eg_sub(0, t) : t;
}

/* Exported wrappers (tests). */
int32_t edgert_fx_srdhm(int32_t a, int32_t b) { return eg_srdhm(a, b); }
int32_t edgert_fx_rdbpot(int32_t x, int32_t exponent)
{
    if (exponent < 0 || exponent > 31) return 0;
    return eg_rdbpot(x, (int)exponent);
}
int32_t edgert_fx_mbqm(int32_t x, int32_t multiplier, int32_t shift)
{
    if (shift > 31 || shift < -31) return 0;
    if (multiplier < 0) return eg_mbqm_reference(x, multiplier, shift);
    return eg_mbqm(x, multiplier, shift);
}
int32_t edgert_fx_exp_on_negative_values(int32_t a, int32_t integer_bits)
{
    if (integer_bits < 0 || integer_bits > 12) return 0;
    return eg_exp_on_negative_values(a, (int)integer_bits);
}
int32_t edgert_fx_one_over_one_plus_x(int32_t a) { return eg_one_over_one_plus_x_for_x_in_0_1(a); }
