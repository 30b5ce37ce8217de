"""Linear algebra: Dot for every vector/matrix combination (numpy semantics), matmul, tensordot (2-D cases), outer."""

from __future__ import annotations
