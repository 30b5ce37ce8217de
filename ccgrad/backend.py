"""The C backend: optimized FunctionGraph -> lowered source -> cached module -> Kernel.

A Kernel (ccgrad._dispatch) is the call path: it checks arguments in C and calls the module's
ccg_run through its address.  Arguments that are not already aligned ndarrays of the right
dtype and ndim go through `TensorType.filter`, so conversion rules and their error messages
live in one place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ccgrad.graph import FunctionGraph, Variable

ERRORS = {1: ValueError, 2: IndexError, 3: ValueError, 4: MemoryError, 5: RuntimeError}


def arg_names(inputs: Sequence[Variable]) -> list[str]:
    return [v.name or f"input {i}" for i, v in enumerate(inputs)]


def make_converter(inputs: Sequence[Variable], names: list[str], allow_downcast: bool | None):
    """convert(i, value) -> an aligned ndarray of input i's dtype and ndim, or a clear error."""
    types = [v.type for v in inputs]

    def convert(i: int, value) -> np.ndarray:
        arr = types[i].filter(value, name=names[i], allow_downcast=allow_downcast)
        if type(arr) is not np.ndarray:
            arr = np.asarray(arr)
        if not arr.flags.aligned or not arr.dtype.isnative:
            arr = np.array(arr, dtype=arr.dtype.newbyteorder("="), order="C")
        return arr

    return convert


def make_error_handler(names: list[str]):
    """on_error(code, arg, axis, expected, got, msg): raise the Python exception for a kernel
    error, with {in:K} placeholders replaced by argument names."""

    def on_error(code: int, arg: int, axis: int, expected: int, got: int, msg: str) -> None:
        text = re.sub(r"\{in:(\d+)\}", lambda m: _name(names, int(m.group(1))), msg)
        raise ERRORS.get(code, RuntimeError)(text)

    return on_error


def _name(names: list[str], k: int) -> str:
    return f"'{names[k]}'" if k < len(names) else f"hidden input {k - len(names)}"


def numpy_typenum(dtype: str) -> int:
    return np.dtype(dtype).num


class CompiledKernel:
    """A loaded module plus its signature: everything needed to make Kernels for a graph."""

    def __init__(self, inputs: Sequence[Variable], signature: dict, hidden: list[np.ndarray], loaded,
                 donate: dict[int, int] | None = None):
        self.inputs = list(inputs)
        self.signature = signature  # {"inputs": [[dtype, ndim]...], "outputs": [...]}
        self.hidden = hidden
        self.loaded = loaded
        self.donate = dict(donate or {})

    def kernel_args(self, names: list[str], allow_downcast: bool | None, single: bool) -> dict:
        sig = self.signature
        return dict(
            address=self.loaded.address,
            in_types=[numpy_typenum(d) for d, _ in sig["inputs"]],
            in_ndims=[n for _, n in sig["inputs"]],
            out_types=[numpy_typenum(d) for d, _ in sig["outputs"]],
            out_ndims=[n for _, n in sig["outputs"]],
            n_args=len(self.inputs),
            extra=tuple(np.ascontiguousarray(h) for h in self.hidden),
            convert=make_converter(self.inputs, names, allow_downcast),
            on_error=make_error_handler(names),
            keep=self.loaded.module,
            single=single,
            donors=[self.donate.get(j, -1) for j in range(len(sig["outputs"]))],
        )


    def runner(self):
        """run(values, offers=None) -> outputs, for Python wrappers (values already converted)."""
        from ccgrad._dispatch import Kernel

        names = arg_names(self.inputs)
        k = Kernel(**self.kernel_args(names, None, False))
        return k.run


_MEMO: dict[str, CompiledKernel] = {}


_CODE_DIGEST: str | None = None


def code_digest() -> str:
    """sha256 of ccgrad's own sources (Python and C): the warm-start index maps an unoptimized
    graph straight to a module, so any change to the optimizer or the code generator must
    change that mapping, released or not."""
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        import hashlib
        import os

        from ccgrad import _paths

        h = hashlib.sha256()
        pkg = os.path.dirname(os.path.abspath(__file__))
        roots = [pkg, _paths.csrc_dir()]
        for root in roots:
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
                for fn in sorted(filenames):
                    if fn.endswith((".py", ".h", ".c")):
                        path = os.path.join(dirpath, fn)
                        h.update(os.path.relpath(path, root).encode())
                        with open(path, "rb") as fh:
                            h.update(fh.read())
        _CODE_DIGEST = h.hexdigest()
    return _CODE_DIGEST


def graph_fingerprint(original: FunctionGraph, donate: dict[int, int] | None = None) -> str:
    """Identity of an unoptimized graph for this ccgrad (its exact code) and toolchain: the
    warm-start key."""
    from ccgrad import cache
    from ccgrad.fingerprint import fingerprint

    don = sorted((donate or {}).items())
    return fingerprint(original, extra=f"c|{code_digest()}|{cache.toolchain_digest()}|{don}")


def lookup(original: FunctionGraph, donate: dict[int, int] | None = None) -> tuple[str, CompiledKernel | None]:
    """(fingerprint, the kernel already built for this unoptimized graph or None): a hit skips
    optimizing, lowering and compiling."""
    from ccgrad import cache

    fp = graph_fingerprint(original, donate)
    hit = _MEMO.get(fp)
    if hit is not None:
        return fp, CompiledKernel(original.inputs, hit.signature, hit.hidden, hit.loaded, donate)
    got = cache.index_get(fp)
    if got is None:
        return fp, None
    rec, hidden = got
    loaded = cache.load_key(rec["key"])
    if loaded is None:
        return fp, None
    ck = CompiledKernel(original.inputs, rec, hidden, loaded, donate)
    _MEMO[fp] = ck
    return fp, ck


def build(fgraph: FunctionGraph, name: str | None = None, fp: str | None = None,
          donate: dict[int, int] | None = None) -> CompiledKernel:
    """Lower and build (or load from the cache) the module computing `fgraph`; with `fp`, also
    remember it under the unoptimized graph's fingerprint.  donate: see lower()."""
    from ccgrad import cache
    from ccgrad.lower import lower

    program = lower(fgraph, donate)
    loaded = cache.get_or_build(program.source, program.features, name=name)
    sig = {"inputs": [list(t) for t in program.inputs], "outputs": [list(t) for t in program.outputs],
           "key": loaded.key}
    ck = CompiledKernel(fgraph.inputs, sig, list(program.hidden), loaded, donate)
    if fp is not None:
        _MEMO[fp] = ck
        cache.index_put(fp, sig, list(program.hidden))
    return ck
