"""How a graph value looks inside generated C: a typed pointer with per-axis length and element
stride expressions, or (for 0-d values) a C scalar expression."""

from __future__ import annotations

from dataclasses import dataclass, field

from ccgrad import dtypes


@dataclass
class CVal:
    """A value in generated code.

    ptr: C expression of type `T *` addressing element (0, ..., 0), or None for a register scalar.
    shape / strides: one C expression per axis; strides count elements, not bytes.
    scalar: for 0-d values held in a C variable or literal, the expression of the value.
    contiguous: True when known to be C-contiguous at compile time (strides are row-major).
    contig_flag: a C expression that is non-zero when the layout is C-contiguous at run time.
    base: the storage that owns the memory ("s3" slot, "in0" input, "out1" output, "const");
      views share their base.
    """

    dtype: str
    ndim: int
    ptr: str | None = None
    shape: list[str] = field(default_factory=list)
    strides: list[str] = field(default_factory=list)
    scalar: str | None = None
    contiguous: bool = False
    contig_flag: str | None = None
    base: str | None = None

    @property
    def ctype(self) -> str:
        return dtypes.c_type(self.dtype)

    def at(self, idx: list[str]) -> str:
        """C expression of the element at index expressions `idx` (one per axis)."""
        if self.scalar is not None:
            return self.scalar
        if self.ndim == 0:
            return f"{self.ptr}[0]"
        terms = [_mul(i, s) for i, s in zip(idx, self.strides)]
        terms = [t for t in terms if t != "0"]
        return f"{self.ptr}[{' + '.join(terms) if terms else '0'}]"

    def value(self) -> str:
        """The value of a 0-d CVal."""
        if self.ndim != 0:
            raise ValueError("value() of a non-scalar")
        return self.scalar if self.scalar is not None else f"{self.ptr}[0]"

    def size(self) -> str:
        if not self.shape:
            return "1"
        return " * ".join(f"({s})" if not s.isidentifier() else s for s in self.shape)

    def runtime_contiguous(self) -> str:
        """A C condition true when this value is C-contiguous at run time."""
        if self.contiguous or self.ndim == 0:
            return "1"
        return self.contig_flag or contiguity_condition(self.shape, self.strides)


def _mul(a: str, b: str) -> str:
    if a == "0" or b == "0":
        return "0"
    if b == "1":
        return a
    if a == "1":
        return b
    return f"{_paren(a)} * {_paren(b)}"


def _paren(e: str) -> str:
    return e if e.replace("_", "").isalnum() else f"({e})"


def contiguity_condition(shape: list[str], strides: list[str]) -> str:
    """C condition: strides are row-major for this shape (axes of length 1 ignored; an empty
    array counts as contiguous)."""
    if not shape:
        return "1"
    conds = []
    expect = "1"
    for d, s in zip(reversed(shape), reversed(strides)):
        if s == expect:
            pass
        else:
            conds.append(f"({s} == {expect} || {d} == 1)")
        expect = d if expect == "1" else f"{expect} * {d}"
    empty = " || ".join(f"{d} == 0" for d in shape)
    if not conds:
        return "1"
    return f"(({' && '.join(conds)}) || {empty})"


def row_major_strides(shape: list[str]) -> list[str]:
    """Element strides of a C-contiguous array with these axis lengths."""
    strides = []
    acc = "1"
    for d in reversed(shape):
        strides.append(acc)
        acc = d if acc == "1" else f"{acc} * {_paren(d)}"
    return list(reversed(strides))
