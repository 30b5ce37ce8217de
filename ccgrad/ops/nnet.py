"""Neural-net helpers as Theano's T.nnet has them: sigmoid, softplus, relu and friends, softmax
and log_softmax over the last axis (Softmax, LogSoftmax ops, stable by max subtraction),
categorical and binary cross-entropy, and OneHot (`to_one_hot`).

This module *is* `T.nnet`: every public function is a plain module attribute; the ones without
an elementwise namesake are also registered, so `T.softmax` works as well as `T.nnet.softmax`.
"""

from __future__ import annotations

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Apply, Constant, Op, TensorType, Variable, as_variable, builder, register
from ccgrad.options import config


def _b(name: str):
    return builder(name)


def _sum_keep(x: Variable, axis: int) -> Variable:
    return _b("sum")(x, axis=axis, keepdims=True)


def _last_axis(x: Variable, axis: int, what: str) -> int:
    if x.ndim == 0:
        raise TypeError(f"{what}: needs an input with at least one axis, got a 0-d {x.type!r}")
    if not -x.ndim <= int(axis) < x.ndim:
        raise ValueError(f"{what}: axis {axis} is out of range for a {x.ndim}-d input")
    return int(axis) % x.ndim


# ---------------------------------------------------------------------------------------------
# softmax / log_softmax


class _SoftmaxBase(Op):
    """Shared type rule, shape rule, batching and printing of Softmax and LogSoftmax."""

    abstract = True
    __props__ = ("axis",)
    name = ""

    def __init__(self, axis: int):
        self.axis = int(axis)

    def make_node(self, x) -> Apply:
        x = as_variable(x)
        axis = _last_axis(x, self.axis, self.name)
        if axis != self.axis:
            raise ValueError(f"{self.name}: the op's axis must be non-negative, got {self.axis}")
        out = dtypes.upcast_to_float(x.dtype)
        return Apply(self, [x], [TensorType(out, shape=x.type.shape)])

    def _shifted(self, node, x: np.ndarray) -> np.ndarray:
        """x minus its max along the axis (finite maxima only), in the output dtype."""
        x = x.astype(node.outputs[0].dtype, copy=False)
        m = np.max(x, axis=self.axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        return x - m

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def batch(self, node, inputs, batched):
        axis = self.axis + 1 if batched[0] else self.axis
        return [type(self)(axis).make_node(inputs[0]).outputs[0]], [batched[0]]

    def pp(self, node, args):
        if self.axis == node.inputs[0].ndim - 1:
            return f"{self.name}({args[0]})"
        return f"{self.name}({args[0]}, axis={self.axis})"

    def c_code(self, ctx, node, ins):
        """Per lane along the axis: max (finite maxima only), sum of exp(x - max), then the
        normalized values; accumulation in double."""
        from ccgrad.lower.loops import emit_lanes

        out_dt = node.outputs[0].dtype
        x = ctx.cast(ctx.materialize(ins[0]), out_dt)
        out = ctx.alloc(node, 0, list(x.shape))
        ax = self.axis
        n = x.shape[ax]
        sx, so = x.strides[ax], out.strides[ax]
        f = "f" if out_dt == "float32" else ""
        ct = dtypes.c_type(out_dt)
        is_log = isinstance(self, LogSoftmax)

        def lane(idx):
            xl, ol = ctx.name("xl"), ctx.name("ol")
            k, m, acc = ctx.name("k"), ctx.name("m"), ctx.name("s")
            off_x = " + ".join(f"{i} * {st}" for i, st in zip(idx, x.strides) if i != "0") or "0"
            off_o = " + ".join(f"{i} * {st}" for i, st in zip(idx, out.strides) if i != "0") or "0"
            ctx.line(f"const {ct} *{xl} = {x.ptr} + ({off_x});")
            ctx.line(f"{ct} *{ol} = {out.ptr} + ({off_o});")
            ctx.line(f"{ct} {m} = -({ct})INFINITY;")
            with ctx.loop(k, n):
                ctx.line(f"{m} = ccg_max_{'f32' if f else 'f64'}({m}, {xl}[{k} * {sx}]);")
            ctx.line(f"if (!isfinite({m})) {m} = 0;")
            ctx.line(f"double {acc} = 0;")
            with ctx.loop(k + "e", n):
                e = f"{'expf' if f else 'ccg_exp'}({xl}[{k}e * {sx}] - {m})"
                if is_log:
                    ctx.line(f"{acc} += {e};")
                else:
                    ctx.line(f"{ol}[{k}e * {so}] = {e};")
                    ctx.line(f"{acc} += {ol}[{k}e * {so}];")
            with ctx.loop(k + "n", n):
                if is_log:
                    ctx.line(f"{ol}[{k}n * {so}] = ({ct})(({xl}[{k}n * {sx}] - {m}) - ({ct})log({acc}));")
                else:
                    ctx.line(f"{ol}[{k}n * {so}] = ({ct})({ol}[{k}n * {so}] / ({ct}){acc});")

        emit_lanes(ctx, list(x.shape), ax, lane)
        return [out]


class Softmax(_SoftmaxBase):
    """exp(x) / sum(exp(x)) along `axis`, computed as exp(x - max) / sum(exp(x - max))."""

    abstract = False
    name = "softmax"

    def perform(self, node, inputs):
        x = inputs[0]
        if x.shape[self.axis] == 0:
            return [np.empty(x.shape, dtype=node.outputs[0].dtype)]
        with np.errstate(all="ignore"):
            e = np.exp(self._shifted(node, x))
            out = e / np.sum(e, axis=self.axis, keepdims=True)
        return [np.asarray(out, dtype=node.outputs[0].dtype)]

    def vjp(self, node, cotangents):
        g = cotangents[0]
        if g is None or node.inputs[0].dtype not in dtypes.FLOATS:
            return [None]
        sm = node.outputs[0]
        return [(g - _sum_keep(g * sm, self.axis)) * sm]

    def jvp(self, node, tangents):
        t = tangents[0]
        if t is None:
            return [None]
        sm = node.outputs[0]
        return [sm * (t - _sum_keep(t * sm, self.axis))]


class LogSoftmax(_SoftmaxBase):
    """log(softmax(x)) along `axis`, computed as (x - max) - log(sum(exp(x - max)))."""

    abstract = False
    name = "log_softmax"

    def perform(self, node, inputs):
        x = inputs[0]
        if x.shape[self.axis] == 0:
            return [np.empty(x.shape, dtype=node.outputs[0].dtype)]
        with np.errstate(all="ignore"):
            s = self._shifted(node, x)
            out = s - np.log(np.sum(np.exp(s), axis=self.axis, keepdims=True))
        return [np.asarray(out, dtype=node.outputs[0].dtype)]

    def vjp(self, node, cotangents):
        g = cotangents[0]
        if g is None or node.inputs[0].dtype not in dtypes.FLOATS:
            return [None]
        sm = _b("exp")(node.outputs[0])
        return [g - _sum_keep(g, self.axis) * sm]

    def jvp(self, node, tangents):
        t = tangents[0]
        if t is None:
            return [None]
        sm = _b("exp")(node.outputs[0])
        return [t - _sum_keep(t * sm, self.axis)]


@register("softmax")
def softmax(x, axis: int = -1) -> Variable:
    """Softmax along `axis` (the last by default); stable for large inputs."""
    x = as_variable(x)
    return Softmax(_last_axis(x, axis, "softmax")).make_node(x).outputs[0]


@register("log_softmax")
def log_softmax(x, axis: int = -1) -> Variable:
    """log(softmax(x)) along `axis` (the last by default), without overflow or log(0)."""
    x = as_variable(x)
    return LogSoftmax(_last_axis(x, axis, "log_softmax")).make_node(x).outputs[0]


logsoftmax = log_softmax  # Theano's spelling


# ---------------------------------------------------------------------------------------------
# one-hot encoding


class OneHot(Op):
    """OneHot{dtype}(idx, depth)[..., k] = (idx[...] == k); idx integer, 0 <= idx < depth."""

    __props__ = ("dtype",)
    pp_name = "one_hot"

    def __init__(self, dtype: str):
        self.dtype = dtypes.canonical(dtype)

    def make_node(self, idx, depth) -> Apply:
        idx = as_variable(idx)
        if idx.dtype not in dtypes.INTS:
            raise TypeError(f"one_hot: class indices must be integers, got {idx.type!r}")
        if isinstance(depth, int | np.integer) and not isinstance(depth, bool):
            depth = Constant(TensorType("int64", shape=()), int(depth))
        depth = as_variable(depth)
        if depth.ndim != 0 or depth.dtype not in dtypes.INTS:
            raise TypeError(f"one_hot: the number of classes must be an integer scalar, got {depth.type!r}")
        static = int(depth.data) if isinstance(depth, Constant) else None
        if static is not None and static < 0:
            raise ValueError(f"one_hot: negative number of classes {static}")
        return Apply(self, [idx, depth], [TensorType(self.dtype, shape=idx.type.shape + (static,))])

    def perform(self, node, inputs):
        idx, depth = inputs
        depth = int(depth)
        if depth < 0:
            raise ValueError(f"one_hot: negative number of classes {depth}")
        if depth and idx.size > 2**62 // depth:
            raise MemoryError(f"one_hot: {idx.size} x {depth} elements cannot be allocated")
        if depth > 2**62:  # np.arange(depth) would silently be empty (numpy 2.4)
            raise MemoryError(f"one_hot: {depth} classes cannot be allocated")
        bad = (idx < 0) | (idx >= depth)
        if np.any(bad):
            raise ValueError(f"one_hot: class index {idx[bad].flat[0]} is out of range for "
                             f"{depth} classes (indices of shape {idx.shape})")
        out = idx[..., None] == np.arange(depth)
        return [out.astype(self.dtype)]

    def infer_shape(self, node, input_shapes):
        return [tuple(input_shapes[0]) + (node.inputs[1],)]

    def connection_pattern(self, node):
        return [[False], [False]]

    def vjp(self, node, cotangents):
        return [None, None]

    def jvp(self, node, tangents):
        return [None]

    def c_code(self, ctx, node, ins):
        from ccgrad.lower.loops import emit_elementwise

        idx, depth = ins
        d = ctx.name("depth")
        ctx.line(f"const int64_t {d} = (int64_t)({depth.value()});")
        ctx.check(f"{d} >= 0", 3, "one_hot: negative number of classes %lld", d)
        out = ctx.alloc(node, 0, list(idx.shape) + [d])
        i = ctx.name("oh")
        with ctx.loop(i, out.size()):
            ctx.line(f"{out.ptr}[{i}] = 0;")
        # one pass over the indices: check the range, set the 1
        iv = ctx.materialize(idx)
        k = ctx.name("k")
        shape = list(iv.shape)
        pattern = tuple(None for _ in shape)
        flat = ctx.name("f")
        ctx.line(f"int64_t {flat} = 0;")

        def body(e):
            v = ctx.name("v")
            return ([f"const int64_t {v} = (int64_t)({e[0]});",
                     f"if ({v} < 0 || {v} >= {d}) {{ ccg_fail(err, 3, -1, -1, {d}, {v}, "
                     f"\"one_hot: class index %lld is out of range for %lld classes\", (long long){v}, "
                     f"(long long){d}); goto fail; }}",
                     f"{out.ptr}[{flat} * {d} + {v}] = 1;", f"{flat}++;"], [])

        _ = k
        if not shape:
            stmts, _unused = body([iv.value()])
            for s_ in stmts:
                ctx.line(s_)
        else:
            emit_elementwise(ctx, [], [iv], [pattern], body, shape=shape)
        return [out]

    def batch(self, node, inputs, batched):
        if batched[1]:
            raise NotImplementedError("one_hot with a batched number of classes")
        return [self.make_node(*inputs).outputs[0]], [batched[0]]


@register("to_one_hot")
def to_one_hot(y, nb_class, dtype=None) -> Variable:
    """One-hot rows for the integer class indices y (Theano's to_one_hot; floatX by default)."""
    return OneHot(dtype or config.floatX).make_node(y, nb_class).outputs[0]


def _n_classes(coding: Variable) -> Variable:
    k = coding.type.shape[-1]
    if k is not None:
        return Constant(TensorType("int64", shape=()), k)
    return _b("shape_i")(coding, coding.ndim - 1)


# ---------------------------------------------------------------------------------------------
# activations


def sigmoid(x) -> Variable:
    """1 / (1 + exp(-x)), computed stably (the elementwise `sigmoid` row)."""
    return _b("sigmoid")(x)


def softplus(x) -> Variable:
    """log(1 + exp(x)), computed stably (the elementwise `softplus` row)."""
    return _b("softplus")(x)


@register("relu")
def relu(x, alpha=0) -> Variable:
    """max(x, 0), or the leaky x if x > 0 else alpha * x; the derivative at 0 is alpha."""
    x = as_variable(x)
    pos = x > 0
    if isinstance(alpha, int | float) and alpha == 0:
        return _b("switch")(pos, x, 0)
    return _b("switch")(pos, x, alpha * x)


@register("elu")
def elu(x, alpha=1.0) -> Variable:
    """x if x > 0 else alpha * (exp(x) - 1)."""
    x = as_variable(x)
    neg = _b("expm1")(_b("minimum")(x, 0))  # min() keeps exp from overflowing for large x
    return _b("switch")(x > 0, x, alpha * neg)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


@register("selu")
def selu(x) -> Variable:
    """Scaled ELU with the self-normalizing constants."""
    return _SELU_SCALE * elu(x, _SELU_ALPHA)


@register("softsign")
def softsign(x) -> Variable:
    """x / (1 + |x|)."""
    x = as_variable(x)
    return x / (1 + abs(x))


@register("hard_sigmoid")
def hard_sigmoid(x) -> Variable:
    """clip(0.2 * x + 0.5, 0, 1): Theano's piecewise-linear sigmoid."""
    return _b("clip")(as_variable(x) * 0.2 + 0.5, 0, 1)


@register("ultra_fast_sigmoid")
def ultra_fast_sigmoid(x) -> Variable:
    """Theano's piecewise approximation of the sigmoid (max abs error about 0.02)."""
    x = as_variable(x)
    switch = _b("switch")
    s = switch(x >= 0, 1.0, -1.0)
    a = s * x * 0.5  # |x| / 2
    z = switch(a < 1.7, 1.5 * a / (1 + a),
               switch(a < 3, 0.935409070603099 + 0.0458812946797165 * (a - 1.7), 0.99505475368673))
    return 0.5 * (s * z + 1)


# ---------------------------------------------------------------------------------------------
# losses


@register("categorical_crossentropy")
def categorical_crossentropy(coding_dist, true_dist) -> Variable:
    """Cross-entropy along the last axis between predicted distributions `coding_dist` and
    targets `true_dist`: either distributions of the same shape (-sum(true * log(coding))) or
    integer class indices with one axis less (-log(coding[..., true]))."""
    coding, true = as_variable(coding_dist), as_variable(true_dist)
    if coding.ndim == 0:
        raise TypeError(f"categorical_crossentropy: coding_dist must have a class axis, got {coding.type!r}")
    if true.ndim == coding.ndim:
        return -_b("sum")(true * _b("log")(coding), axis=-1)
    if true.ndim == coding.ndim - 1:
        if true.dtype not in dtypes.INTS:
            raise TypeError("categorical_crossentropy: with one axis less than coding_dist, true_dist "
                            f"must hold integer class indices, got {true.type!r}")
        hot = OneHot("bool").make_node(true, _n_classes(coding)).outputs[0]
        picked = _b("sum")(_b("switch")(hot, coding, 0), axis=-1)  # coding[..., true]
        return -_b("log")(picked)
    raise TypeError(f"categorical_crossentropy: true_dist {true.type!r} must have the ndim of "
                    f"coding_dist {coding.type!r} (distributions) or one less (class indices)")


@register("binary_crossentropy")
def binary_crossentropy(output, target) -> Variable:
    """-(target * log(output) + (1 - target) * log(1 - output)), elementwise."""
    output, target = as_variable(output), as_variable(target)
    log = _b("log")
    return -(target * log(output) + (1 - target) * log(1 - output))


@register("sigmoid_binary_crossentropy")
def sigmoid_binary_crossentropy(output, target) -> Variable:
    """binary_crossentropy(sigmoid(output), target), computed stably from the logits `output`."""
    output, target = as_variable(output), as_variable(target)
    return target * softplus(-output) + (1 - target) * softplus(output)
