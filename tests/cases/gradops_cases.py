"""Op table cases for ccgrad/ops/gradops.py."""

from tests.optable import Arg, Case  # noqa: F401

CASES: list[Case] = []
