/* ccgrad ABI: the entry point every generated module exports, and the structs it exchanges.
 *
 * The text between CDEF-BEGIN and CDEF-END is also the cffi cdef of every generated module, so
 * it must stay plain declarations (no preprocessor lines).
 *
 * Inputs arrive as numpy's raw views (data pointer, shape, byte strides).  The generated code
 * computes every shape, validates what it relies on, allocates its outputs with malloc (the
 * caller owns them and frees them with free()) and returns 0, or a non-zero error code with
 * the details in *err (every buffer it allocated is then freed).  0-d outputs are returned
 * by value in `scalar`, with data == NULL.  A caller may offer a buffer: when an output's
 * data is non-NULL on entry and its `capacity` (bytes) suffices, the result is written there
 * (Out(borrow=True)); otherwise the code allocates and sets data.
 */
#ifndef CCGRAD_ABI_H
#define CCGRAD_ABI_H
#include <stdint.h>

#define CCG_MAX_NDIM 32

/* error codes (ccg_err.code) */
#define CCG_OK 0
#define CCG_ERR_SHAPE 1      /* shape mismatch between arguments / within the graph: ValueError */
#define CCG_ERR_INDEX 2      /* index out of bounds: IndexError */
#define CCG_ERR_VALUE 3      /* invalid value (e.g. negative dimension, zero step): ValueError */
#define CCG_ERR_MEMORY 4     /* allocation failed: MemoryError */
#define CCG_ERR_INTERNAL 5   /* a check the generated code relies on failed: RuntimeError */

/* CDEF-BEGIN */
typedef struct {
    char *data;
    const int64_t *shape;
    const int64_t *strides;
} ccg_in;

typedef struct {
    void *data;
    int64_t capacity;
    int64_t shape[32];
    int64_t scalar[2];
} ccg_out;

typedef struct {
    int code;
    int arg;
    int axis;
    int64_t expected;
    int64_t got;
    char msg[512];
} ccg_err;

int ccg_run(const ccg_in *inputs, ccg_out *outputs, ccg_err *err);
void ccg_free(void *p);
/* CDEF-END */

#endif /* CCGRAD_ABI_H */
