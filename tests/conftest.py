"""Shared fixtures. ``device``: run a test on the CPU and, where there is a GPU, on CUDA.

pytest.ini puts the repository root and tests/ on the import path, so the helper
modules (``data_fixtures``, ``checkpoint_fixtures``, ``eval_fixtures``,
``device_fixtures``) are imported by name; the fixtures they define are registered
here, for every test module, through ``pytest_plugins``.
"""
import pytest

from device_fixtures import DEVICES, exact_fp32

pytest_plugins = ["data_fixtures"]


@pytest.fixture(params=DEVICES)
def device(request):
    with exact_fp32():
        yield request.param
