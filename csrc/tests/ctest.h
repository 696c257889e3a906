/* Minimal assertion helpers for the pure-C tests (no framework needed on a bare toolchain).
 * Each test binary ends by printing "N passed, N failed" and exits non-zero on failure. */
#ifndef EDGERT_CTEST_H
#define EDGERT_CTEST_H
#include <math.h>
#include <stdio.h>

static int ctest_passed, ctest_failed;

#define CHECK(cond) do { if (cond) ctest_passed++; else { ctest_failed++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_EQ_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
    if (_a == _b) ctest_passed++; else { ctest_failed++; \
    fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, _a, #b, _b); } } while (0)
#define CHECK_NEAR(a, b, tol) do { double _a = (double)(a), _b = (double)(b); \
    if (fabs(_a - _b) <= (tol)) ctest_passed++; else { ctest_failed++; \
    fprintf(stderr, "%s:%d: %s = %.9g, expected %.9g (tol %g)\n", __FILE__, __LINE__, #a, _a, _b, (double)(tol)); } } while (0)
#define CTEST_END() do { printf("%d passed, %d failed\n", ctest_passed, ctest_failed); \
    return ctest_failed ? 1 : 0; } while (0)
#endif
