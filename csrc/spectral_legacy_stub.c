/* TEMPORARY (dsp-fft branch only): placeholders for the functions of spectral_v1.c and
 * wavelet.c, which the dsp-legacy branch implements against csrc/spectral_internal.h.
 * Everything here reports EDGERT_ERR_UNSUPPORTED; this file is deleted when dsp-legacy is
 * merged. edgert_wavelet_index("db4") < 0 tells tests to skip v1/wavelet cases meanwhile. */
#include "edgert.h"
#include "spectral_internal.h"

int32_t edgert__v1_features_per_axis(const edgert_spectral_params *p)
{ (void)p; return EDGERT_ERR_UNSUPPORTED; }
size_t edgert__v1_scratch_floats(const edgert_spectral_params *p, int32_t n)
{ (void)p; (void)n; return 0; }
int edgert__v1_axis(const edgert_spectral_params *p, const float *x, int32_t n, float *out,
                    float *scratch)
{ (void)p; (void)x; (void)n; (void)out; (void)scratch; return EDGERT_ERR_UNSUPPORTED; }
int edgert__wavelet_check(const edgert_spectral_params *p, int32_t n)
{ (void)p; (void)n; return EDGERT_ERR_UNSUPPORTED; }
int32_t edgert__wavelet_features_per_axis(const edgert_spectral_params *p)
{ (void)p; return EDGERT_ERR_UNSUPPORTED; }
size_t edgert__wavelet_scratch_floats(const edgert_spectral_params *p, int32_t n)
{ (void)p; (void)n; return 0; }
int edgert__wavelet_axis(const edgert_spectral_params *p, const float *y, int32_t n,
                         float *out, float *scratch)
{ (void)p; (void)y; (void)n; (void)out; (void)scratch; return EDGERT_ERR_UNSUPPORTED; }
int edgert_wavelet_index(const char *name) { (void)name; return EDGERT_ERR_UNSUPPORTED; }
