/* ccgrad matrix products: gemm / gemv / dot over strided operands.
 *
 * Float operands go to BLAS (scipy-openblas32, symbols prefixed scipy_, 32-bit ints) when the
 * build defines CCG_USE_BLAS and the sizes fit; otherwise, and for integers, plain C loops.
 * BLAS needs unit stride along one axis of each matrix and positive vector increments: other
 * layouts (negative, zero or general strides) are first copied into a temporary.
 * Each function returns 0, or -1 when a temporary cannot be allocated.
 * Strides count elements.  The output C (M x N) is C-contiguous and fully overwritten. */
#ifndef CCGRAD_BLAS_H
#define CCGRAD_BLAS_H

#ifdef CCG_USE_BLAS
enum { CCG_ROW = 101, CCG_NOTRANS = 111, CCG_TRANS = 112 };
void scipy_cblas_dgemm(int order, int ta, int tb, int m, int n, int k, double alpha, const double *a,
                       int lda, const double *b, int ldb, double beta, double *c, int ldc);
void scipy_cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                       int lda, const float *b, int ldb, float beta, float *c, int ldc);
void scipy_cblas_dgemv(int order, int ta, int m, int n, double alpha, const double *a, int lda,
                       const double *x, int incx, double beta, double *y, int incy);
void scipy_cblas_sgemv(int order, int ta, int m, int n, float alpha, const float *a, int lda,
                       const float *x, int incx, float beta, float *y, int incy);
double scipy_cblas_ddot(int n, const double *x, int incx, const double *y, int incy);
float scipy_cblas_sdot(int n, const float *x, int incx, const float *y, int incy);
#define CCG_BLAS_INT_MAX 2147483647LL
#endif
#define CCG_SMALL_GEMM 4096.0

/* How a matrix of shape (rows, cols) with strides (s0, s1) can be handed to row-major BLAS:
 * 0 as is (lda = s0), 1 transposed (lda = s1), -1 needs a copy. */
CCG_INLINE int ccg_blas_layout(int64_t rows, int64_t cols, int64_t s0, int64_t s1, int64_t *ld) {
    if ((s1 == 1 || cols <= 1) && (s0 >= (cols > 1 ? cols : 1) || rows <= 1)) {
        *ld = rows <= 1 ? (cols > 1 ? cols : 1) : s0;
        return 0;
    }
    if ((s0 == 1 || rows <= 1) && (s1 >= (rows > 1 ? rows : 1) || cols <= 1)) {
        *ld = cols <= 1 ? (rows > 1 ? rows : 1) : s1;
        return 1;
    }
    return -1;
}

#define CCG_MATMUL_DEFS(SFX, T, ACC)                                                          \
/* C-contiguous copy of a strided matrix; NULL on allocation failure. */                      \
CCG_INLINE T *ccg_pack_##SFX(const T *a, int64_t rows, int64_t cols, int64_t s0, int64_t s1) { \
    T *p = (T *)ccg_alloc(rows * cols * (int64_t)sizeof(T));                                  \
    if (!p) return NULL;                                                                      \
    for (int64_t i = 0; i < rows; i++)                                                        \
        for (int64_t j = 0; j < cols; j++) p[i * cols + j] = a[i * s0 + j * s1];              \
    return p;                                                                                 \
}                                                                                             \
/* C = A @ B with plain loops (i-k-j order: the inner loop runs along rows of B and C). */     \
CCG_INLINE void ccg_gemm_loops_##SFX(int64_t M, int64_t N, int64_t K, const T *A, int64_t sa0, \
                                     int64_t sa1, const T *B, int64_t sb0, int64_t sb1, T *C) { \
    if (N == 1) {                                                                             \
        /* matrix @ vector: the same sums, accumulated in a register instead of in C */       \
        for (int64_t i = 0; i < M; i++) {                                                     \
            T acc = 0;                                                                        \
            for (int64_t k = 0; k < K; k++) acc += A[i * sa0 + k * sa1] * B[k * sb0];         \
            C[i] = acc;                                                                       \
        }                                                                                     \
        return;                                                                               \
    }                                                                                         \
    for (int64_t i = 0; i < M; i++) {                                                         \
        T *restrict c = C + i * N;                                                            \
        for (int64_t j = 0; j < N; j++) c[j] = 0;                                             \
        for (int64_t k = 0; k < K; k++) {                                                     \
            const T a = A[i * sa0 + k * sa1];                                                 \
            const T *b = B + k * sb0;                                                         \
            if (sb1 == 1) for (int64_t j = 0; j < N; j++) c[j] += a * b[j];                   \
            else for (int64_t j = 0; j < N; j++) c[j] += a * b[j * sb1];                      \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
CCG_INLINE T ccg_dot_loops_##SFX(int64_t n, const T *x, int64_t sx, const T *y, int64_t sy) {  \
    ACC acc = 0;                                                                              \
    if (sx == 1 && sy == 1) {                                                                 \
        _Pragma("omp simd reduction(+:acc)")                                                  \
        for (int64_t i = 0; i < n; i++) acc += (ACC)x[i] * (ACC)y[i];                         \
    } else {                                                                                  \
        for (int64_t i = 0; i < n; i++) acc += (ACC)x[i * sx] * (ACC)y[i * sy];               \
    }                                                                                         \
    return (T)acc;                                                                            \
}

CCG_MATMUL_DEFS(f64, double, double)
CCG_MATMUL_DEFS(f32, float, double)
CCG_MATMUL_DEFS(i8, int8_t, int8_t)
CCG_MATMUL_DEFS(i16, int16_t, int16_t)
CCG_MATMUL_DEFS(i32, int32_t, int32_t)
CCG_MATMUL_DEFS(i64, int64_t, int64_t)
CCG_MATMUL_DEFS(u8, uint8_t, uint8_t)

/* Integer (and no-BLAS) entry points: loops only. */
#define CCG_MATMUL_LOOP_API(SFX, T)                                                           \
CCG_INLINE int ccg_gemm_##SFX(int64_t M, int64_t N, int64_t K, const T *A, int64_t sa0,        \
                              int64_t sa1, const T *B, int64_t sb0, int64_t sb1, T *C) {       \
    ccg_gemm_loops_##SFX(M, N, K, A, sa0, sa1, B, sb0, sb1, C);                               \
    return 0;                                                                                 \
}                                                                                             \
CCG_INLINE int ccg_dotv_##SFX(int64_t n, const T *x, int64_t sx, const T *y, int64_t sy, T *out) { \
    *out = ccg_dot_loops_##SFX(n, x, sx, y, sy);                                              \
    return 0;                                                                                 \
}
CCG_MATMUL_LOOP_API(i8, int8_t)
CCG_MATMUL_LOOP_API(i16, int16_t)
CCG_MATMUL_LOOP_API(i32, int32_t)
CCG_MATMUL_LOOP_API(i64, int64_t)
CCG_MATMUL_LOOP_API(u8, uint8_t)

/* bool @ bool is logical: any(a & b) over k. */
CCG_INLINE int ccg_gemm_b(int64_t M, int64_t N, int64_t K, const uint8_t *A, int64_t sa0,
                          int64_t sa1, const uint8_t *B, int64_t sb0, int64_t sb1, uint8_t *C) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            uint8_t acc = 0;
            for (int64_t k = 0; k < K && !acc; k++) acc = (uint8_t)(A[i * sa0 + k * sa1] && B[k * sb0 + j * sb1]);
            C[i * N + j] = acc;
        }
    return 0;
}
CCG_INLINE int ccg_dotv_b(int64_t n, const uint8_t *x, int64_t sx, const uint8_t *y, int64_t sy, uint8_t *out) {
    uint8_t acc = 0;
    for (int64_t i = 0; i < n && !acc; i++) acc = (uint8_t)(x[i * sx] && y[i * sy]);
    *out = acc;
    return 0;
}

/* Floats: BLAS when available. */
#ifdef CCG_USE_BLAS
#define CCG_MATMUL_BLAS_API(SFX, T, GEMM, GEMV, DOT)                                          \
CCG_INLINE int ccg_gemm_##SFX(int64_t M, int64_t N, int64_t K, const T *A, int64_t sa0,        \
                              int64_t sa1, const T *B, int64_t sb0, int64_t sb1, T *C) {       \
    if (M == 0 || N == 0) return 0;                                                           \
    if (K == 0) { for (int64_t i = 0; i < M * N; i++) C[i] = 0; return 0; }                   \
    if (M > CCG_BLAS_INT_MAX || N > CCG_BLAS_INT_MAX || K > CCG_BLAS_INT_MAX ||               \
        (double)M * (double)N * (double)K <= CCG_SMALL_GEMM) {                                \
        /* tiny products (e.g. a 10x10 matrix in a loop body): a call into BLAS costs more */  \
        ccg_gemm_loops_##SFX(M, N, K, A, sa0, sa1, B, sb0, sb1, C);                           \
        return 0;                                                                             \
    }                                                                                         \
    T *pa = NULL, *pb = NULL;                                                                 \
    int64_t lda, ldb;                                                                         \
    int ta = ccg_blas_layout(M, K, sa0, sa1, &lda);                                           \
    int tb = ccg_blas_layout(K, N, sb0, sb1, &ldb);                                           \
    if (ta < 0 || lda > CCG_BLAS_INT_MAX) {                                                   \
        if (!(pa = ccg_pack_##SFX(A, M, K, sa0, sa1))) return -1;                             \
        A = pa; ta = 0; lda = K;                                                              \
    }                                                                                         \
    if (tb < 0 || ldb > CCG_BLAS_INT_MAX) {                                                   \
        if (!(pb = ccg_pack_##SFX(B, K, N, sb0, sb1))) { free(pa); return -1; }               \
        B = pb; tb = 0; ldb = N;                                                              \
    }                                                                                         \
    if (N == 1) { /* matrix-vector: y = A @ b */                                              \
        if (ta == 0) GEMV(CCG_ROW, CCG_NOTRANS, (int)M, (int)K, 1, A, (int)lda,               \
                          B, (int)(tb == 0 ? ldb : 1), 0, C, 1);                              \
        else GEMV(CCG_ROW, CCG_TRANS, (int)K, (int)M, 1, A, (int)lda,                          \
                  B, (int)(tb == 0 ? ldb : 1), 0, C, 1);                                      \
    } else if (M == 1) { /* vector-matrix: y = a @ B = B^T a */                               \
        int inca = (int)(ta == 0 ? 1 : lda);                                                  \
        if (tb == 0) GEMV(CCG_ROW, CCG_TRANS, (int)K, (int)N, 1, B, (int)ldb, A, inca, 0, C, 1); \
        else GEMV(CCG_ROW, CCG_NOTRANS, (int)N, (int)K, 1, B, (int)ldb, A, inca, 0, C, 1);      \
    } else {                                                                                  \
        GEMM(CCG_ROW, ta ? CCG_TRANS : CCG_NOTRANS, tb ? CCG_TRANS : CCG_NOTRANS, (int)M,       \
             (int)N, (int)K, 1, A, (int)lda, B, (int)ldb, 0, C, (int)N);                      \
    }                                                                                         \
    free(pa);                                                                                 \
    free(pb);                                                                                 \
    return 0;                                                                                 \
}                                                                                             \
CCG_INLINE int ccg_dotv_##SFX(int64_t n, const T *x, int64_t sx, const T *y, int64_t sy, T *out) { \
    if (n > 256 && n <= CCG_BLAS_INT_MAX && sx > 0 && sy > 0 && sx <= CCG_BLAS_INT_MAX &&      \
        sy <= CCG_BLAS_INT_MAX) {                                                             \
        *out = DOT((int)n, x, (int)sx, y, (int)sy);                                           \
        return 0;                                                                             \
    }                                                                                         \
    *out = ccg_dot_loops_##SFX(n, x, sx, y, sy);                                              \
    return 0;                                                                                 \
}
CCG_MATMUL_BLAS_API(f64, double, scipy_cblas_dgemm, scipy_cblas_dgemv, scipy_cblas_ddot)
CCG_MATMUL_BLAS_API(f32, float, scipy_cblas_sgemm, scipy_cblas_sgemv, scipy_cblas_sdot)
#else
CCG_MATMUL_LOOP_API(f64, double)
CCG_MATMUL_LOOP_API(f32, float)
#endif

#endif /* CCGRAD_BLAS_H */
