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
