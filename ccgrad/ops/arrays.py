"""Array construction and combination: Join (concatenate), stack, ARange, Eye, diag, tile, repeat, zeros/ones."""

from __future__ import annotations
