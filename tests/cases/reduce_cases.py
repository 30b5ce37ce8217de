"""Op table cases for ccgrad/ops/reduce.py."""

from tests.optable import Arg, Case  # noqa: F401

CASES: list[Case] = []
