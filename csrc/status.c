/* Status strings and the version stamp of the C core. */
#include "edgert.h"

#ifndef EDGERT_VERSION_STRING
#error "EDGERT_VERSION_STRING must be defined by the build (edgert/_build.py or csrc/Makefile)"
#endif

const char *edgert_version(void) { return EDGERT_VERSION_STRING; }

const char *edgert_strerror(int status)
{
    switch (status) {
    case EDGERT_OK: return "ok";
    case EDGERT_ERR_NULL: return "a required pointer argument is NULL";
    case EDGERT_ERR_ARG: return "an argument is out of range";
    case EDGERT_ERR_PARAM: return "invalid configuration";
    case EDGERT_ERR_NONFINITE: return "input contains NaN or infinity";
    case EDGERT_ERR_SCRATCH: return "scratch buffer too small";
    case EDGERT_ERR_OUTPUT: return "output buffer too small";
    case EDGERT_ERR_SHAPE: return "tensor shapes do not agree";
    case EDGERT_ERR_UNSUPPORTED: return "unsupported type, operator or option";
    case EDGERT_ERR_TOO_SHORT: return "signal too short for this configuration";
    case EDGERT_ERR_MASKED_ALL: return "Cutoff frequency masked all FFT bins";
    case EDGERT_ERR_OVERFLOW: return "size computation overflows";
    case EDGERT_ERR_MODEL: return "inconsistent compiled model plan";
    case EDGERT_ERR_INTERNAL: return "internal error";
    default: return "unknown status code";
    }
}
