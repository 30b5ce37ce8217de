"""Op table cases for ccgrad/ops/shape.py."""

from tests.optable import Arg, Case  # noqa: F401

CASES: list[Case] = []
