/*
 * fft_lanes.h - template (included by fft.c only) for the complex split-radix FFT stages run
 * on LANES frames at once: lane f of every vector is frame f, and the arithmetic per lane is
 * exactly the single-frame cfft_split's, in the same order (no fused multiply-add), so every
 * SIMD path gives bit-identical spectra. Instantiated for SSE2 (2 lanes) and AVX2 (4 lanes).
 *
 * Two functions per instance: FFTL_NAME, the complex FFT stages (requires m >= 4, m = n/2
 * complex points, a power of two), and FFTL_POWER_NAME, the real-FFT split of its result into
 * the power of bins 0..m folded into the lane-wise maxima lmax (LANES doubles per bin).
 *
 * Define before including: FFTL_NAME, FFTL_POWER_NAME, FFTL_ATTR (function attributes, may be
 * empty), FFTL_LANES, FFTL_V (vector type), FFTL_LD/FFTL_ST (load/store), FFTL_ADD, FFTL_SUB,
 * FFTL_MUL, FFTL_MAX, FFTL_SET1, FFTL_ZERO. The macros are undefined at the end.
 */
FFTL_ATTR static void FFTL_NAME(const edgert__rfft_plan *plan, double *re, double *im, int32_t m)
{
    const double *st = plan->tw + 2 * m;
    int32_t i, j, h;
    const int32_t L = FFTL_LANES;
    for (i = 0; i < m; i += 4) { /* first stage: radix 4 */
        double *r = re + L * i, *q = im + L * i;
        FFTL_V a0r = FFTL_LD(r), a0i = FFTL_LD(q);
        FFTL_V a1r = FFTL_LD(r + L), a1i = FFTL_LD(q + L);
        FFTL_V a2r = FFTL_LD(r + 2 * L), a2i = FFTL_LD(q + 2 * L);
        FFTL_V a3r = FFTL_LD(r + 3 * L), a3i = FFTL_LD(q + 3 * L);
        FFTL_V s0r = FFTL_ADD(a0r, a1r), s0i = FFTL_ADD(a0i, a1i);
        FFTL_V d0r = FFTL_SUB(a0r, a1r), d0i = FFTL_SUB(a0i, a1i);
        FFTL_V s1r = FFTL_ADD(a2r, a3r), s1i = FFTL_ADD(a2i, a3i);
        FFTL_V d1r = FFTL_SUB(a2r, a3r), d1i = FFTL_SUB(a2i, a3i);
        FFTL_ST(r, FFTL_ADD(s0r, s1r));
        FFTL_ST(q, FFTL_ADD(s0i, s1i));
        FFTL_ST(r + 2 * L, FFTL_SUB(s0r, s1r));
        FFTL_ST(q + 2 * L, FFTL_SUB(s0i, s1i));
        FFTL_ST(r + L, FFTL_ADD(d0r, d1i));
        FFTL_ST(q + L, FFTL_SUB(d0i, d1r));
        FFTL_ST(r + 3 * L, FFTL_SUB(d0r, d1i));
        FFTL_ST(q + 3 * L, FFTL_ADD(d0i, d1r));
    }
    /* stages h = 4, 8, ..., m/2; two at a time (radix-2^2) while possible */
    h = 4;
    while (h < m) {
        const double *w1r = st + 2 * (h - 4), *w1i = w1r + h;
        if (2 * h < m) {
            const double *w2r = st + 2 * (2 * h - 4), *w2i = w2r + 2 * h;
            for (i = 0; i < m; i += 4 * h) {
                double *r0 = re + L * i, *i0 = im + L * i;
                double *r1 = r0 + L * h, *i1 = i0 + L * h;
                double *r2 = r1 + L * h, *i2 = i1 + L * h;
                double *r3 = r2 + L * h, *i3 = i2 + L * h;
                for (j = 0; j < h; j++) {
                    FFTL_V ur = FFTL_SET1(w1r[j]), ui = FFTL_SET1(w1i[j]);
                    FFTL_V vr = FFTL_SET1(w2r[j]), vi = FFTL_SET1(w2i[j]);
                    FFTL_V br = FFTL_LD(r1 + L * j), bi = FFTL_LD(i1 + L * j);
                    FFTL_V dr = FFTL_LD(r3 + L * j), di = FFTL_LD(i3 + L * j);
                    FFTL_V tbr = FFTL_SUB(FFTL_MUL(ur, br), FFTL_MUL(ui, bi));
                    FFTL_V tbi = FFTL_ADD(FFTL_MUL(ur, bi), FFTL_MUL(ui, br));
                    FFTL_V tdr = FFTL_SUB(FFTL_MUL(ur, dr), FFTL_MUL(ui, di));
                    FFTL_V tdi = FFTL_ADD(FFTL_MUL(ur, di), FFTL_MUL(ui, dr));
                    FFTL_V ar = FFTL_LD(r0 + L * j), ai = FFTL_LD(i0 + L * j);
                    FFTL_V cr = FFTL_LD(r2 + L * j), ci = FFTL_LD(i2 + L * j);
                    FFTL_V a1r = FFTL_ADD(ar, tbr), a1i = FFTL_ADD(ai, tbi);
                    FFTL_V b1r = FFTL_SUB(ar, tbr), b1i = FFTL_SUB(ai, tbi);
                    FFTL_V c1r = FFTL_ADD(cr, tdr), c1i = FFTL_ADD(ci, tdi);
                    FFTL_V d1r = FFTL_SUB(cr, tdr), d1i = FFTL_SUB(ci, tdi);
                    FFTL_V tcr = FFTL_SUB(FFTL_MUL(vr, c1r), FFTL_MUL(vi, c1i));
                    FFTL_V tci = FFTL_ADD(FFTL_MUL(vr, c1i), FFTL_MUL(vi, c1r));
                    FFTL_V sdr = FFTL_SUB(FFTL_MUL(vr, d1r), FFTL_MUL(vi, d1i));
                    FFTL_V sdi = FFTL_ADD(FFTL_MUL(vr, d1i), FFTL_MUL(vi, d1r));
                    FFTL_ST(r0 + L * j, FFTL_ADD(a1r, tcr));
                    FFTL_ST(i0 + L * j, FFTL_ADD(a1i, tci));
                    FFTL_ST(r2 + L * j, FFTL_SUB(a1r, tcr));
                    FFTL_ST(i2 + L * j, FFTL_SUB(a1i, tci));
                    /* (b1, d1) with -i*w2: -i*(sdr + i sdi) = sdi - i sdr */
                    FFTL_ST(r1 + L * j, FFTL_ADD(b1r, sdi));
                    FFTL_ST(i1 + L * j, FFTL_SUB(b1i, sdr));
                    FFTL_ST(r3 + L * j, FFTL_SUB(b1r, sdi));
                    FFTL_ST(i3 + L * j, FFTL_ADD(b1i, sdr));
                }
            }
            h *= 4;
        } else {
            for (i = 0; i < m; i += 2 * h) {
                double *ar = re + L * i, *ai = im + L * i;
                double *br = re + L * (i + h), *bi = im + L * (i + h);
                for (j = 0; j < h; j++) {
                    FFTL_V w_r = FFTL_SET1(w1r[j]), w_i = FFTL_SET1(w1i[j]);
                    FFTL_V b_r = FFTL_LD(br + L * j), b_i = FFTL_LD(bi + L * j);
                    FFTL_V x_r = FFTL_LD(ar + L * j), x_i = FFTL_LD(ai + L * j);
                    FFTL_V tr = FFTL_SUB(FFTL_MUL(w_r, b_r), FFTL_MUL(w_i, b_i));
                    FFTL_V ti = FFTL_ADD(FFTL_MUL(w_r, b_i), FFTL_MUL(w_i, b_r));
                    FFTL_ST(br + L * j, FFTL_SUB(x_r, tr));
                    FFTL_ST(bi + L * j, FFTL_SUB(x_i, ti));
                    FFTL_ST(ar + L * j, FFTL_ADD(x_r, tr));
                    FFTL_ST(ai + L * j, FFTL_ADD(x_i, ti));
                }
            }
            h *= 2;
        }
    }
}

FFTL_ATTR static void FFTL_POWER_NAME(const edgert__rfft_plan *plan, const double *re,
                                      const double *im, int32_t m, double scale, double *lmax)
{
    const int32_t L = FFTL_LANES;
    const double *twc = plan->tw, *tws = plan->tw + m;
    FFTL_V sc = FFTL_SET1(scale), half = FFTL_SET1(0.5), v;
    FFTL_V z0r = FFTL_LD(re), z0i = FFTL_LD(im);
    int32_t k;
    v = FFTL_ADD(z0r, z0i);
    FFTL_ST(lmax, FFTL_MAX(FFTL_LD(lmax), FFTL_MUL(FFTL_MUL(v, v), sc)));
    v = FFTL_SUB(z0r, z0i);
    FFTL_ST(lmax + L * m, FFTL_MAX(FFTL_LD(lmax + L * m), FFTL_MUL(FFTL_MUL(v, v), sc)));
    for (k = 1; k <= m / 2; k++) {
        int32_t c = m - k;
        FFTL_V ar = FFTL_LD(re + L * k), ai = FFTL_LD(im + L * k);
        FFTL_V br = FFTL_LD(re + L * c), bi = FFTL_LD(im + L * c);
        FFTL_V er = FFTL_MUL(half, FFTL_ADD(ar, br));
        FFTL_V ei = FFTL_MUL(half, FFTL_SUB(ai, bi));
        FFTL_V or_ = FFTL_MUL(half, FFTL_ADD(ai, bi));
        FFTL_V oi = FFTL_SUB(FFTL_ZERO(), FFTL_MUL(half, FFTL_SUB(ar, br)));
        FFTL_V wr = FFTL_SET1(twc[k]), wi = FFTL_SET1(tws[k]);
        FFTL_V pr = FFTL_SUB(FFTL_MUL(wr, or_), FFTL_MUL(wi, oi));
        FFTL_V pi = FFTL_ADD(FFTL_MUL(wr, oi), FFTL_MUL(wi, or_));
        FFTL_V xr = FFTL_ADD(er, pr), xi = FFTL_ADD(ei, pi);
        FFTL_V yr = FFTL_SUB(er, pr), yi = FFTL_SUB(ei, pi);
        FFTL_V p1 = FFTL_MUL(FFTL_ADD(FFTL_MUL(xr, xr), FFTL_MUL(xi, xi)), sc);
        FFTL_V p2 = FFTL_MUL(FFTL_ADD(FFTL_MUL(yr, yr), FFTL_MUL(yi, yi)), sc);
        FFTL_ST(lmax + L * k, FFTL_MAX(FFTL_LD(lmax + L * k), p1));
        FFTL_ST(lmax + L * c, FFTL_MAX(FFTL_LD(lmax + L * c), p2));
    }
}

#undef FFTL_NAME
#undef FFTL_ATTR
#undef FFTL_LANES
#undef FFTL_V
#undef FFTL_LD
#undef FFTL_ST
#undef FFTL_ADD
#undef FFTL_SUB
#undef FFTL_MUL
#undef FFTL_SET1
#undef FFTL_POWER_NAME
#undef FFTL_MAX
#undef FFTL_ZERO
