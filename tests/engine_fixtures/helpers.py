"""Helpers importable from engine-test configs (tests/ must be on PYTHONPATH)."""


def first_n(dicts, n):
    return list(dicts)[: int(n)]
