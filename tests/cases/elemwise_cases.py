"""Op table cases for ccgrad/ops/elemwise.py."""

import numpy as np

import ccgrad.tensor as T
from tests.optable import Arg, Case

CASES: list[Case] = [
    Case("add_vec", lambda a, b: a + b, [Arg(), Arg()], lambda a, b: a + b),
    Case("add_row_col", lambda a, b: a + b, [Arg(shape=(1, 4), static=(1, None)), Arg(shape=(3, 1), static=(None, 1))],
         lambda a, b: a + b),
    Case("exp_mat", lambda a: T.exp(a), [Arg(shape=(2, 3))], lambda a: np.exp(a)),
    Case("pow_const", lambda a: a ** 2, [Arg()], lambda a: a * a),
]
