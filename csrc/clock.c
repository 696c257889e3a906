/* clock.c - host clocks for the impulse plan's timing hook (edgert_impulse_timing.clock).
 *
 * The Python layer passes one of these as a C function pointer, so a run times its stages
 * without calling back into Python (a callback would take the GIL and add its own cost to
 * each stage). A microcontroller passes its own counter (DWT->CYCCNT) instead: on a target
 * with neither POSIX nor Windows clocks these return 0 (stages then read 0 ticks).
 *
 * Both read the monotonic clock the Python layer's time.perf_counter_ns() reads on Linux
 * (CLOCK_MONOTONIC; QueryPerformanceCounter on Windows). No state, reentrant. */
#if defined(__unix__) || defined(__APPLE__)
#define _POSIX_C_SOURCE 199309L
#include <time.h>
#define EDGERT_HAVE_POSIX_CLOCK 1
#elif defined(_WIN32)
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#define EDGERT_HAVE_WINDOWS_CLOCK 1
#endif

#include "edgert.h"

/* Nanoseconds of the monotonic clock (0 when the platform has none). */
static uint64_t monotonic_ns(void)
{
#if defined(EDGERT_HAVE_POSIX_CLOCK)
    struct timespec t;
    if (clock_gettime(CLOCK_MONOTONIC, &t) != 0) return 0;
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
#elif defined(EDGERT_HAVE_WINDOWS_CLOCK)
    LARGE_INTEGER count, freq;
    uint64_t c, f;
    if (!QueryPerformanceCounter(&count) || !QueryPerformanceFrequency(&freq) ||
        freq.QuadPart <= 0)
        return 0;
    c = (uint64_t)count.QuadPart;
    f = (uint64_t)freq.QuadPart;
    return (c / f) * 1000000000u + (c % f) * 1000000000u / f;
#else
    return 0;
#endif
}

uint32_t edgert_clock_ns(void *context)
{
    (void)context;
    return (uint32_t)monotonic_ns();
}

uint32_t edgert_clock_us(void *context)
{
    (void)context;
    return (uint32_t)(monotonic_ns() / 1000u);
}
