/*
 * startup.c - reset and exception vectors for QEMU's mps2-an386 (Cortex-M4 with FPU), generic
 * for every program built with mcu.mk:
 *   1. the vector table (in .vectors, placed at address 0 by mps2_an386.ld): initial stack
 *      pointer, Reset_Handler, and a handler for every fault/interrupt that reports it over
 *      semihosting and exits (status 3), so a crash under the emulator ends the run instead of
 *      hanging it;
 *   2. Reset_Handler: grants CP10/CP11 (the single-precision FPU) before any floating-point
 *      instruction can run, then board_start(): copies .data from flash, zeroes .bss, paints
 *      the stack (for board_stack_peak), starts the instruction counter, reads the command
 *      line over semihosting and calls main(argc, argv); main's return value is the exit
 *      status QEMU reports.
 * No C library start-up code is used (-nostartfiles); newlib's rdimon stdio, when a program
 * links it, is initialised here before main.
 */
#include <stdint.h>
#include <string.h>

#include "board.h"

int main(int argc, char **argv);

/* linker script symbols */
extern uint32_t __data_load__[], __data_start__[], __data_end__[];
extern uint32_t __bss_start__[], __bss_end__[];
extern uint32_t __stack_top__[];

/* newlib rdimon's stdio set-up; a weak reference, so that programs without stdio do not link
 * the semihosting C library for it */
extern void initialise_monitor_handles(void) __attribute__((weak));

void Reset_Handler(void) __attribute__((naked, noreturn));
void board_start(void) __attribute__((noreturn, used));
void Default_Handler(void) __attribute__((noreturn));

#define BOARD_MAX_ARGS 8

void board_start(void)
{
    /* harness state, not the impulse's: in its own section (mps2_an386.ld's .board), which the
     * size report lists apart from .data/.bss */
    static char cmdline[256] __attribute__((section(".board")));
    static char *argv[BOARD_MAX_ARGS + 1] __attribute__((section(".board")));
    uint32_t *src = __data_load__, *dst;
    int argc;
    for (dst = __data_start__; dst < __data_end__; dst++)
        *dst = *src++;
    for (dst = __bss_start__; dst < __bss_end__; dst++)
        *dst = 0;
    (void)board_stack_paint();
    board_counter_start();
    if (initialise_monitor_handles)
        initialise_monitor_handles();
    argc = board_args(cmdline, sizeof cmdline, argv, BOARD_MAX_ARGS);
    board_exit(main(argc, argv));
}

/* Coprocessor Access Control Register: CP10 and CP11 full access (bits 20-23) enable the FPU;
 * the barriers make the change visible before the first floating-point instruction. */
void Reset_Handler(void)
{
    __asm__ volatile(
        "movw r0, #0xED88\n\t"
        "movt r0, #0xE000\n\t"
        "ldr r1, [r0]\n\t"
        "orr r1, r1, #0x00F00000\n\t"
        "str r1, [r0]\n\t"
        "dsb\n\t"
        "isb\n\t"
        "b board_start\n\t");
}

void Default_Handler(void)
{
    static const char msg[] = "edgert mcu: unexpected exception or fault; stopping (status 3)\n";
    (void)board_semihost(0x04 /* SYS_WRITE0: a string to the debug console */, msg);
    board_exit(3);
}

/* 16 system exceptions + 32 interrupt lines (the mps2-an386 peripherals use fewer) */
__attribute__((section(".vectors"), used)) const uintptr_t board_vectors[16 + 32] = {
    (uintptr_t)__stack_top__,
    (uintptr_t)Reset_Handler,
    [2] = (uintptr_t)Default_Handler, [3] = (uintptr_t)Default_Handler,
    [4] = (uintptr_t)Default_Handler, [5] = (uintptr_t)Default_Handler,
    [6] = (uintptr_t)Default_Handler, [11] = (uintptr_t)Default_Handler,
    [12] = (uintptr_t)Default_Handler, [14] = (uintptr_t)Default_Handler,
    [15] = (uintptr_t)Default_Handler,
    [16] = (uintptr_t)Default_Handler, [17] = (uintptr_t)Default_Handler,
    [18] = (uintptr_t)Default_Handler, [19] = (uintptr_t)Default_Handler,
    [20] = (uintptr_t)Default_Handler, [21] = (uintptr_t)Default_Handler,
    [22] = (uintptr_t)Default_Handler, [23] = (uintptr_t)Default_Handler,
    [24] = (uintptr_t)Default_Handler, [25] = (uintptr_t)Default_Handler,
    [26] = (uintptr_t)Default_Handler, [27] = (uintptr_t)Default_Handler,
    [28] = (uintptr_t)Default_Handler, [29] = (uintptr_t)Default_Handler,
    [30] = (uintptr_t)Default_Handler, [31] = (uintptr_t)Default_Handler,
    [32] = (uintptr_t)Default_Handler, [33] = (uintptr_t)Default_Handler,
    [34] = (uintptr_t)Default_Handler, [35] = (uintptr_t)Default_Handler,
    [36] = (uintptr_t)Default_Handler, [37] = (uintptr_t)Default_Handler,
    [38] = (uintptr_t)Default_Handler, [39] = (uintptr_t)Default_Handler,
    [40] = (uintptr_t)Default_Handler, [41] = (uintptr_t)Default_Handler,
    [42] = (uintptr_t)Default_Handler, [43] = (uintptr_t)Default_Handler,
    [44] = (uintptr_t)Default_Handler, [45] = (uintptr_t)Default_Handler,
    [46] = (uintptr_t)Default_Handler, [47] = (uintptr_t)Default_Handler,
};
