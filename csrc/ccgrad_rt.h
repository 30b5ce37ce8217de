/* ccgrad runtime: header-only C99 helpers pasted at the top of every generated source.
 * Scalar math with numpy's semantics where C differs (floor division, modulo, integer
 * powers, division by zero), and numerically stable sigmoid/softplus.  All static inline. */
#ifndef CCGRAD_RT_H
#define CCGRAD_RT_H

#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <stdarg.h>
#include <string.h>
#include <math.h>
#include <sys/mman.h>

#define CCG_INLINE static inline

/* ---- vector math ----------------------------------------------------------------------------
 * Declaring libm functions with the simd attribute lets gcc call glibc's vector variants
 * (libmvec) in vectorized loops, without -ffast-math: results stay within libmvec's documented
 * accuracy (a few ulp) and no process-wide FPU flag changes.  CCG_MVEC is set by the build
 * (1: glibc >= 2.22, 2: glibc >= 2.35) and is part of the cache key. */
#if defined(CCG_MVEC) && CCG_MVEC >= 1 && defined(__x86_64__)
#define CCG_SIMD1(f) __attribute__((simd("notinbranch"))) extern double f(double); \
                     __attribute__((simd("notinbranch"))) extern float f##f(float);
#define CCG_SIMD2(f) __attribute__((simd("notinbranch"))) extern double f(double, double); \
                     __attribute__((simd("notinbranch"))) extern float f##f(float, float);
CCG_SIMD1(exp) CCG_SIMD1(log) CCG_SIMD1(sin) CCG_SIMD1(cos) CCG_SIMD2(pow)
#if CCG_MVEC >= 2
CCG_SIMD1(acos) CCG_SIMD1(acosh) CCG_SIMD1(asin) CCG_SIMD1(asinh) CCG_SIMD1(atan) CCG_SIMD1(atanh)
CCG_SIMD1(cosh) CCG_SIMD1(erf) CCG_SIMD1(erfc) CCG_SIMD1(exp2) CCG_SIMD1(expm1) CCG_SIMD1(log10)
CCG_SIMD1(log1p) CCG_SIMD1(log2) CCG_SIMD1(sinh) CCG_SIMD1(tan) CCG_SIMD1(tanh) CCG_SIMD2(atan2)
#endif
#endif
#define CCG_LIKELY(x) __builtin_expect(!!(x), 1)
#define CCG_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- exp for float64 on AVX-512 -------------------------------------------------------------
 * glibc's 512-bit vector exp gathers from a 1024-entry table; gathers are slow on AMD Zen 4 and
 * its error reaches about 3 ulp.  ccg_exp reduces x = n ln2/16 + r (|r| <= ln2/32, two-part ln2
 * with fma), takes 2^(j/16) (hi + lo parts) from a 16-entry table held in two registers (one
 * two-source permute, no gather), evaluates e^r - 1 with the degree-7 Taylor polynomial and
 * adds n/16 to the exponent bits: within 0.6 ulp of the exact value and about 1.3x faster than
 * libmvec.  |x| > 708 (results near or past the double range), inf and NaN go to libm's exp.
 * The scalar form (ccg_exp_1) performs the same operations as each vector lane, so a value
 * gets the same bits whether it lands in the vector body or the remainder of a loop.
 * The vector forms are written with gcc vector extensions and three ia32 builtins rather than
 * <immintrin.h>, whose parsing alone would add ~120 ms to every compile.  Compiling this section
 * still costs ~15 ms at -O3, so it is in only when the kernel calls it (lowering then defines
 * CCG_WANT_EXP).  Elsewhere ccg_exp is plain exp. */
#if defined(CCG_WANT_EXP) && defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) \
    && defined(__AVX512F__) && defined(__has_builtin)
#if __has_builtin(__builtin_ia32_vfmaddpd512_mask) && __has_builtin(__builtin_ia32_vfnmaddpd512_mask) \
    && __has_builtin(__builtin_ia32_cmppd512_mask)
#define CCG_OWN_EXP 1
#endif
#endif
#ifdef CCG_OWN_EXP
/* Declared, never defined in C: gcc calls the vector forms by their vector-ABI names, which the
 * .set lines at the end of this section bind to the functions below. */
__attribute__((simd("notinbranch"), const, visibility("hidden"))) extern double ccg_exp(double);
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
#define CCG_EXP_LIMIT 708.0                  /* inside: the result is a normal double */

__attribute__((used)) static double ccg_exp_1(double x) {
    if (!(fabs(x) <= CCG_EXP_LIMIT)) return exp(x);
    double k = fma(x, CCG_EXP_INV16, CCG_EXP_SHIFT);
    double n = k - CCG_EXP_SHIFT;
    double r = fma(-n, CCG_EXP_LN2HI, x);
    r = fma(-n, CCG_EXP_LN2LO, r);
    int64_t ki;
    memcpy(&ki, &k, 8);
    double hi = ccg_exp_hi[ki & 15], lo = ccg_exp_lo[ki & 15];
    double q = fma(r, 1.0 / 5040, 1.0 / 720);
    q = fma(q, r, 1.0 / 120);
    q = fma(q, r, 1.0 / 24);
    q = fma(q, r, 1.0 / 6);
    q = fma(q, r, 0.5);
    double p = fma(q, r * r, r);
    double y = hi + fma(hi, p, lo);
    int64_t yi;
    memcpy(&yi, &y, 8);
    yi += (int64_t)((uint64_t)(ki >> 4) << 52);
    memcpy(&y, &yi, 8);
    return y;
}

__attribute__((noinline, cold, optimize("O1"))) static ccg_v8d ccg_exp_8_edges(ccg_v8d x, ccg_v8d y) {
    for (int i = 0; i < 8; i++)
        if (!(fabs(x[i]) <= CCG_EXP_LIMIT)) y[i] = exp(x[i]);
    return y;
}

#define CCG_V8(c) ((ccg_v8d){c, c, c, c, c, c, c, c})
#define CCG_FMA8(a, b, c) __builtin_ia32_vfmaddpd512_mask((a), (b), (c), (unsigned char)-1, 4)
#define CCG_FNMA8(a, b, c) __builtin_ia32_vfnmaddpd512_mask((a), (b), (c), (unsigned char)-1, 4)
__attribute__((used, noinline)) static ccg_v8d ccg_exp_8(ccg_v8d x) {
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
    /* two-source permute: the low 4 bits of each index pick one of 16 entries */
    ccg_v8d hi = __builtin_shuffle(hi0, hi1, ki), lo = __builtin_shuffle(lo0, lo1, ki);
    ccg_v8d q = CCG_FMA8(r, CCG_V8(1.0 / 5040), CCG_V8(1.0 / 720));
    q = CCG_FMA8(q, r, CCG_V8(1.0 / 120));
    q = CCG_FMA8(q, r, CCG_V8(1.0 / 24));
    q = CCG_FMA8(q, r, CCG_V8(1.0 / 6));
    q = CCG_FMA8(q, r, CCG_V8(0.5));
    ccg_v8d p = CCG_FMA8(q, r * r, r);
    ccg_v8d y = hi + CCG_FMA8(hi, p, lo);
    y = (ccg_v8d)((ccg_v8u)y + ((ccg_v8u)(ki >> 4) << 52));
    /* predicates 6 and 9: not-less-equal and not-greater-equal, both true for NaN */
    if (CCG_UNLIKELY((__builtin_ia32_cmppd512_mask(x, CCG_V8(CCG_EXP_LIMIT), 6, (unsigned char)-1, 4)
                      | __builtin_ia32_cmppd512_mask(x, CCG_V8(-CCG_EXP_LIMIT), 9, (unsigned char)-1, 4)) != 0))
        y = ccg_exp_8_edges(x, y);
    return y;
}

/* The 2- and 4-lane forms (loop remainders, or 256-bit loops) widen to 8 lanes; exp(0) fills. */
__attribute__((used)) static ccg_v4d ccg_exp_4(ccg_v4d x) {
    ccg_v8d y = ccg_exp_8((ccg_v8d){x[0], x[1], x[2], x[3], 0, 0, 0, 0});
    return (ccg_v4d){y[0], y[1], y[2], y[3]};
}
__attribute__((used)) static ccg_v2d ccg_exp_2(ccg_v2d x) {
    ccg_v8d y = ccg_exp_8((ccg_v8d){x[0], x[1], 0, 0, 0, 0, 0, 0});
    return (ccg_v2d){y[0], y[1]};
}
__asm__(".set ccg_exp, ccg_exp_1\n\t"
        ".set _ZGVbN2v_ccg_exp, ccg_exp_2\n\t"
        ".set _ZGVcN4v_ccg_exp, ccg_exp_4\n\t"
        ".set _ZGVdN4v_ccg_exp, ccg_exp_4\n\t"
        ".set _ZGVeN8v_ccg_exp, ccg_exp_8");
#else
#define ccg_exp exp
#endif

/* ---- memory ---------------------------------------------------------------------------------
 * Blocks from malloc (16-byte aligned), freed with free() (glibc then reuses freed blocks, as it
 * does for numpy).  Blocks of 4 MiB and more ask for transparent huge pages, as numpy does, so
 * large fresh outputs do not pay one page fault per 4 KiB. */
CCG_INLINE void *ccg_alloc(int64_t nbytes) {
    size_t n = nbytes > 0 ? (size_t)nbytes : 1;
    /* plain malloc, as numpy: glibc then reuses freed blocks without new page faults
     * (posix_memalign's split blocks were trimmed back to the OS and faulted in again) */
    void *p = malloc(n);
#ifdef MADV_HUGEPAGE
    if (p != NULL && n >= ((size_t)4 << 20)) {
        /* like numpy: huge pages for the 2 MiB-aligned interior of large blocks */
        uintptr_t lo = ((uintptr_t)p + ((uintptr_t)2 << 20) - 1) & ~(((uintptr_t)2 << 20) - 1);
        uintptr_t hi = ((uintptr_t)p + n) & ~(((uintptr_t)2 << 20) - 1);
        if (hi > lo) madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    }
#endif
    return p;
}

/* A zero-filled block: calloc, which for large sizes maps fresh zero pages instead of writing. */
CCG_INLINE void *ccg_alloc_zero(int64_t nbytes) {
    return calloc(1, nbytes > 0 ? (size_t)nbytes : 1);
}

/* ---- work buffers kept between calls ------------------------------------------------------
 * A call's temporaries are released when it returns.  Freed to glibc, large blocks at the top of
 * the heap go back to the OS and the next call faults every page in again (about 2,000 page
 * faults per 8 MB temporary, often more time than the arithmetic).  So each module keeps up to
 * CCG_KEEP released blocks of CCG_KEEP_MIN..CCG_KEEP_MAX bytes for its next calls.  A kept block
 * is taken and returned with atomic exchanges: concurrent calls never share one, and a block
 * that finds every place taken is freed.  A work buffer carries its capacity in a 64-byte
 * header in front of its data.  Under AddressSanitizer (`make asan`) nothing is kept, so every
 * buffer is really freed and a use after release is reported. */
#define CCG_KEEP 8
#define CCG_KEEP_MIN ((int64_t)1 << 16)
#define CCG_KEEP_MAX ((int64_t)1 << 28)
#define CCG_HEADER 64
static char *ccg_kept[CCG_KEEP];

CCG_INLINE int64_t ccg_work_cap(const char *p) { return ((const int64_t *)p)[-1]; }

/* Give a work buffer back: kept for a later call when it is worth keeping, else freed. */
CCG_INLINE void ccg_work_release(char *p) {
    if (p == NULL) return;
    int64_t cap = ccg_work_cap(p);
#ifndef __SANITIZE_ADDRESS__
    if (cap >= CCG_KEEP_MIN && cap <= CCG_KEEP_MAX) {
        for (int i = 0; i < CCG_KEEP; i++) {
            char *none = NULL;
            if (__atomic_compare_exchange_n(&ccg_kept[i], &none, p, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return;
        }
    }
#else
    (void)cap;
#endif
    free(p - CCG_HEADER);
}

/* A work buffer of at least nbytes: a kept one that fits (large enough, and not more than about
 * four times too large, so big blocks stay for big requests), else a new one. */
CCG_INLINE char *ccg_work_take(int64_t nbytes) {
    if (nbytes >= CCG_KEEP_MIN / 2 && nbytes <= CCG_KEEP_MAX) {
        for (int i = 0; i < CCG_KEEP; i++) {
            char *p = __atomic_exchange_n(&ccg_kept[i], NULL, __ATOMIC_ACQ_REL);
            if (p == NULL) continue;
            int64_t cap = ccg_work_cap(p);
            if (cap >= nbytes && cap <= 4 * nbytes + CCG_KEEP_MIN) return p;
            ccg_work_release(p);  /* does not fit this one: back for another */
        }
    }
    if (nbytes > INT64_MAX - CCG_HEADER) return NULL;
    char *raw = (char *)ccg_alloc(nbytes + CCG_HEADER);
    if (raw == NULL) return NULL;
    ((int64_t *)(raw + CCG_HEADER))[-1] = nbytes;
    return raw + CCG_HEADER;
}

/* Make the work buffer *p hold at least nbytes (contents are not kept).  Returns 0 on failure. */
CCG_INLINE int ccg_ensure(char **p, int64_t *cap, int64_t nbytes) {
    if (*p != NULL && *cap >= nbytes) return 1;
    ccg_work_release(*p);
    *p = ccg_work_take(nbytes);
    *cap = *p ? ccg_work_cap(*p) : 0;
    return *p != NULL;
}

/* size in bytes of a C-contiguous block, or -1 on overflow */
CCG_INLINE int64_t ccg_nbytes(const int64_t *shape, int ndim, int64_t itemsize) {
    int64_t n = itemsize;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        if (shape[i] != 0 && n > INT64_MAX / shape[i]) return -1;
        n *= shape[i];
    }
    return n;
}

/* ---- errors --------------------------------------------------------------------------------
 * Generated code records an error with its code, the argument and axis involved, the expected
 * and actual lengths, and a printf-formatted message; then it frees what it holds and returns. */
#ifndef CCGRAD_ABI_H
typedef struct { int code; int arg; int axis; int64_t expected; int64_t got; char msg[512]; } ccg_err;
#endif
static void ccg_fail(ccg_err *err, int code, int arg, int axis, int64_t expected, int64_t got,
                     const char *fmt, ...) __attribute__((format(printf, 7, 8), cold, unused));
static void ccg_fail(ccg_err *err, int code, int arg, int axis, int64_t expected, int64_t got,
                     const char *fmt, ...) {
    va_list ap;
    err->code = code;
    err->arg = arg;
    err->axis = axis;
    err->expected = expected;
    err->got = got;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

/* ---- min / max: numpy's maximum/minimum propagate NaN ------------------------------------ */
#define CCG_MINMAX_INT(sfx, T)                                                               \
    CCG_INLINE T ccg_max_##sfx(T a, T b) { return a > b ? a : b; }                           \
    CCG_INLINE T ccg_min_##sfx(T a, T b) { return a < b ? a : b; }
CCG_MINMAX_INT(i8, int8_t)
CCG_MINMAX_INT(i16, int16_t)
CCG_MINMAX_INT(i32, int32_t)
CCG_MINMAX_INT(i64, int64_t)
CCG_MINMAX_INT(u8, uint8_t)
CCG_MINMAX_INT(b, uint8_t)
CCG_INLINE double ccg_max_f64(double a, double b) { return (a > b || a != a) ? a : b; }
CCG_INLINE double ccg_min_f64(double a, double b) { return (a < b || a != a) ? a : b; }
CCG_INLINE float ccg_max_f32(float a, float b) { return (a > b || a != a) ? a : b; }
CCG_INLINE float ccg_min_f32(float a, float b) { return (a < b || a != a) ? a : b; }

/* ---- abs / sign ---------------------------------------------------------------------------- */
#define CCG_ABS_SIGN_INT(sfx, T)                                                             \
    CCG_INLINE T ccg_abs_##sfx(T a) { return a < 0 ? (T)(0 - (uint64_t)a) : a; }             \
    CCG_INLINE T ccg_sign_##sfx(T a) { return (T)((a > 0) - (a < 0)); }
CCG_ABS_SIGN_INT(i8, int8_t)
CCG_ABS_SIGN_INT(i16, int16_t)
CCG_ABS_SIGN_INT(i32, int32_t)
CCG_ABS_SIGN_INT(i64, int64_t)
CCG_INLINE uint8_t ccg_sign_u8(uint8_t a) { return (uint8_t)(a > 0); }
CCG_INLINE double ccg_sign_f64(double a) { return a != a ? a : (double)((a > 0) - (a < 0)); }
CCG_INLINE float ccg_sign_f32(float a) { return a != a ? a : (float)((a > 0) - (a < 0)); }

/* ---- floor division and modulo with numpy's semantics ------------------------------------ */
/* Integers: x // 0 == 0 and x % 0 == 0 (numpy warns and returns 0); results round toward
 * minus infinity and the remainder takes the divisor's sign.  The most negative value
 * divided by -1 wraps, as numpy does. */
#define CCG_DIVMOD_INT(sfx, T, TMIN)                                                         \
    CCG_INLINE T ccg_floordiv_##sfx(T a, T b) {                                              \
        if (b == 0) return 0;                                                                \
        if (b == -1) return (T)(0 - (uint64_t)a);                                            \
        T q = (T)(a / b);                                                                    \
        if ((a % b != 0) && ((a < 0) != (b < 0))) q = (T)(q - 1);                            \
        return q;                                                                            \
    }                                                                                        \
    CCG_INLINE T ccg_mod_##sfx(T a, T b) {                                                   \
        if (b == 0 || b == -1) return 0;                                                     \
        T r = (T)(a % b);                                                                    \
        if (r != 0 && ((r < 0) != (b < 0))) r = (T)(r + b);                                  \
        return r;                                                                            \
    }
CCG_DIVMOD_INT(i8, int8_t, INT8_MIN)
CCG_DIVMOD_INT(i16, int16_t, INT16_MIN)
CCG_DIVMOD_INT(i32, int32_t, INT32_MIN)
CCG_DIVMOD_INT(i64, int64_t, INT64_MIN)
CCG_INLINE uint8_t ccg_floordiv_u8(uint8_t a, uint8_t b) { return b ? (uint8_t)(a / b) : 0; }
CCG_INLINE uint8_t ccg_mod_u8(uint8_t a, uint8_t b) { return b ? (uint8_t)(a % b) : 0; }

/* Floats: numpy's floor_divide / remainder (npy_divmod). */
#define CCG_DIVMOD_FLT(sfx, T, FMOD, FLOOR, COPYSIGN)                                        \
    CCG_INLINE T ccg_mod_##sfx(T a, T b) {                                                   \
        if (b == 0) return FMOD(a, b);                                                       \
        T m = FMOD(a, b);                                                                    \
        if (m != 0) { if ((b < 0) != (m < 0)) m += b; }                                      \
        else m = COPYSIGN((T)0, b);                                                          \
        return m;                                                                            \
    }                                                                                        \
    CCG_INLINE T ccg_floordiv_##sfx(T a, T b) {                                              \
        if (b == 0) return a / b;                                                            \
        T m = FMOD(a, b);                                                                    \
        T div = (a - m) / b;                                                                 \
        if (m != 0 && ((b < 0) != (m < 0))) div -= (T)1;                                     \
        T fd;                                                                                \
        if (div != 0) { fd = FLOOR(div); if (div - fd > (T)0.5) fd += (T)1; }                \
        else fd = COPYSIGN((T)0, a / b);                                                     \
        return fd;                                                                           \
    }
CCG_DIVMOD_FLT(f64, double, fmod, floor, copysign)
CCG_DIVMOD_FLT(f32, float, fmodf, floorf, copysignf)

/* ---- integer powers: negative exponents truncate 1/x**|e| toward zero -------------------- */
#define CCG_IPOW(sfx, T)                                                                     \
    CCG_INLINE T ccg_ipow_##sfx(T base, T e) {                                               \
        if (e < 0) {                                                                         \
            if (base == 1) return 1;                                                         \
            if (base == (T)-1) return (T)((e % 2 == 0) ? 1 : -1);                            \
            return 0;                                                                        \
        }                                                                                    \
        uint64_t r = 1, b = (uint64_t)base, n = (uint64_t)e;                                 \
        while (n) { if (n & 1) r *= b; b *= b; n >>= 1; }                                    \
        return (T)r;                                                                         \
    }
CCG_IPOW(i8, int8_t)
CCG_IPOW(i16, int16_t)
CCG_IPOW(i32, int32_t)
CCG_IPOW(i64, int64_t)
CCG_INLINE uint8_t ccg_ipow_u8(uint8_t base, uint8_t e) {
    uint64_t r = 1, b = base, n = e;
    while (n) { if (n & 1) r *= b; b *= b; n >>= 1; }
    return (uint8_t)r;
}

/* ---- stable logistic functions ------------------------------------------------------------- */
/* sigmoid(x) = 1 / (1 + exp(-x)).  When exp(-x) overflows to inf the result is the exact
 * limit 0 (never NaN), so no branch is needed and the loop vectorizes with one division. */
CCG_INLINE double ccg_sigmoid_f64(double x) { return 1.0 / (1.0 + ccg_exp(-x)); }
CCG_INLINE float ccg_sigmoid_f32(float x) { return 1.0f / (1.0f + expf(-x)); }
/* softplus(x) = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)). */
CCG_INLINE double ccg_softplus_f64(double x) { return (x > 0 ? x : 0.0) + log1p(ccg_exp(-fabs(x))); }
CCG_INLINE float ccg_softplus_f32(float x) { return (x > 0 ? x : 0.0f) + log1pf(expf(-fabsf(x))); }

#endif /* CCGRAD_RT_H */
