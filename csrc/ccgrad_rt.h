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
CCG_INLINE int ccg_ensure(char **p, int64_t nbytes) {
    if (*p != NULL && ccg_work_cap(*p) >= nbytes) return 1;
    ccg_work_release(*p);
    *p = ccg_work_take(nbytes);
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

#endif /* CCGRAD_RT_H */
