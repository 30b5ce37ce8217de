"""C emitters waiting to move into their op classes (the op modules are being edited by others
right now).  dispatch.py consults this table after an op's own c_code.  Temporary: every entry
has moved into its class (shape/indexing ops: ccgrad/ops/shape.py, subtensor.py, arrays.py)."""

from __future__ import annotations

PENDING: dict = {}
