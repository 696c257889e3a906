/*
 * board.h - what the bare-metal harness needs from the board (QEMU's mps2-an386: Cortex-M4
 * with FPU), shared by every program built with mcu.mk:
 *   - semihosting calls (ARM semihosting, `bkpt 0xab`): the command line, exit with a status;
 *     file and console I/O go through newlib's rdimon (stdio) where a program wants them;
 *   - an instruction counter: under `qemu-system-arm -icount shift=0` every guest instruction
 *     advances virtual time by exactly 1 ns, and the CMSDK APB timer 0 counts down at the
 *     25 MHz system clock, so (ticks elapsed) x 40 is the instruction count (40-instruction
 *     resolution; without -icount the number is time-based and meaningless);
 *   - stack high-water measurement by painting: board_stack_paint() fills the unused stack
 *     below the caller with a pattern, board_stack_depth() finds the deepest word since
 *     overwritten.
 * Only the harness keeps state (the timer's hardware registers); the edgert core stays free of
 * mutable statics.
 */
#ifndef EDGERT_MCU_BOARD_H
#define EDGERT_MCU_BOARD_H

#include <stddef.h>
#include <stdint.h>

/* ARM semihosting operation numbers used here */
#define BOARD_SYS_GET_CMDLINE 0x15
#define BOARD_SYS_EXIT 0x18
#define BOARD_SYS_EXIT_EXTENDED 0x20

/* One semihosting call: r0 = op, r1 = arg; returns r0. */
int board_semihost(int op, const void *arg);

/* The command line QEMU was given (-semihosting-config ...,arg=...), split at spaces into
 * argv (program name first); returns argc (0 when the debugger/emulator gives none). */
int board_args(char *buf, size_t buf_bytes, char **argv, int max_args);

/* End the program: QEMU exits with this status. Never returns. */
void board_exit(int status) __attribute__((noreturn));

/* Start the instruction counter (idempotent) and read it: instructions executed since it was
 * started, in steps of BOARD_INSNS_PER_TICK, wrapping after 2^32 ticks (2.9 minutes of guest
 * time). Differences of two readings are what to use. */
#define BOARD_INSNS_PER_TICK 40u
void board_counter_start(void);
uint32_t board_counter_ticks(void);

/* Stack high-water: paint the stack from its limit up to just below the caller's frame;
 * returns a mark (the caller's stack pointer). board_stack_depth(mark) is the number of bytes
 * below the mark that have been written since (the stack a call made in between used, with
 * the word granularity of the paint). */
uintptr_t board_stack_paint(void);
uint32_t board_stack_depth(uintptr_t mark);

/* Bytes of the stack region (linker script), and bytes from its top down to the deepest word
 * written since the last paint (at reset, or the last board_stack_paint(), which repaints
 * everything below its caller: read the peak before painting again). */
uint32_t board_stack_size(void);
uint32_t board_stack_peak(void);

#endif
