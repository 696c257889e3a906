/* TEMPORARY placeholder so the extension links while the spectral family is written in
 * parallel: every entry point reports EDGERT_ERR_UNSUPPORTED. Deleted by the spectral work. */
#include "edgert.h"

int edgert_spectral_check(const edgert_spectral_params *p, int32_t n_samples, int32_t n_axes,
                          int32_t *n_features)
{ (void)p; (void)n_samples; (void)n_axes; (void)n_features; return EDGERT_ERR_UNSUPPORTED; }
int edgert_spectral_scratch_size(const edgert_spectral_params *p, int32_t n_samples,
                                 int32_t n_axes, size_t *bytes)
{ (void)p; (void)n_samples; (void)n_axes; (void)bytes; return EDGERT_ERR_UNSUPPORTED; }
int edgert_spectral_features_batch(const edgert_spectral_params *p, const float *data,
                                   int32_t n_rows, int32_t row_stride, const int32_t *axes,
                                   int32_t n_axes, const int32_t *starts, int32_t n_windows,
                                   int32_t n_samples, float *out, int32_t out_stride,
                                   void *scratch, size_t scratch_bytes)
{
    (void)p; (void)data; (void)n_rows; (void)row_stride; (void)axes; (void)n_axes;
    (void)starts; (void)n_windows; (void)n_samples; (void)out; (void)out_stride;
    (void)scratch; (void)scratch_bytes;
    return EDGERT_ERR_UNSUPPORTED;
}
int edgert_wavelet_index(const char *name) { (void)name; return EDGERT_ERR_UNSUPPORTED; }
int edgert_rfft_scratch_size(int32_t n, size_t *bytes)
{ (void)n; (void)bytes; return EDGERT_ERR_UNSUPPORTED; }
int edgert_rfft(const float *in, int32_t n, float *out_re, float *out_im, void *scratch,
                size_t scratch_bytes)
{ (void)in; (void)n; (void)out_re; (void)out_im; (void)scratch; (void)scratch_bytes;
  return EDGERT_ERR_UNSUPPORTED; }
int edgert_sosfilt(const float *sos, int32_t n_sections, const float *in, float *out,
                   int32_t n, float *zi)
{ (void)sos; (void)n_sections; (void)in; (void)out; (void)n; (void)zi;
  return EDGERT_ERR_UNSUPPORTED; }
int edgert_raw_features_batch(const edgert_raw_params *p, const float *data, int32_t n_rows,
                              int32_t row_stride, const int32_t *axes, int32_t n_axes,
                              const int32_t *starts, int32_t n_windows, int32_t n_samples,
                              float *out, int32_t out_stride)
{
    (void)p; (void)data; (void)n_rows; (void)row_stride; (void)axes; (void)n_axes;
    (void)starts; (void)n_windows; (void)n_samples; (void)out; (void)out_stride;
    return EDGERT_ERR_UNSUPPORTED;
}
int edgert_flatten_check(const edgert_flatten_params *p, int32_t n_axes, int32_t *n_features)
{ (void)p; (void)n_axes; (void)n_features; return EDGERT_ERR_UNSUPPORTED; }
int edgert_flatten_features_batch(const edgert_flatten_params *p, const float *data,
                                  int32_t n_rows, int32_t row_stride, const int32_t *axes,
                                  int32_t n_axes, const int32_t *starts, int32_t n_windows,
                                  int32_t n_samples, float *out, int32_t out_stride)
{
    (void)p; (void)data; (void)n_rows; (void)row_stride; (void)axes; (void)n_axes;
    (void)starts; (void)n_windows; (void)n_samples; (void)out; (void)out_stride;
    return EDGERT_ERR_UNSUPPORTED;
}
