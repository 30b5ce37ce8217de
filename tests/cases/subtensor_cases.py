"""Op table cases for ccgrad/ops/subtensor.py."""

from tests.optable import Arg, Case  # noqa: F401

CASES: list[Case] = []
