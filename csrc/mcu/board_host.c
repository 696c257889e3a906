/*
 * board_host.c - board.h for a host build of the harness programs (`make host`): the same
 * program and the same float32 DSP, run natively, to tell the emulated device's results apart
 * from the precision's. No counter, no stack measurement (both report 0), no semihosting.
 */
#include <stdio.h>
#include <stdlib.h>

#include "board.h"

volatile uint32_t soft_double_calls; /* soft_double.c's counter; nothing counts on the host */

int board_semihost(int op, const void *arg)
{
    (void)op;
    (void)arg;
    return -1;
}

int board_args(char *buf, size_t buf_bytes, char **argv, int max_args)
{
    (void)buf;
    (void)buf_bytes;
    (void)argv;
    (void)max_args;
    return 0;
}

void board_exit(int status)
{
    exit(status);
}

void board_counter_start(void)
{
}

uint32_t board_counter_ticks(void)
{
    return 0;
}

uintptr_t board_stack_paint(void)
{
    return 0;
}

uint32_t board_stack_depth(uintptr_t mark)
{
    (void)mark;
    return 0;
}

uint32_t board_stack_size(void)
{
    return 0;
}

uint32_t board_stack_peak(void)
{
    return 0;
}
