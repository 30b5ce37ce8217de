"""Every op, each in one place.  Importing this package registers all builders in the graph
registry (Variable's operators and the `T` facade reach ops through it)."""

from ccgrad.ops import (  # noqa: F401
    arrays,
    composites,
    diag,
    elemwise,
    fused,
    gradops,
    linalg,
    nnet,
    reduce,
    reshape,
    scalar,
    scan,
    shape,
    subtensor,
)
