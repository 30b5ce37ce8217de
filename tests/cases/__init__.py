"""The op test table: one module of cases per op module (see tests/optable.py)."""
