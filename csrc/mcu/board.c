/*
 * board.c - semihosting, instruction counter and stack high-water for QEMU's mps2-an386
 * (see board.h).
 */
#include <string.h>

#include "board.h"

/* linker script symbols: the stack region */
extern uint32_t __stack_limit__[], __stack_top__[];

#define STACK_PAINT 0xA5C3E1F0u

/* CMSDK APB timer 0 of the mps2 FPGA images: a 32-bit down counter at the 25 MHz system
 * clock */
#define TIMER0_BASE 0x40000000u
#define TIMER_CTRL (*(volatile uint32_t *)(TIMER0_BASE + 0x00u))
#define TIMER_VALUE (*(volatile uint32_t *)(TIMER0_BASE + 0x04u))
#define TIMER_RELOAD (*(volatile uint32_t *)(TIMER0_BASE + 0x08u))

int board_semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

int board_args(char *buf, size_t buf_bytes, char **argv, int max_args)
{
    struct {
        char *buf;
        int len;
    } block;
    int argc = 0;
    char *p;
    if (buf_bytes < 2 || max_args < 1)
        return 0;
    block.buf = buf;
    block.len = (int)buf_bytes - 1;
    if (board_semihost(BOARD_SYS_GET_CMDLINE, &block) != 0)
        return 0;
    buf[block.len < (int)buf_bytes ? block.len : (int)buf_bytes - 1] = '\0';
    p = buf;
    while (*p && argc < max_args) {
        while (*p == ' ')
            *p++ = '\0';
        if (!*p)
            break;
        argv[argc++] = p;
        while (*p && *p != ' ')
            p++;
    }
    argv[argc] = NULL;
    return argc;
}

void board_exit(int status)
{
    /* SYS_EXIT_EXTENDED (semihosting 2.0, which QEMU implements): reason "application exit"
     * with the status as subcode, so that the emulator's exit status is the program's */
    uint32_t block[2];
    block[0] = 0x20026u; /* ADP_Stopped_ApplicationExit */
    block[1] = (uint32_t)status;
    (void)board_semihost(BOARD_SYS_EXIT_EXTENDED, block);
    /* an older host: SYS_EXIT can only say "exited" (status 0) or "stopped" (non-zero) */
    (void)board_semihost(BOARD_SYS_EXIT, (const void *)(uintptr_t)(status == 0 ? 0x20026u
                                                                            : 0x20023u));
    for (;;) {
    }
}

void board_counter_start(void)
{
    if (TIMER_CTRL & 1u)
        return;
    TIMER_RELOAD = 0xFFFFFFFFu;
    TIMER_VALUE = 0xFFFFFFFFu;
    TIMER_CTRL = 1u; /* enable, internal clock, no interrupt */
}

uint32_t board_counter_ticks(void)
{
    return 0xFFFFFFFFu - TIMER_VALUE;
}

static uintptr_t stack_pointer(void)
{
    uintptr_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
}

__attribute__((noinline)) uintptr_t board_stack_paint(void)
{
    uintptr_t sp = stack_pointer();
    volatile uint32_t *w = __stack_limit__;
    /* leave the words just below this frame alone (the painting loop's own spill room) */
    while ((uintptr_t)w + 32u < sp)
        *w++ = STACK_PAINT;
    return sp;
}

/* lowest stack address written since it was painted */
static uintptr_t lowest_written(void)
{
    const volatile uint32_t *w = __stack_limit__;
    while (w < __stack_top__ && *w == STACK_PAINT)
        w++;
    return (uintptr_t)w;
}

uint32_t board_stack_depth(uintptr_t mark)
{
    uintptr_t low = lowest_written();
    return low < mark ? (uint32_t)(mark - low) : 0u;
}

uint32_t board_stack_size(void)
{
    return (uint32_t)((uintptr_t)__stack_top__ - (uintptr_t)__stack_limit__);
}

uint32_t board_stack_peak(void)
{
    return (uint32_t)((uintptr_t)__stack_top__ - lowest_written());
}
