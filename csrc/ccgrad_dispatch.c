/* ccgrad._dispatch: the call path of compiled functions.
 *
 * A Kernel holds the address of a generated module's ccg_run and the signature of its
 * arguments.  Calling it checks each argument (an aligned native-order ndarray of the right
 * dtype and ndim passes at once; anything else goes through a Python converter that applies
 * ccgrad's casting rules and names the argument in its errors), releases the GIL, runs the
 * kernel, and wraps the outputs (malloc'd by the kernel) as numpy arrays that own them.
 * This is the only C in ccgrad that knows about Python objects; generated code never does.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <stdint.h>
#include <string.h>

#include "ccgrad_abi.h"

typedef int (*ccg_run_fn)(const ccg_in *, ccg_out *, ccg_err *);

#define MAX_STACK_ARGS 16

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    ccg_run_fn run;
    int n_in;        /* explicit arguments */
    int n_extra;     /* hidden inputs appended after them (large constants) */
    int n_out;
    int single;      /* return the only output itself rather than a list */
    int trust;       /* skip argument checks (trust_input) */
    int *in_type;    /* numpy type numbers and ndims: n_in + n_extra entries */
    int *in_ndim;
    int *out_type;
    int *out_ndim;
    int *donor;      /* per output: the input whose buffer the kernel may write it into, or -1 */
    PyObject *extra;     /* tuple of ndarrays: the hidden inputs */
    PyObject *convert;   /* callable(i, value) -> ndarray of the right dtype/ndim, or raises */
    PyObject *on_error;  /* callable(code, arg, axis, expected, got, msg) -> raises */
    PyObject *keep;      /* the loaded module (keeps the code mapped) */
    PyObject *dict;
    PyObject *weakrefs;
} KernelObject;

static void free_block(PyObject *capsule) {
    void *p = PyCapsule_GetPointer(capsule, "ccgrad.buffer");
    free(p);
}

/* An ndarray that owns `data` (malloc'd by the kernel). */
static PyObject *wrap_output(int typenum, int ndim, const int64_t *shape, void *data) {
    npy_intp dims[CCG_MAX_NDIM];
    for (int a = 0; a < ndim; a++) dims[a] = (npy_intp)shape[a];
    PyObject *arr = PyArray_New(&PyArray_Type, ndim, dims, typenum, NULL, data, 0,
                                NPY_ARRAY_CARRAY, NULL);
    if (arr == NULL) {
        free(data);
        return NULL;
    }
    PyObject *cap = PyCapsule_New(data, "ccgrad.buffer", free_block);
    if (cap == NULL) {
        Py_DECREF(arr);
        free(data);
        return NULL;
    }
    if (PyArray_SetBaseObject((PyArrayObject *)arr, cap) < 0) {
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

/* The result was written into the offered array: return it (or a view of its memory when the
 * shape differs). */
static PyObject *offered_output(int typenum, int ndim, const int64_t *shape, PyArrayObject *offer) {
    int same = PyArray_NDIM(offer) == ndim;
    for (int a = 0; same && a < ndim; a++) same = PyArray_DIMS(offer)[a] == shape[a];
    if (same) {
        Py_INCREF(offer);
        return (PyObject *)offer;
    }
    npy_intp dims[CCG_MAX_NDIM];
    for (int a = 0; a < ndim; a++) dims[a] = (npy_intp)shape[a];
    PyObject *arr = PyArray_New(&PyArray_Type, ndim, dims, typenum, NULL, PyArray_DATA(offer), 0,
                                NPY_ARRAY_CARRAY, NULL);
    if (arr == NULL) return NULL;
    Py_INCREF(offer);
    if (PyArray_SetBaseObject((PyArrayObject *)arr, (PyObject *)offer) < 0) {
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

static PyObject *scalar_output(int typenum, const int64_t *value) {
    PyObject *arr = PyArray_SimpleNew(0, NULL, typenum);
    if (arr == NULL) return NULL;
    memcpy(PyArray_DATA((PyArrayObject *)arr), value, PyArray_ITEMSIZE((PyArrayObject *)arr));
    return arr;
}

static int ok_fast(PyObject *obj, int typenum, int ndim) {
    if (!PyArray_CheckExact(obj)) return 0;
    PyArrayObject *a = (PyArrayObject *)obj;
    return PyArray_TYPE(a) == typenum && PyArray_NDIM(a) == ndim &&
           PyArray_ISALIGNED(a) && PyArray_ISNOTSWAPPED(a);
}

/* May `a` receive output j in place?  A C-contiguous, aligned, writeable ndarray of the output's
 * dtype that overlaps no input (except the input donated to it, which the kernel handles). */
static int offer_ok(KernelObject *k, PyObject *a, int j, PyObject *const *arrays, int n_all) {
    if (a == NULL || a == Py_None || !PyArray_CheckExact(a)) return 0;
    PyArrayObject *o = (PyArrayObject *)a;
    if (PyArray_TYPE(o) != k->out_type[j] || PyArray_NDIM(o) == 0 || !PyArray_ISCARRAY(o)) return 0;
    char *lo = PyArray_BYTES(o), *hi = lo + PyArray_NBYTES(o);
    for (int i = 0; i < n_all; i++) {
        PyArrayObject *in = (PyArrayObject *)(i < k->n_in ? arrays[i] : PyTuple_GET_ITEM(k->extra, i - k->n_in));
        if (i == k->donor[j] && (PyObject *)in == a) continue;  /* the donated input itself */
        char *ilo = PyArray_BYTES(in);
        npy_intp span = PyArray_NBYTES(in);
        /* bound the input's memory: from its first to its last element, any strides */
        char *a0 = ilo, *a1 = ilo + (span ? PyArray_ITEMSIZE(in) : 0);
        for (int d = 0; d < PyArray_NDIM(in); d++) {
            npy_intp ext = (PyArray_DIMS(in)[d] - 1) * PyArray_STRIDES(in)[d];
            if (PyArray_DIMS(in)[d] == 0) { a1 = a0; break; }
            if (ext < 0) a0 += ext; else a1 += ext;
        }
        if (a0 < hi && lo < a1) return 0;
    }
    return 1;
}

/* Run the kernel on already-checked arrays (argument i of `arrays`, then the hidden inputs).
 * offers: NULL, or one object per output (an ndarray the result may be written into, or None);
 * an output written into its offer comes back as that very array. */
static PyObject *run_kernel_offers(KernelObject *k, PyObject *const *arrays, int single, PyObject *const *offers);

static PyObject *run_kernel(KernelObject *k, PyObject *const *arrays, int single) {
    return run_kernel_offers(k, arrays, single, NULL);
}

static PyObject *run_kernel_offers(KernelObject *k, PyObject *const *arrays, int single, PyObject *const *offers) {
    int n_all = k->n_in + k->n_extra;
    ccg_in in_stack[MAX_STACK_ARGS];
    ccg_out out_stack[MAX_STACK_ARGS];
    ccg_in *ins = in_stack;
    ccg_out *outs = out_stack;
    static const int64_t zero_stride[1] = {0};
    PyObject *result = NULL;
    if (n_all > MAX_STACK_ARGS) {
        ins = PyMem_Malloc(sizeof(ccg_in) * n_all);
        if (!ins) return PyErr_NoMemory();
    }
    if (k->n_out > MAX_STACK_ARGS) {
        outs = PyMem_Malloc(sizeof(ccg_out) * k->n_out);
        if (!outs) {
            if (ins != in_stack) PyMem_Free(ins);
            return PyErr_NoMemory();
        }
    }
    for (int i = 0; i < n_all; i++) {
        PyArrayObject *a = (PyArrayObject *)(i < k->n_in ? arrays[i]
                                             : PyTuple_GET_ITEM(k->extra, i - k->n_in));
        ins[i].data = PyArray_BYTES(a);
        ins[i].shape = (const int64_t *)PyArray_DIMS(a);
        ins[i].strides = PyArray_NDIM(a) ? (const int64_t *)PyArray_STRIDES(a) : zero_stride;
    }
    for (int j = 0; j < k->n_out; j++) {
        outs[j].data = NULL;
        outs[j].capacity = 0;
        if (offers != NULL && offer_ok(k, offers[j], j, arrays, n_all)) {
            outs[j].data = PyArray_DATA((PyArrayObject *)offers[j]);
            outs[j].capacity = (int64_t)PyArray_NBYTES((PyArrayObject *)offers[j]);
        }
    }
    ccg_err err;
    err.code = 0;
    err.msg[0] = 0;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = k->run(ins, outs, &err);
    Py_END_ALLOW_THREADS
    if (rc != 0) {
        if (err.code == 0) err.code = rc;
        PyObject *r = PyObject_CallFunction(k->on_error, "iiiLLs", err.code, err.arg, err.axis,
                                            (long long)err.expected, (long long)err.got, err.msg);
        Py_XDECREF(r);
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, err.msg);
        goto done;
    }
    if (single && k->n_out == 1) {
        if (k->out_ndim[0] == 0) result = scalar_output(k->out_type[0], outs[0].scalar);
        else result = wrap_output(k->out_type[0], k->out_ndim[0], outs[0].shape, outs[0].data);
        goto done;
    }
    result = PyList_New(k->n_out);
    if (result == NULL) {
        for (int j = 0; j < k->n_out; j++) free(outs[j].data);
        goto done;
    }
    for (int j = 0; j < k->n_out; j++) {
        PyObject *o;
        if (k->out_ndim[j] == 0) o = scalar_output(k->out_type[j], outs[j].scalar);
        else if (offers != NULL && offers[j] != Py_None && offers[j] != NULL &&
                 PyArray_Check(offers[j]) && outs[j].data == PyArray_DATA((PyArrayObject *)offers[j])) {
            o = offered_output(k->out_type[j], k->out_ndim[j], outs[j].shape, (PyArrayObject *)offers[j]);
            outs[j].data = NULL;
        } else {
            o = wrap_output(k->out_type[j], k->out_ndim[j], outs[j].shape, outs[j].data);
            outs[j].data = NULL;
        }
        if (o == NULL) {
            for (int r = j + 1; r < k->n_out; r++) free(outs[r].data);
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, j, o);
    }
done:
    if (ins != in_stack) PyMem_Free(ins);
    if (outs != out_stack) PyMem_Free(outs);
    return result;
}

static PyObject *kernel_call_args(KernelObject *k, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != k->n_in) {
        PyErr_Format(PyExc_TypeError, "compiled function takes %d argument(s), got %zd", k->n_in, nargs);
        return NULL;
    }
    PyObject *conv_stack[MAX_STACK_ARGS];
    PyObject **conv = conv_stack;
    if (k->trust) return run_kernel(k, args, k->single);
    int need = 0;
    for (int i = 0; i < k->n_in; i++) {
        if (!ok_fast(args[i], k->in_type[i], k->in_ndim[i])) { need = 1; break; }
    }
    if (!need) return run_kernel(k, args, k->single);
    if (k->n_in > MAX_STACK_ARGS) {
        conv = PyMem_Malloc(sizeof(PyObject *) * k->n_in);
        if (!conv) return PyErr_NoMemory();
    }
    PyObject *result = NULL;
    int i;
    for (i = 0; i < k->n_in; i++) {
        if (ok_fast(args[i], k->in_type[i], k->in_ndim[i])) {
            Py_INCREF(args[i]);
            conv[i] = args[i];
            continue;
        }
        PyObject *idx = PyLong_FromLong(i);
        conv[i] = idx ? PyObject_CallFunctionObjArgs(k->convert, idx, args[i], NULL) : NULL;
        Py_XDECREF(idx);
        if (conv[i] == NULL) break;
        if (!ok_fast(conv[i], k->in_type[i], k->in_ndim[i])) {
            PyErr_Format(PyExc_TypeError, "argument %d: converter returned an unsuitable array", i);
            Py_DECREF(conv[i]);
            break;
        }
    }
    if (i == k->n_in) result = run_kernel(k, conv, k->single);
    for (int j = 0; j < i; j++) Py_DECREF(conv[j]);
    if (conv != conv_stack) PyMem_Free(conv);
    return result;
}

static PyObject *kernel_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0) {
        /* keyword arguments: let the Python layer bind them by name */
        PyObject *bind = PyObject_GetAttrString(self, "_call_with_keywords");
        if (bind == NULL) return NULL;
        PyObject *r = PyObject_Vectorcall(bind, args, nargsf, kwnames);
        Py_DECREF(bind);
        return r;
    }
    return kernel_call_args((KernelObject *)self, args, PyVectorcall_NARGS(nargsf));
}

/* Kernel.run(arrays, offers=None) -> list of outputs: the path used by Python wrappers
 * (shared variables, updates, Out(borrow=True)).  Arguments must already be converted;
 * offers: a sequence with one ndarray-or-None per output (see run_kernel_offers). */
static PyObject *kernel_run(KernelObject *k, PyObject *args) {
    PyObject *seq, *offer_seq = Py_None;
    if (!PyArg_ParseTuple(args, "O|O:run", &seq, &offer_seq)) return NULL;
    PyObject *fast = PySequence_Fast(seq, "run() takes a sequence of arrays");
    if (fast == NULL) return NULL;
    PyObject *offers_fast = NULL;
    if (offer_seq != Py_None) {
        offers_fast = PySequence_Fast(offer_seq, "run(): offers must be a sequence");
        if (offers_fast == NULL) { Py_DECREF(fast); return NULL; }
        if (PySequence_Fast_GET_SIZE(offers_fast) != k->n_out) {
            PyErr_Format(PyExc_ValueError, "run(): expected %d offers, got %zd", k->n_out,
                         PySequence_Fast_GET_SIZE(offers_fast));
            Py_DECREF(fast);
            Py_DECREF(offers_fast);
            return NULL;
        }
    }
    if (PySequence_Fast_GET_SIZE(fast) != k->n_in) {
        PyErr_Format(PyExc_TypeError, "run() expects %d arrays, got %zd", k->n_in,
                     PySequence_Fast_GET_SIZE(fast));
        Py_DECREF(fast);
        return NULL;
    }
    PyObject **items = PySequence_Fast_ITEMS(fast);
    for (int i = 0; i < k->n_in; i++) {
        if (!ok_fast(items[i], k->in_type[i], k->in_ndim[i])) {
            PyErr_Format(PyExc_TypeError, "run(): array %d has the wrong type, dtype or ndim", i);
            Py_DECREF(fast);
            Py_XDECREF(offers_fast);
            return NULL;
        }
    }
    PyObject *r = run_kernel_offers(k, items, 0, offers_fast ? PySequence_Fast_ITEMS(offers_fast) : NULL);
    Py_DECREF(fast);
    Py_XDECREF(offers_fast);
    return r;
}

static int parse_ints(PyObject *seq, int **out, int *n) {
    PyObject *fast = PySequence_Fast(seq, "expected a sequence of ints");
    if (!fast) return -1;
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    *out = PyMem_Malloc(sizeof(int) * (len ? len : 1));
    if (!*out) { Py_DECREF(fast); PyErr_NoMemory(); return -1; }
    for (Py_ssize_t i = 0; i < len; i++) {
        long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, i));
        if (v == -1 && PyErr_Occurred()) { Py_DECREF(fast); return -1; }
        (*out)[i] = (int)v;
    }
    *n = (int)len;
    Py_DECREF(fast);
    return 0;
}

/* Kernel(address, in_types, in_ndims, out_types, out_ndims, n_args, extra, convert, on_error,
 *        keep, single, donors=None) */
static int kernel_init(KernelObject *k, PyObject *args, PyObject *kwds) {
    unsigned long long address;
    PyObject *it, *idm, *ot, *odm, *extra, *convert, *on_error, *keep, *donors = Py_None;
    int n_args, single;
    static char *kwlist[] = {"address", "in_types", "in_ndims", "out_types", "out_ndims", "n_args",
                             "extra", "convert", "on_error", "keep", "single", "donors", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "KOOOOiO!OOOp|O", kwlist, &address, &it, &idm, &ot,
                                     &odm, &n_args, &PyTuple_Type, &extra, &convert, &on_error,
                                     &keep, &single, &donors))
        return -1;
    int n1, n2, n3, n4, n5 = -1;
    if (parse_ints(it, &k->in_type, &n1) < 0 || parse_ints(idm, &k->in_ndim, &n2) < 0 ||
        parse_ints(ot, &k->out_type, &n3) < 0 || parse_ints(odm, &k->out_ndim, &n4) < 0)
        return -1;
    if (donors != Py_None) {
        if (parse_ints(donors, &k->donor, &n5) < 0) return -1;
    } else {
        k->donor = PyMem_Malloc(sizeof(int) * (n3 ? n3 : 1));
        if (!k->donor) { PyErr_NoMemory(); return -1; }
        for (int j = 0; j < n3; j++) k->donor[j] = -1;
        n5 = n3;
    }
    if (n1 != n2 || n3 != n4 || n5 != n3 || n_args > n1 || n1 - n_args != PyTuple_GET_SIZE(extra)) {
        PyErr_SetString(PyExc_ValueError, "inconsistent kernel signature");
        return -1;
    }
    for (int i = 0; i < n1; i++) {
        if (k->in_ndim[i] < 0 || k->in_ndim[i] > CCG_MAX_NDIM) {
            PyErr_SetString(PyExc_ValueError, "ndim out of range");
            return -1;
        }
    }
    for (Py_ssize_t e = 0; e < PyTuple_GET_SIZE(extra); e++) {
        PyObject *a = PyTuple_GET_ITEM(extra, e);
        if (!ok_fast(a, k->in_type[n_args + e], k->in_ndim[n_args + e])) {
            PyErr_SetString(PyExc_TypeError, "hidden input has the wrong type");
            return -1;
        }
    }
    k->run = (ccg_run_fn)(uintptr_t)address;
    k->n_in = n_args;
    k->n_extra = n1 - n_args;
    k->n_out = n3;
    k->single = single;
    k->trust = 0;
    Py_INCREF(extra); k->extra = extra;
    Py_INCREF(convert); k->convert = convert;
    Py_INCREF(on_error); k->on_error = on_error;
    Py_INCREF(keep); k->keep = keep;
    k->vectorcall = kernel_vectorcall;
    return 0;
}

static PyObject *kernel_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    KernelObject *k = (KernelObject *)type->tp_alloc(type, 0);
    if (k) k->vectorcall = kernel_vectorcall;
    return (PyObject *)k;
}

static int kernel_traverse(KernelObject *k, visitproc visit, void *arg) {
    Py_VISIT(k->extra);
    Py_VISIT(k->convert);
    Py_VISIT(k->on_error);
    Py_VISIT(k->keep);
    Py_VISIT(k->dict);
    return 0;
}

static int kernel_clear(KernelObject *k) {
    Py_CLEAR(k->extra);
    Py_CLEAR(k->convert);
    Py_CLEAR(k->on_error);
    Py_CLEAR(k->keep);
    Py_CLEAR(k->dict);
    return 0;
}

static void kernel_dealloc(KernelObject *k) {
    PyObject_GC_UnTrack(k);
    if (k->weakrefs) PyObject_ClearWeakRefs((PyObject *)k);
    kernel_clear(k);
    PyMem_Free(k->in_type);
    PyMem_Free(k->in_ndim);
    PyMem_Free(k->out_type);
    PyMem_Free(k->out_ndim);
    PyMem_Free(k->donor);
    Py_TYPE(k)->tp_free((PyObject *)k);
}

static PyObject *kernel_get_trust(KernelObject *k, void *c) { return PyBool_FromLong(k->trust); }
static int kernel_set_trust(KernelObject *k, PyObject *v, void *c) {
    int t = v ? PyObject_IsTrue(v) : 0;
    if (t < 0) return -1;
    k->trust = t;
    return 0;
}

static PyGetSetDef kernel_getset[] = {
    {"trust_input", (getter)kernel_get_trust, (setter)kernel_set_trust,
     "skip argument validation (unsafe: wrong arguments can crash the process)", NULL},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL},
};

static PyMethodDef kernel_methods[] = {
    {"run", (PyCFunction)kernel_run, METH_VARARGS,
     "run(arrays, offers=None) -> list of outputs (arrays already converted)"},
    {NULL},
};

static PyTypeObject KernelType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ccgrad._dispatch.Kernel",
    .tp_basicsize = sizeof(KernelObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "A compiled kernel: call it with numpy arrays.",
    .tp_new = kernel_new,
    .tp_init = (initproc)kernel_init,
    .tp_dealloc = (destructor)kernel_dealloc,
    .tp_traverse = (traverseproc)kernel_traverse,
    .tp_clear = (inquiry)kernel_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(KernelObject, vectorcall),
    .tp_dictoffset = offsetof(KernelObject, dict),
    .tp_weaklistoffset = offsetof(KernelObject, weakrefs),
    .tp_getset = kernel_getset,
    .tp_methods = kernel_methods,
};

static struct PyModuleDef dispatch_module = {
    PyModuleDef_HEAD_INIT, "_dispatch", "ccgrad's call path for compiled functions", -1, NULL,
};

PyMODINIT_FUNC PyInit__dispatch(void) {
    import_array();
    if (PyType_Ready(&KernelType) < 0) return NULL;
    PyObject *m = PyModule_Create(&dispatch_module);
    if (m == NULL) return NULL;
    Py_INCREF(&KernelType);
    if (PyModule_AddObject(m, "Kernel", (PyObject *)&KernelType) < 0) {
        Py_DECREF(&KernelType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
