/* ccgrad vector math: float64 exp and tanh of ccgrad's own on AVX-512, and the logistic helpers
 * built on them.  Pasted after ccgrad_rt.h into every generated source.
 *
 * Why: glibc's 512-bit vector exp gathers from a 1024-entry table (gathers are slow on AMD
 * Zen 4) and its error reaches about 3 ulp; its vector tanh costs three times our exp.
 * ccg_exp reduces x = n ln2/16 + r (|r| <= ln2/32, ln2 in two parts with fma), takes 2^(n/16)
 * from a 16-entry table held in two registers (two-source permutes, no gather; n/16's integer
 * part is added straight into the table entry's exponent bits), and evaluates e^r - 1 with a
 * degree-6 minimax polynomial: about 0.63 ulp, 1.3x faster than libmvec here (1.5x inlined).
 * ccg_tanh computes t = e^(2|x|) - 1 from the same pieces without cancellation, then t / (t + 2)
 * with the sign of x: about 2.0 ulp (glibc's scalar tanh: 2.1, libmvec's: 1.2) and 1.8x faster
 * than libmvec's.
 * Generated 8-lane loops (ccgrad.lower.loops) inline ccg_exp_v8, ccg_tanh_v8 and
 * ccg_sigmoid_v8; loops gcc vectorizes itself call the same code through the vector ABI.
 *
 * Each scalar form (ccg_exp_1, ccg_tanh_1) is lane 0 of the 8-lane form, so a value gets the
 * same bits in a loop's vector body, in its remainder and in a scalar call.
 * The vector forms use gcc vector extensions and a few ia32 builtins rather than <immintrin.h>,
 * whose parsing alone would add ~120 ms to every compile.  Compiling them still costs ~15 ms at
 * -O3, so each is in only when the kernel calls it: lowering defines CCG_WANT_EXP / CCG_WANT_TANH.
 * Elsewhere (other CPUs, other compilers) ccg_exp and ccg_tanh are libm's exp and tanh. */
#ifndef CCGRAD_VMATH_H
#define CCGRAD_VMATH_H

#if (defined(CCG_WANT_EXP) || defined(CCG_WANT_TANH)) && defined(__GNUC__) && !defined(__clang__) \
    && defined(__x86_64__) && defined(__AVX512F__) && defined(__has_builtin)
#if __has_builtin(__builtin_ia32_vfmaddpd512_mask) && __has_builtin(__builtin_ia32_vfnmaddpd512_mask) \
    && __has_builtin(__builtin_ia32_cmppd512_mask) && __has_builtin(__builtin_ia32_minpd512_mask) \
    && __has_builtin(__builtin_ia32_rcp14pd512_mask) && __has_builtin(__builtin_ia32_loadupd512_mask) \
    && __has_builtin(__builtin_ia32_storeupd512_mask)
#define CCG_OWN_VMATH 1
#endif
#endif

#ifdef CCG_OWN_VMATH
typedef double ccg_v8d __attribute__((vector_size(64)));
typedef int64_t ccg_v8i __attribute__((vector_size(64)));
typedef uint64_t ccg_v8u __attribute__((vector_size(64)));
typedef double ccg_v4d __attribute__((vector_size(32)));
typedef double ccg_v2d __attribute__((vector_size(16)));
/* 2^(j/16), j = 0..15: the bits of its nearest double minus j << 48 (adding n << 48 for
 * n = 16 m + j then gives 2^m times that double, m landing in the exponent field), and the
 * relative error of that double (2^(j/16) = double * (1 + tail)). */
static const uint64_t ccg_exp_bits[16] __attribute__((aligned(64))) = {
    0x3ff0000000000000ULL, 0x3fefb5586cf9890fULL, 0x3fef72b83c7d517bULL, 0x3fef387a6e756238ULL,
    0x3fef06fe0a31b715ULL, 0x3feedea64c123422ULL, 0x3feebfdad5362a27ULL, 0x3feeab07dd485429ULL,
    0x3feea09e667f3bcdULL, 0x3feea11473eb0187ULL, 0x3feeace5422aa0dbULL, 0x3feec49182a3f090ULL,
    0x3feee89f995ad3adULL, 0x3fef199bdd85529cULL, 0x3fef5818dcfba487ULL, 0x3fefa4afa2a490daULL};
static const double ccg_exp_tail[16] __attribute__((aligned(64))) = {
    0x0.0p+0, 0x1.79aa65d837b6dp-54, -0x1.01b15eaa59348p-55, 0x1.68efde3a8a894p-54,
    0x1.34d754db0abb6p-55, 0x1.59f48a72a4c6dp-55, 0x1.690cebb7aafb0p-56, 0x1.063e1e21c5409p-54,
    -0x1.3b3efbf5e2228p-54, -0x1.b32dcb94da51dp-56, 0x1.db72fc1f0eab4p-55, 0x1.1affc2b91ce27p-56,
    0x1.c1a7792cb3387p-55, 0x1.36eae30af0cb3p-56, 0x1.4a385a63d07a7p-56, -0x1.ff7128fd391f0p-55};
#define CCG_EXP_INV16 0x1.71547652b82fep+4   /* 16 / ln2 */
#define CCG_EXP_SHIFT 0x1.8p52               /* adding it rounds to an integer in the low bits */
#define CCG_EXP_LN2HI 0x1.62e42fefa39efp-5   /* ln2 / 16 = LN2HI + LN2LO */
#define CCG_EXP_LN2LO 0x1.abc9e3b39803fp-60
/* exp's e^r - 1 - r = r^2 (C2 + C3 r + C4 r^2 + C5 r^3 + C6 r^4) on |r| <= ln2/32 (a little
 * beyond): minimax for the absolute error, 0.05 ulp of 1 (fitted with mpmath; Taylor of this
 * degree is 2 ulp off at the ends). */
#define CCG_EXP_C2 0x1.0000000000005p-1
#define CCG_EXP_C3 0x1.555555548de56p-3
#define CCG_EXP_C4 0x1.555555545ceb3p-5
#define CCG_EXP_C5 0x1.11123be74120cp-7
#define CCG_EXP_C6 0x1.6c185f5f40da1p-10
#define CCG_EXP_LIMIT 708.0                  /* |x| <= this: e^x is a normal double */
#define CCG_TANH_CLAMP 20.0                  /* tanh(20) rounds to 1, and e^40 is finite */

/* Inlined wherever used, also at -O0: the 8-lane loops of generated code call these. */
#define CCG_VINLINE static inline __attribute__((always_inline))
#define CCG_V8(c) ((ccg_v8d){c, c, c, c, c, c, c, c})
#define CCG_FMA8(a, b, c) __builtin_ia32_vfmaddpd512_mask((a), (b), (c), (unsigned char)-1, 4)
#define CCG_FNMA8(a, b, c) __builtin_ia32_vfnmaddpd512_mask((a), (b), (c), (unsigned char)-1, 4)
/* 8 lanes from or to p, where k > 0 elements are left: with k < 8 (a loop's last vector) only
 * the first k, masked, so memory past them is never touched (the other lanes read as 0). */
CCG_VINLINE ccg_v8d ccg_load_v8(const double *p, int64_t k) {
    ccg_v8d v;
    if (CCG_LIKELY(k >= 8)) memcpy(&v, p, sizeof v);
    else v = __builtin_ia32_loadupd512_mask(p, CCG_V8(0.0), (unsigned char)((1u << k) - 1));
    return v;
}
CCG_VINLINE void ccg_store_v8(double *p, ccg_v8d v, int64_t k) {
    if (CCG_LIKELY(k >= 8)) memcpy(p, &v, sizeof v);
    else __builtin_ia32_storeupd512_mask(p, v, (unsigned char)((1u << k) - 1));
}
/* |x| > 708, inf or NaN in some lane (predicate 22: not-less-equal, quiet, true for NaN) */
CCG_VINLINE int ccg_exp_edge_8(ccg_v8d x, double limit) {
    ccg_v8d ax = (ccg_v8d)((ccg_v8u)x & 0x7fffffffffffffffULL);
    return __builtin_ia32_cmppd512_mask(ax, CCG_V8(limit), 22, (unsigned char)-1, 4) != 0;
}
/* x = n ln2/16 + r, 8 lanes, for |x| <= 708 (ln2/16 in two parts): returns s = 2^(n/16)
 * rounded and sets r and the table's tail, so e^x = s (1 + tail) e^r.  The table lookups are
 * two-source permutes: the low 4 bits of each lane's n pick one of 16 entries held in two
 * registers (no gather). */
CCG_VINLINE ccg_v8d ccg_exp_reduce_8(ccg_v8d x, ccg_v8d *r, ccg_v8d *tail) {
    ccg_v8u b0, b1;
    ccg_v8d t0, t1;
    memcpy(&b0, ccg_exp_bits, 64);
    memcpy(&b1, ccg_exp_bits + 8, 64);
    memcpy(&t0, ccg_exp_tail, 64);
    memcpy(&t1, ccg_exp_tail + 8, 64);
    ccg_v8d k = CCG_FMA8(x, CCG_V8(CCG_EXP_INV16), CCG_V8(CCG_EXP_SHIFT));
    ccg_v8d n = k - CCG_EXP_SHIFT;
    *r = CCG_FNMA8(n, CCG_V8(CCG_EXP_LN2LO), CCG_FNMA8(n, CCG_V8(CCG_EXP_LN2HI), x));
    ccg_v8i ki = (ccg_v8i)k;
    *tail = __builtin_shuffle(t0, t1, ki);
    return (ccg_v8d)(__builtin_shuffle(b0, b1, ki) + ((ccg_v8u)ki << 48));
}

/* Given F_8, define F_1 (scalar: lane 0, so scalar and vector calls give the same bits) and
 * F_2/F_4 (2 and 4 lanes, widened to 8), and bind the scalar and vector-ABI names gcc calls for
 * the `simd` function F to them. */
#define CCG_SIMD_FORMS(F)                                                                     \
    __attribute__((used)) static double F##_1(double x) { return F##_8(CCG_V8(x))[0]; }     \
    __attribute__((used)) static ccg_v4d F##_4(ccg_v4d x) {                                   \
        ccg_v8d y = F##_8((ccg_v8d){x[0], x[1], x[2], x[3], 0, 0, 0, 0});                    \
        return (ccg_v4d){y[0], y[1], y[2], y[3]};                                             \
    }                                                                                         \
    __attribute__((used)) static ccg_v2d F##_2(ccg_v2d x) {                                   \
        ccg_v8d y = F##_8((ccg_v8d){x[0], x[1], 0, 0, 0, 0, 0, 0});                           \
        return (ccg_v2d){y[0], y[1]};                                                         \
    }                                                                                         \
    __asm__(".set " #F ", " #F "_1\n\t.set _ZGVbN2v_" #F ", " #F "_2\n\t"                     \
            ".set _ZGVcN4v_" #F ", " #F "_4\n\t.set _ZGVdN4v_" #F ", " #F "_4\n\t"            \
            ".set _ZGVeN8v_" #F ", " #F "_8");
#endif /* CCG_OWN_VMATH */

/* ---- exp ------------------------------------------------------------------------------------
 * |x| > 708 (results near or past the double range), inf and NaN go to libm's exp. */
#if defined(CCG_OWN_VMATH) && defined(CCG_WANT_EXP)
/* Declared, never defined in C: gcc calls the vector forms by their vector-ABI names, which
 * CCG_SIMD_FORMS binds to the functions below. */
__attribute__((simd("notinbranch"), const, visibility("hidden"))) extern double ccg_exp(double);

__attribute__((noinline, cold, optimize("O1"))) static ccg_v8d ccg_exp_8_edges(ccg_v8d x, ccg_v8d y) {
    for (int i = 0; i < 8; i++)
        if (!(fabs(x[i]) <= CCG_EXP_LIMIT)) y[i] = exp(x[i]);
    return y;
}

/* ccg_exp_v8 is inlined into generated 8-lane loops; ccg_exp_8 is the same code out of line,
 * behind the vector-ABI names gcc calls from the loops it vectorizes. */
CCG_VINLINE ccg_v8d ccg_exp_v8(ccg_v8d x) {
    ccg_v8d r, tail, s = ccg_exp_reduce_8(x, &r, &tail);
    ccg_v8d q = CCG_FMA8(r, CCG_V8(CCG_EXP_C6), CCG_V8(CCG_EXP_C5));
    q = CCG_FMA8(q, r, CCG_V8(CCG_EXP_C4));
    q = CCG_FMA8(q, r, CCG_V8(CCG_EXP_C3));
    q = CCG_FMA8(q, r, CCG_V8(CCG_EXP_C2));
    /* e^x = s + s (tail + r + r^2 q) */
    ccg_v8d y = CCG_FMA8(s, CCG_FMA8(q, r * r, r + tail), s);
    if (CCG_UNLIKELY(ccg_exp_edge_8(x, CCG_EXP_LIMIT)))
        y = ccg_exp_8_edges(x, y);
    return y;
}
__attribute__((used, noinline)) static ccg_v8d ccg_exp_8(ccg_v8d x) { return ccg_exp_v8(x); }
/* sigmoid on 8 lanes: the same operations as ccg_sigmoid_f64 below, lane by lane */
CCG_VINLINE ccg_v8d ccg_sigmoid_v8(ccg_v8d x) { return 1.0 / (1.0 + ccg_exp_v8(-x)); }

CCG_SIMD_FORMS(ccg_exp)
#else
#define ccg_exp exp
#endif

/* ---- tanh -----------------------------------------------------------------------------------
 * tanh|x| = t / (t + 2) with t = e^(2a) - 1, a = min(|x|, 20) (NaN stays NaN).  t is
 * s (1 + tail) e^r - 1 = (s - 1) + s tail + s (e^r - 1), where s = 2^(n/16) rounded (n >= 0)
 * and s - 1 is exact, so small arguments keep their relative accuracy (tanh x ~ x).  The
 * quotient q = t / d, d = t + 2 rounded, is then corrected by its residual
 * t - q (t + 2) = fma(-q, d, t) - q e, with e = t - (d - 2) the rounding error of d, divided by
 * d through the 14-bit reciprocal estimate (the correction is a few units in the last place, so
 * 14 bits are plenty): this takes the error from ~2.9 ulp to ~2.0 (measured; glibc's scalar
 * tanh ~2.1, libmvec's 8-wide tanh ~1.2), what is left being t's own error.  No branch:
 * nothing leaves the range. */
#if defined(CCG_OWN_VMATH) && defined(CCG_WANT_TANH)
__attribute__((simd("notinbranch"), const, visibility("hidden"))) extern double ccg_tanh(double);

CCG_VINLINE ccg_v8d ccg_tanh_v8(ccg_v8d x) {
    ccg_v8u sign = (ccg_v8u)x & 0x8000000000000000ULL;
    ccg_v8d a = (ccg_v8d)((ccg_v8u)x ^ sign);
    /* min(20, a) returns its second operand when either is NaN: NaN propagates */
    a = __builtin_ia32_minpd512_mask(CCG_V8(CCG_TANH_CLAMP), a, CCG_V8(0.0), (unsigned char)-1, 4);
    ccg_v8d r, tail, s = ccg_exp_reduce_8(a + a, &r, &tail);
    /* e^r - 1 by Taylor to degree 7: unlike exp's polynomial, its error vanishes with r, which
     * small arguments need (tanh x ~ x to full relative precision) */
    ccg_v8d u = CCG_FMA8(r, CCG_V8(1.0 / 5040), CCG_V8(1.0 / 720));
    u = CCG_FMA8(u, r, CCG_V8(1.0 / 120));
    u = CCG_FMA8(u, r, CCG_V8(1.0 / 24));
    u = CCG_FMA8(u, r, CCG_V8(1.0 / 6));
    u = CCG_FMA8(u, r, CCG_V8(0.5));
    ccg_v8d t = CCG_FMA8(s, CCG_FMA8(u, r * r, r), CCG_FMA8(s, tail, s - 1.0));
    ccg_v8d d = t + 2.0;
    ccg_v8d q = t / d;
    ccg_v8d e = t - (d - 2.0);
    ccg_v8d res = CCG_FNMA8(q, e, CCG_FNMA8(q, d, t));
    ccg_v8d rd = __builtin_ia32_rcp14pd512_mask(d, CCG_V8(0.0), (unsigned char)-1);
    ccg_v8d y = CCG_FMA8(res, rd, q);
    return (ccg_v8d)((ccg_v8u)y | sign);
}

__attribute__((used, noinline)) static ccg_v8d ccg_tanh_8(ccg_v8d x) { return ccg_tanh_v8(x); }

CCG_SIMD_FORMS(ccg_tanh)
#else
#define ccg_tanh tanh
#endif

/* ---- stable logistic functions --------------------------------------------------------------
 * sigmoid(x) = 1 / (1 + exp(-x)).  When exp(-x) overflows to inf the result is the exact limit
 * 0 (never NaN), so no branch is needed and the loop vectorizes with one division. */
CCG_INLINE double ccg_sigmoid_f64(double x) { return 1.0 / (1.0 + ccg_exp(-x)); }
CCG_INLINE float ccg_sigmoid_f32(float x) { return 1.0f / (1.0f + expf(-x)); }
/* softplus(x) = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)). */
CCG_INLINE double ccg_softplus_f64(double x) { return (x > 0 ? x : 0.0) + log1p(ccg_exp(-fabs(x))); }
CCG_INLINE float ccg_softplus_f32(float x) { return (x > 0 ? x : 0.0f) + log1pf(expf(-fabsf(x))); }

#endif /* CCGRAD_VMATH_H */
