/* engine.c - plan validation and invoke (single and batched) of the native TFLite engine.
 * The plan is produced by edgert/engine/compiler.py; nothing here trusts it: every tensor
 * and op is checked against the buffers before any kernel runs. */
#include <string.h>
#include "engine_internal.h"

typedef int (*eg_fn)(const eg_call *);
typedef struct {
    eg_fn check, run;
} eg_kernel;

/* Operator families a build leaves out (edgert_config.h) have no entry: EDGERT_ERR_UNSUPPORTED */
#define EG_KERNEL(family, check, run) {(family) ? (check) : 0, (family) ? (run) : 0}

static const eg_kernel KERNELS[EDGERT_OP_COUNT] = {
    {0, 0},                                                            /* 0 unused */
    EG_KERNEL(EDGERT_WITH_OP_FC, eg_fc_check, eg_fc_run),              /* FULLY_CONNECTED */
    EG_KERNEL(EDGERT_WITH_OP_CONV, eg_conv_check, eg_conv_run),        /* CONV_2D */
    EG_KERNEL(EDGERT_WITH_OP_CONV, eg_dwconv_check, eg_dwconv_run),    /* DEPTHWISE_CONV_2D */
    EG_KERNEL(EDGERT_WITH_OP_POOL, eg_pool_check, eg_pool_run),        /* MAX_POOL_2D */
    EG_KERNEL(EDGERT_WITH_OP_POOL, eg_pool_check, eg_pool_run),        /* AVERAGE_POOL_2D */
    EG_KERNEL(EDGERT_WITH_OP_SHAPE, eg_copy_check, eg_copy_run),       /* COPY (RESHAPE, ...) */
    EG_KERNEL(EDGERT_WITH_OP_SOFTMAX, eg_softmax_check, eg_softmax_run), /* SOFTMAX */
    EG_KERNEL(EDGERT_WITH_OP_UNARY, eg_unary_check, eg_unary_run),     /* LOGISTIC */
    EG_KERNEL(EDGERT_WITH_OP_UNARY, eg_unary_check, eg_unary_run),     /* TANH */
    EG_KERNEL(EDGERT_WITH_OP_UNARY, eg_unary_check, eg_unary_run),     /* RELU */
    EG_KERNEL(EDGERT_WITH_OP_UNARY, eg_unary_check, eg_unary_run),     /* RELU6 */
    EG_KERNEL(EDGERT_WITH_OP_UNARY, eg_unary_check, eg_unary_run),     /* QUANTIZE */
    EG_KERNEL(EDGERT_WITH_OP_UNARY, eg_unary_check, eg_unary_run),     /* DEQUANTIZE */
    EG_KERNEL(EDGERT_WITH_OP_BINARY, eg_binary_check, eg_binary_run),  /* ADD */
    EG_KERNEL(EDGERT_WITH_OP_BINARY, eg_binary_check, eg_binary_run),  /* MUL */
    EG_KERNEL(EDGERT_WITH_OP_MEAN, eg_mean_check, eg_mean_run),        /* MEAN */
    EG_KERNEL(EDGERT_WITH_OP_SHAPE, eg_pad_check, eg_pad_run),         /* PAD */
    EG_KERNEL(EDGERT_WITH_OP_SHAPE, eg_concat_check, eg_concat_run),   /* CONCATENATION */
    EG_KERNEL(EDGERT_WITH_OP_SHAPE, eg_slice_check, eg_slice_run),     /* STRIDED_SLICE */
    EG_KERNEL(EDGERT_WITH_OP_UNARY, eg_unary_check, eg_unary_run),     /* REQUANTIZE */
};

static int check_tensor(const edgert_tensor *t, uint32_t arena_bytes, size_t consts_bytes)
{
    size_t es;
    int64_t n;
    if (t->dtype == EDGERT_DTYPE_INT8) es = 1;
    else if (t->dtype == EDGERT_DTYPE_INT16) es = 2;
    else if (t->dtype == EDGERT_DTYPE_FLOAT32 || t->dtype == EDGERT_DTYPE_INT32) es = 4;
    else return EDGERT_ERR_MODEL;
    if (t->dims[0] <= 0 || t->dims[1] <= 0 || t->dims[2] <= 0 || t->dims[3] <= 0) return EDGERT_ERR_MODEL;
    {   /* two independent products (< 2^62 each) instead of one dependent chain */
        const int64_t a = (int64_t)t->dims[0] * t->dims[1], b = (int64_t)t->dims[2] * t->dims[3];
        if (a > (int64_t)INT32_MAX || b > (int64_t)INT32_MAX) return EDGERT_ERR_MODEL;
        n = a * b;
        if (n > (int64_t)INT32_MAX) return EDGERT_ERR_MODEL;
    }
    if ((uint64_t)n * es != t->bytes) return EDGERT_ERR_MODEL;
    if (t->offset & (uint32_t)(es - 1)) return EDGERT_ERR_MODEL;   /* es is a power of two: no division */
    if (t->space == EDGERT_SPACE_ARENA) {
        if ((uint64_t)t->offset + t->bytes > arena_bytes) return EDGERT_ERR_MODEL;
    } else if (t->space == EDGERT_SPACE_CONST) {
        if ((uint64_t)t->offset + t->bytes > consts_bytes) return EDGERT_ERR_MODEL;
    } else {
        return EDGERT_ERR_MODEL;
    }
    return EDGERT_OK;
}

static int overlaps(const edgert_tensor *a, const edgert_tensor *b)
{
    if (a->space != EDGERT_SPACE_ARENA || b->space != EDGERT_SPACE_ARENA) return 0;
    return a->offset < b->offset + b->bytes && b->offset < a->offset + a->bytes;
}

/* Fill c for op; arena may be NULL (checks: only constant tensors get data pointers). */
static int resolve(const edgert_plan *plan, const edgert_op *op, const void *consts, void *arena,
                   eg_call *c)
{
    int i;
    c->op = op;
    if (op->n_in < 1 || op->n_in > EDGERT_OP_MAX_INPUTS) return EDGERT_ERR_MODEL;
    for (i = 0; i < op->n_in; i++) {
        const int32_t idx = op->in[i];
        const edgert_tensor *t;
        if (idx < 0 || idx >= plan->n_tensors) return EDGERT_ERR_MODEL;
        t = &plan->tensors[idx];
        c->it[i] = t;
        if (t->space == EDGERT_SPACE_CONST) c->in[i] = (const char *)consts + t->offset;
        else c->in[i] = arena ? (const void *)((const char *)arena + t->offset) : NULL;
    }
    if (op->out < 0 || op->out >= plan->n_tensors) return EDGERT_ERR_MODEL;
    c->ot = &plan->tensors[op->out];
    if (c->ot->space != EDGERT_SPACE_ARENA) return EDGERT_ERR_MODEL;
    c->out = arena ? (void *)((char *)arena + c->ot->offset) : NULL;
    return EDGERT_OK;
}

int edgert_engine_check(const edgert_plan *plan, const void *consts, size_t consts_bytes)
{
    int32_t i;
    int k, st;
    if (!plan) return EDGERT_ERR_NULL;
    if (plan->n_tensors <= 0 || !plan->tensors || plan->n_ops < 0 || (plan->n_ops > 0 && !plan->ops))
        return EDGERT_ERR_MODEL;
    if (plan->consts_bytes > consts_bytes) return EDGERT_ERR_MODEL;
    if (plan->consts_bytes > 0 && !consts) return EDGERT_ERR_NULL;
    if (consts && ((uintptr_t)consts & 3u)) return EDGERT_ERR_ARG;
    for (i = 0; i < plan->n_tensors; i++)
        if ((st = check_tensor(&plan->tensors[i], plan->arena_bytes, plan->consts_bytes)) != 0) return st;
    if (plan->n_inputs < 1 || plan->n_inputs > EDGERT_PLAN_MAX_IO || plan->n_outputs < 1 ||
        plan->n_outputs > EDGERT_PLAN_MAX_IO)
        return EDGERT_ERR_MODEL;
    for (k = 0; k < plan->n_inputs; k++)
        if (plan->inputs[k] < 0 || plan->inputs[k] >= plan->n_tensors ||
            plan->tensors[plan->inputs[k]].space != EDGERT_SPACE_ARENA)
            return EDGERT_ERR_MODEL;
    for (k = 0; k < plan->n_outputs; k++)
        if (plan->outputs[k] < 0 || plan->outputs[k] >= plan->n_tensors ||
            plan->tensors[plan->outputs[k]].space != EDGERT_SPACE_ARENA)
            return EDGERT_ERR_MODEL;
    for (i = 0; i < plan->n_ops; i++) {
        const edgert_op *op = &plan->ops[i];
        eg_call c;
        if (op->type <= 0 || op->type >= EDGERT_OP_COUNT) return EDGERT_ERR_MODEL;
        if (!KERNELS[op->type].check) return EDGERT_ERR_UNSUPPORTED;  /* left out of this build */
        if (op->dtype != EDGERT_DTYPE_INT8 && op->dtype != EDGERT_DTYPE_FLOAT32) return EDGERT_ERR_MODEL;
        if ((st = resolve(plan, op, consts, NULL, &c)) != 0) return st;
        for (k = 0; k < op->n_in; k++) {
            /* a kernel never reads an input that its output overwrites (COPY may alias) */
            if (overlaps(c.it[k], c.ot) &&
                !(op->type == EDGERT_OP_COPY && c.it[k]->offset == c.ot->offset))
                return EDGERT_ERR_MODEL;
        }
        if ((st = KERNELS[op->type].check(&c)) != 0) return st;
    }
    return EDGERT_OK;
}

static int run_ops(const edgert_plan *plan, const void *consts, void *arena)
{
    int32_t i;
    for (i = 0; i < plan->n_ops; i++) {
        const edgert_op *op = &plan->ops[i];
        eg_call c;
        int st = resolve(plan, op, consts, arena, &c);
        if (st) return st;
        if ((st = KERNELS[op->type].run(&c)) != 0) return st;
    }
    return EDGERT_OK;
}

static int check_buffers(const edgert_plan *plan, const void *consts, size_t consts_bytes,
                         void *arena, size_t arena_bytes, const void *const *inputs,
                         void *const *outputs)
{
    int k, st;
    if (!plan || !inputs || !outputs || (!arena && plan->arena_bytes > 0)) return EDGERT_ERR_NULL;
    if ((st = edgert_engine_check(plan, consts, consts_bytes)) != 0) return st;
    if (arena_bytes < plan->arena_bytes) return EDGERT_ERR_SCRATCH;
    if ((uintptr_t)arena & 3u) return EDGERT_ERR_ARG;
    for (k = 0; k < plan->n_inputs; k++) if (!inputs[k]) return EDGERT_ERR_NULL;
    for (k = 0; k < plan->n_outputs; k++) if (!outputs[k]) return EDGERT_ERR_NULL;
    return EDGERT_OK;
}

static int run_item(const edgert_plan *plan, const void *consts, void *arena,
                    const void *const *inputs, void *const *outputs, size_t item)
{
    int k, st;
    for (k = 0; k < plan->n_inputs; k++) {
        const edgert_tensor *t = &plan->tensors[plan->inputs[k]];
        memcpy((char *)arena + t->offset, (const char *)inputs[k] + item * t->bytes, t->bytes);
    }
    if ((st = run_ops(plan, consts, arena)) != 0) return st;
    for (k = 0; k < plan->n_outputs; k++) {
        const edgert_tensor *t = &plan->tensors[plan->outputs[k]];
        memcpy((char *)outputs[k] + item * t->bytes, (const char *)arena + t->offset, t->bytes);
    }
    return EDGERT_OK;
}

int edgert_engine_invoke(const edgert_plan *plan, const void *consts, size_t consts_bytes,
                         void *arena, size_t arena_bytes,
                         const void *const *inputs, void *const *outputs)
{
    int st = check_buffers(plan, consts, consts_bytes, arena, arena_bytes, inputs, outputs);
    if (st) return st;
    return run_item(plan, consts, arena, inputs, outputs, 0);
}

int edgert_engine_invoke_one(const edgert_engine_session *session, const void *input,
                             size_t input_bytes)
{
    const void *inputs[1];
    int st;
    if (!session) return EDGERT_ERR_NULL;
    inputs[0] = input;
    st = check_buffers(session->plan, session->consts, session->consts_bytes, session->arena,
                       session->arena_bytes, inputs, session->outputs);
    if (st) return st;
    if (session->plan->n_inputs != 1) return EDGERT_ERR_ARG;
    if (input_bytes != session->plan->tensors[session->plan->inputs[0]].bytes) return EDGERT_ERR_SHAPE;
    return run_item(session->plan, session->consts, session->arena, inputs, session->outputs, 0);
}

/* Plans of up to this many ops have their ops resolved once per batch (the pointers do not
 * change between items); larger plans - and batches of one item, where resolving once gains
 * nothing - resolve op by op, keeping the stack small. */
#define EG_CACHED_OPS 16

/* The batch loop with resolved ops: its own frame (the resolved calls, ~1.3 KB on a 32-bit
 * target), so that a one-item invoke - a microcontroller's every window - never pays for it. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int run_batch_resolved(const edgert_plan *plan, const void *consts, void *arena,
                              const void *const *inputs, int32_t n, void *const *outputs)
{
    int32_t i, j;
    int st, k;
    eg_call calls[EG_CACHED_OPS];
    for (j = 0; j < plan->n_ops; j++)
        if ((st = resolve(plan, &plan->ops[j], consts, arena, &calls[j])) != 0) return st;
    for (i = 0; i < n; i++) {
        for (k = 0; k < plan->n_inputs; k++) {
            const edgert_tensor *t = &plan->tensors[plan->inputs[k]];
            memcpy((char *)arena + t->offset, (const char *)inputs[k] + (size_t)i * t->bytes, t->bytes);
        }
        for (j = 0; j < plan->n_ops; j++)
            if ((st = KERNELS[plan->ops[j].type].run(&calls[j])) != 0) return st;
        for (k = 0; k < plan->n_outputs; k++) {
            const edgert_tensor *t = &plan->tensors[plan->outputs[k]];
            memcpy((char *)outputs[k] + (size_t)i * t->bytes, (const char *)arena + t->offset, t->bytes);
        }
    }
    return EDGERT_OK;
}

int edgert_engine_invoke_batch(const edgert_plan *plan, const void *consts,
                               size_t consts_bytes, void *arena, size_t arena_bytes,
                               const void *const *inputs, int32_t n, void *const *outputs)
{
    int32_t i;
    int st;
    if (n < 0) return EDGERT_ERR_ARG;
    st = check_buffers(plan, consts, consts_bytes, arena, arena_bytes, inputs, outputs);
    if (st) return st;
    if (plan->n_ops > EG_CACHED_OPS || n == 1) {
        for (i = 0; i < n; i++)
            if ((st = run_item(plan, consts, arena, inputs, outputs, (size_t)i)) != 0) return st;
        return EDGERT_OK;
    }
    return run_batch_resolved(plan, consts, arena, inputs, n, outputs);
}
