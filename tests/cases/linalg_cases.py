"""Op table cases for ccgrad/ops/linalg.py."""

from tests.optable import Arg, Case  # noqa: F401

CASES: list[Case] = []
