"""C emitters waiting to move into their op classes (the op modules are being edited by others
right now).  dispatch.py consults this table after an op's own c_code.  Temporary."""

from __future__ import annotations

from ccgrad.lower.values import CVal


def dimshuffle_c(ctx, node, ins):
    x = ins[0]
    order = node.op.new_order
    shape = ["1" if o == "x" else x.shape[o] for o in order]
    strides = ["0" if o == "x" else x.strides[o] for o in order]
    kept = [o for o in order if o != "x"]
    contiguous = x.contiguous and kept == sorted(kept)
    out = CVal(x.dtype, len(order), ptr=x.ptr, shape=shape, strides=strides, scalar=x.scalar,
               contiguous=contiguous, base=x.base)
    return [out]


PENDING = {"DimShuffle": dimshuffle_c}


def shape_c(ctx, node, ins):
    x = ins[0]
    n = len(x.shape)
    name = ctx.name("shp")
    dims = ", ".join(x.shape) or "0"
    ctx.line(f"int64_t {name}[{max(1, n)}] = {{{dims}}};")
    return [CVal("int64", 1, ptr=name, shape=[str(n)], strides=["1"], contiguous=True, base="const")]


def shape_i_c(ctx, node, ins):
    return [CVal("int64", 0, scalar=f"((int64_t){ins[0].shape[node.op.i]})", contiguous=True)]


def specify_shape_like_c(ctx, node, ins):
    x, ref = ins
    for a, (d, r) in enumerate(zip(x.shape, ref.shape)):
        if d != r:
            ctx.check(f"{d} == {r}", 1,
                      f"evaluation point {ctx.dim_name(d) or 'value'} has length %lld on axis {a}, but the "
                      f"variable it is paired with ({ctx.dim_name(r) or 'value'}) has length %lld", d, r,
                      axis=a, expected=r, got=d)
    return [x]


def alloc_c(ctx, node, ins):
    from ccgrad.lower.loops import emit_elementwise

    value, *dims = ins
    out_var = node.outputs[0]
    shape = []
    for a, d in enumerate(dims):
        name = ctx.name("d")
        ctx.line(f"const int64_t {name} = (int64_t)({d.value()});")
        ctx.check(f"{name} >= 0", 3, f"alloc: negative length %lld on axis {a}", name)
        shape.append(name)
    off = len(dims) - value.ndim
    vin = value
    if value.ndim:
        # align the value's axes to the right and check broadcasting
        for a in range(value.ndim):
            vd = node.inputs[0].type.shape[a]
            if vd != 1:
                ctx.check(f"{value.shape[a]} == {shape[off + a]}", 1,
                          f"alloc: value of length %lld on axis {a} cannot fill length %lld",
                          value.shape[a], shape[off + a])
        vin = CVal(value.dtype, len(dims), ptr=value.ptr, scalar=value.scalar,
                   shape=["1"] * off + list(value.shape), strides=["0"] * off + list(value.strides),
                   base=value.base)
    if out_var.ndim == 0:
        return [ctx.scalar(node, 0, init=value.value())]
    out = ctx.alloc(node, 0, shape)
    pattern = tuple([1] * off + [1 if s == 1 else None for s in node.inputs[0].type.shape])
    from ccgrad.ops.elemwise import c_cast

    emit_elementwise(ctx, [out], [vin], [pattern],
                     lambda e: ([], [c_cast(e[0], value.dtype, out_var.dtype)]))
    return [out]


PENDING.update({
    "Shape": shape_c,
    "ShapeI": shape_i_c,
    "SpecifyShapeLike": specify_shape_like_c,
    "Alloc": alloc_c,
})
