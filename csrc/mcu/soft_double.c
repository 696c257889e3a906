/*
 * soft_double.c - counts calls of software double-precision arithmetic in the harness image.
 *
 * The Cortex-M4F's FPU is single precision: every double operation is a call into libgcc's
 * __aeabi_d* helpers (or into libm's double functions). The harness links with
 * -Wl,--wrap=SYMBOL for each of them (see export.mk: SOFT_DOUBLE_WRAPS), so every call from
 * the core (and from libm, whose objects call the helpers too) goes through a wrapper here
 * that counts it and forwards to the real function. harness_main.c reads the count around each
 * stage of the pipeline: the measured number of software double operations per window.
 * (Harness-only state; the core stays free of mutable statics.)
 */
#include <stdint.h>

volatile uint32_t soft_double_calls;

#define AAPCS __attribute__((pcs("aapcs")))  /* the helpers use the base (integer) convention */

#define WRAP_DD_D(name)                                                                  \
    extern double __real_##name(double, double) AAPCS;                                   \
    double __wrap_##name(double a, double b) AAPCS;                                      \
    double __wrap_##name(double a, double b)                                             \
    {                                                                                    \
        soft_double_calls++;                                                             \
        return __real_##name(a, b);                                                      \
    }
#define WRAP_DD_I(name)                                                                  \
    extern int __real_##name(double, double) AAPCS;                                      \
    int __wrap_##name(double a, double b) AAPCS;                                         \
    int __wrap_##name(double a, double b)                                                \
    {                                                                                    \
        soft_double_calls++;                                                             \
        return __real_##name(a, b);                                                      \
    }
#define WRAP_CONV(name, R, A)                                                            \
    extern R __real_##name(A) AAPCS;                                                     \
    R __wrap_##name(A a) AAPCS;                                                          \
    R __wrap_##name(A a)                                                                 \
    {                                                                                    \
        soft_double_calls++;                                                             \
        return __real_##name(a);                                                         \
    }
#define WRAP_LIBM1(name)                                                                 \
    extern double __real_##name(double);                                                 \
    double __wrap_##name(double a);                                                      \
    double __wrap_##name(double a)                                                       \
    {                                                                                    \
        soft_double_calls++;                                                             \
        return __real_##name(a);                                                         \
    }
#define WRAP_LIBM2(name)                                                                 \
    extern double __real_##name(double, double);                                         \
    double __wrap_##name(double a, double b);                                            \
    double __wrap_##name(double a, double b)                                             \
    {                                                                                    \
        soft_double_calls++;                                                             \
        return __real_##name(a, b);                                                      \
    }

WRAP_DD_D(__aeabi_dadd)
WRAP_DD_D(__aeabi_dsub)
WRAP_DD_D(__aeabi_drsub)
WRAP_DD_D(__aeabi_dmul)
WRAP_DD_D(__aeabi_ddiv)
WRAP_DD_D(__aeabi_drdiv)
WRAP_DD_I(__aeabi_dcmpeq)
WRAP_DD_I(__aeabi_dcmplt)
WRAP_DD_I(__aeabi_dcmple)
WRAP_DD_I(__aeabi_dcmpge)
WRAP_DD_I(__aeabi_dcmpgt)
WRAP_DD_I(__aeabi_dcmpun)
WRAP_CONV(__aeabi_f2d, double, float)
WRAP_CONV(__aeabi_d2f, float, double)
WRAP_CONV(__aeabi_i2d, double, int)
WRAP_CONV(__aeabi_ui2d, double, unsigned)
WRAP_CONV(__aeabi_l2d, double, long long)
WRAP_CONV(__aeabi_ul2d, double, unsigned long long)
WRAP_CONV(__aeabi_d2iz, int, double)
WRAP_CONV(__aeabi_d2uiz, unsigned, double)
WRAP_CONV(__aeabi_d2lz, long long, double)
WRAP_CONV(__aeabi_d2ulz, unsigned long long, double)
WRAP_LIBM1(sin)
WRAP_LIBM1(cos)
WRAP_LIBM1(tan)
WRAP_LIBM1(sqrt)
WRAP_LIBM1(log)
WRAP_LIBM1(log10)
WRAP_LIBM1(exp)
WRAP_LIBM2(pow)
