/*
 * edgert_config.h - what a build of the core contains (internal, not in the cdef).
 *
 * The host build contains everything (every EDGERT_WITH_* defaults to 1). A firmware build
 * for one impulse leaves out the paths the impulse never takes, the way an op resolver does
 * for an interpreter, but at compile time: define EDGERT_CONFIG_FILE as a header (e.g.
 * -DEDGERT_CONFIG_FILE=\"impulse_config.h\") that sets some EDGERT_WITH_* to 0, or pass
 * -DEDGERT_WITH_...=0 directly. A configuration or model that needs a removed part is refused
 * with EDGERT_ERR_UNSUPPORTED ("a type/op/option this build does not implement") - never
 * run wrongly. `edgert export-c` writes such a header for an impulse
 * (edgert/mcu/config.py).
 */
#ifndef EDGERT_CONFIG_H
#define EDGERT_CONFIG_H

#ifdef EDGERT_CONFIG_FILE
#include EDGERT_CONFIG_FILE
#endif

/* ---- DSP block types of the impulse plan (impulse.c; the batch kernels stay callable) ---- */
#ifndef EDGERT_WITH_DSP_SPECTRAL       /* spectral-analysis blocks (spectral.c, fft.c, ...) */
#define EDGERT_WITH_DSP_SPECTRAL 1
#endif
#ifndef EDGERT_WITH_DSP_RAW            /* raw blocks (flatten.c's edgert_raw_features_batch) */
#define EDGERT_WITH_DSP_RAW 1
#endif
#ifndef EDGERT_WITH_DSP_FLATTEN        /* flatten blocks (flatten.c) */
#define EDGERT_WITH_DSP_FLATTEN 1
#endif
#ifndef EDGERT_WITH_DSP_AUDIO          /* MFCC, MFE and spectrogram blocks (audio.c, fft.c) */
#define EDGERT_WITH_DSP_AUDIO 1
#endif

/* ---- spectral analysis (spectral.c) ---- */
#ifndef EDGERT_WITH_SPECTRAL_V1        /* implementation version 1 (spectral_v1.c) */
#define EDGERT_WITH_SPECTRAL_V1 1
#endif
#ifndef EDGERT_WITH_WAVELET            /* the wavelet analysis of versions 3-4 (wavelet.c) */
#define EDGERT_WITH_WAVELET 1
#endif
#ifndef EDGERT_WITH_SPECTRAL_FILTERS   /* Butterworth filters (all versions) and the v4 input
                                        * decimation / extra-low-frequency Chebyshev stages:
                                        * their designs are double precision (filter.c) */
#define EDGERT_WITH_SPECTRAL_FILTERS 1
#endif

/* ---- engine operator families (engine.c's kernel table) ---- */
#ifndef EDGERT_WITH_OP_FC              /* FULLY_CONNECTED */
#define EDGERT_WITH_OP_FC 1
#endif
#ifndef EDGERT_WITH_OP_CONV            /* CONV_2D, DEPTHWISE_CONV_2D */
#define EDGERT_WITH_OP_CONV 1
#endif
#ifndef EDGERT_WITH_OP_POOL            /* MAX_POOL_2D, AVERAGE_POOL_2D */
#define EDGERT_WITH_OP_POOL 1
#endif
#ifndef EDGERT_WITH_OP_SOFTMAX         /* SOFTMAX */
#define EDGERT_WITH_OP_SOFTMAX 1
#endif
#ifndef EDGERT_WITH_OP_UNARY           /* LOGISTIC, TANH, RELU, RELU6, QUANTIZE, DEQUANTIZE,
                                        * REQUANTIZE */
#define EDGERT_WITH_OP_UNARY 1
#endif
#ifndef EDGERT_WITH_OP_BINARY          /* ADD, MUL */
#define EDGERT_WITH_OP_BINARY 1
#endif
#ifndef EDGERT_WITH_OP_MEAN            /* MEAN */
#define EDGERT_WITH_OP_MEAN 1
#endif
#ifndef EDGERT_WITH_OP_SHAPE           /* COPY (reshape), PAD, CONCATENATION, STRIDED_SLICE */
#define EDGERT_WITH_OP_SHAPE 1
#endif

#endif
