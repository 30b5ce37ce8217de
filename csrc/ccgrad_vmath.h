/* ccgrad vector math: float64 exp and tanh of ccgrad's own on AVX-512, and the logistic helpers
 * built on them.  Pasted after ccgrad_rt.h into every generated source.
 *
 * Why: glibc's 512-bit vector exp gathers from a 1024-entry table (gathers are slow on AMD
 * Zen 4) and its error reaches about 3 ulp; its vector tanh costs three times our exp.
 * ccg_exp reduces x = n ln2/16 + r (|r| <= ln2/32, ln2 in two parts with fma), takes 2^(j/16)
 * (hi + lo parts) from a 16-entry table held in two registers (one two-source permute, no
 * gather), evaluates e^r - 1 with the degree-7 Taylor polynomial and adds n/16 to the exponent
 * bits: about 0.55 ulp, 1.3x faster than libmvec here.
 * ccg_tanh computes t = e^(2|x|) - 1 from the same pieces without cancellation (2^m hi - 1 is
 * exact), then t / (t + 2) with the sign of x: about 2.2 ulp (glibc's scalar tanh: 2.1,
 * libmvec's: 1.2) and 1.7x faster than libmvec's.
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
    && __has_builtin(__builtin_ia32_rcp14pd512_mask)
#define CCG_OWN_VMATH 1
#endif
#endif

#ifdef CCG_OWN_VMATH
typedef double ccg_v8d __attribute__((vector_size(64)));
typedef int64_t ccg_v8i __attribute__((vector_size(64)));
typedef uint64_t ccg_v8u __attribute__((vector_size(64)));
typedef double ccg_v4d __attribute__((vector_size(32)));
typedef double ccg_v2d __attribute__((vector_size(16)));
/* 2^(j/16) = hi + lo, hi rounded to nearest, for j = 0..15 */
static const double ccg_exp_hi[16] __attribute__((aligned(64))) = {
    0x1.0000000000000p+0, 0x1.0b5586cf9890fp+0, 0x1.172b83c7d517bp+0, 0x1.2387a6e756238p+0,
    0x1.306fe0a31b715p+0, 0x1.3dea64c123422p+0, 0x1.4bfdad5362a27p+0, 0x1.5ab07dd485429p+0,
    0x1.6a09e667f3bcdp+0, 0x1.7a11473eb0187p+0, 0x1.8ace5422aa0dbp+0, 0x1.9c49182a3f090p+0,
    0x1.ae89f995ad3adp+0, 0x1.c199bdd85529cp+0, 0x1.d5818dcfba487p+0, 0x1.ea4afa2a490dap+0};
static const double ccg_exp_lo[16] __attribute__((aligned(64))) = {
    0x0.0p+0, 0x1.8a62e4adc610bp-54, -0x1.19041b9d78a76p-55, 0x1.9b07eb6c70573p-54,
    0x1.6f46ad23182e4p-55, 0x1.ada0911f09ebcp-55, 0x1.d4397afec42e2p-56, 0x1.6324c054647adp-54,
    -0x1.bdd3413b26456p-54, -0x1.41577ee04992fp-55, 0x1.6e9f156864b27p-54, 0x1.c7c46b071f2bep-56,
    0x1.7a1cd345dcc81p-54, 0x1.11065895048ddp-55, 0x1.2ed02d75b3707p-55, -0x1.e9c23179c2893p-54};
#define CCG_EXP_INV16 0x1.71547652b82fep+4   /* 16 / ln2 */
#define CCG_EXP_SHIFT 0x1.8p52               /* adding it rounds to an integer in the low bits */
#define CCG_EXP_LN2HI 0x1.62e42fefa39efp-5   /* ln2 / 16 = LN2HI + LN2LO */
#define CCG_EXP_LN2LO 0x1.abc9e3b39803fp-60
#define CCG_EXP_LIMIT 708.0                  /* |x| <= this: e^x is a normal double */
#define CCG_TANH_CLAMP 20.0                  /* tanh(20) rounds to 1, and e^40 is finite */

#define CCG_V8(c) ((ccg_v8d){c, c, c, c, c, c, c, c})
#define CCG_FMA8(a, b, c) __builtin_ia32_vfmaddpd512_mask((a), (b), (c), (unsigned char)-1, 4)
#define CCG_FNMA8(a, b, c) __builtin_ia32_vfnmaddpd512_mask((a), (b), (c), (unsigned char)-1, 4)
/* e^x = 2^(n/16) (hi + lo) (1 + p), 8 lanes: returns the integer n in the low bits of each
 * lane (the table index j = n mod 16 in its low 4 bits), and hi, lo and p.  The table lookup is
 * a two-source permute: the low 4 bits of each index pick one of 16 entries held in two
 * registers. */
CCG_INLINE ccg_v8i ccg_exp_parts_8(ccg_v8d x, ccg_v8d *hi, ccg_v8d *lo, ccg_v8d *p) {
    ccg_v8d hi0, hi1, lo0, lo1;
    memcpy(&hi0, ccg_exp_hi, 64);
    memcpy(&hi1, ccg_exp_hi + 8, 64);
    memcpy(&lo0, ccg_exp_lo, 64);
    memcpy(&lo1, ccg_exp_lo + 8, 64);
    ccg_v8d k = CCG_FMA8(x, CCG_V8(CCG_EXP_INV16), CCG_V8(CCG_EXP_SHIFT));
    ccg_v8d n = k - CCG_EXP_SHIFT;
    ccg_v8d r = CCG_FNMA8(n, CCG_V8(CCG_EXP_LN2HI), x);
    r = CCG_FNMA8(n, CCG_V8(CCG_EXP_LN2LO), r);
    ccg_v8i ki = (ccg_v8i)k;
    *hi = __builtin_shuffle(hi0, hi1, ki);
    *lo = __builtin_shuffle(lo0, lo1, ki);
    ccg_v8d q = CCG_FMA8(r, CCG_V8(1.0 / 5040), CCG_V8(1.0 / 720));
    q = CCG_FMA8(q, r, CCG_V8(1.0 / 120));
    q = CCG_FMA8(q, r, CCG_V8(1.0 / 24));
    q = CCG_FMA8(q, r, CCG_V8(1.0 / 6));
    q = CCG_FMA8(q, r, CCG_V8(0.5));
    *p = CCG_FMA8(q, r * r, r);
    return ki;
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

__attribute__((used, noinline)) static ccg_v8d ccg_exp_8(ccg_v8d x) {
    ccg_v8d hi, lo, p;
    ccg_v8i ki = ccg_exp_parts_8(x, &hi, &lo, &p);
    ccg_v8d y = hi + CCG_FMA8(hi, p, lo);
    y = (ccg_v8d)((ccg_v8u)y + ((ccg_v8u)(ki >> 4) << 52));
    /* predicates 6 and 9: not-less-equal and not-greater-equal, both true for NaN */
    if (CCG_UNLIKELY((__builtin_ia32_cmppd512_mask(x, CCG_V8(CCG_EXP_LIMIT), 6, (unsigned char)-1, 4)
                      | __builtin_ia32_cmppd512_mask(x, CCG_V8(-CCG_EXP_LIMIT), 9, (unsigned char)-1, 4)) != 0))
        y = ccg_exp_8_edges(x, y);
    return y;
}

CCG_SIMD_FORMS(ccg_exp)
#else
#define ccg_exp exp
#endif

/* ---- tanh -----------------------------------------------------------------------------------
 * tanh|x| = t / (t + 2) with t = e^(2a) - 1, a = min(|x|, 20) (NaN stays NaN).  t is
 * 2^m (hi + lo)(1 + p) - 1 = (2^m hi - 1) + 2^m (hi p + lo), where 2^m hi - 1 is exact, so small
 * arguments keep their relative accuracy (tanh x ~ x).  The quotient q = t / d, d = t + 2 rounded,
 * is then corrected by its residual t - q (t + 2) = fma(-q, d, t) - q e, with e = t - (d - 2) the
 * rounding error of d, divided by d through the 14-bit reciprocal estimate (the correction is a
 * few units in the last place, so 14 bits are plenty): this takes the error from ~2.9 ulp to
 * ~2.2 (measured; glibc's scalar tanh ~2.1, libmvec's 8-wide tanh ~1.2), what is left being t's
 * own error.  No branch: nothing leaves the range. */
#if defined(CCG_OWN_VMATH) && defined(CCG_WANT_TANH)
__attribute__((simd("notinbranch"), const, visibility("hidden"))) extern double ccg_tanh(double);

__attribute__((used, noinline)) static ccg_v8d ccg_tanh_8(ccg_v8d x) {
    ccg_v8u sign = (ccg_v8u)x & 0x8000000000000000ULL;
    ccg_v8d a = (ccg_v8d)((ccg_v8u)x ^ sign);
    /* min(20, a) returns its second operand when either is NaN: NaN propagates */
    a = __builtin_ia32_minpd512_mask(CCG_V8(CCG_TANH_CLAMP), a, CCG_V8(0.0), (unsigned char)-1, 4);
    ccg_v8d hi, lo, p;
    ccg_v8i ki = ccg_exp_parts_8(a + a, &hi, &lo, &p);
    ccg_v8d s = (ccg_v8d)((ccg_v8u)((ki >> 4) + 1023) << 52);
    ccg_v8d t = CCG_FMA8(s, CCG_FMA8(hi, p, lo), CCG_FMA8(s, hi, CCG_V8(-1.0)));
    ccg_v8d d = t + 2.0;
    ccg_v8d q = t / d;
    ccg_v8d e = t - (d - 2.0);
    ccg_v8d res = CCG_FNMA8(q, e, CCG_FNMA8(q, d, t));
    ccg_v8d rd = __builtin_ia32_rcp14pd512_mask(d, CCG_V8(0.0), (unsigned char)-1);
    ccg_v8d y = CCG_FMA8(res, rd, q);
    return (ccg_v8d)((ccg_v8u)y | sign);
}

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
