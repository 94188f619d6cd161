"""Shared fixtures. ``device``: run a test on the CPU and, where there is a GPU, on CUDA."""
import pytest

from device_fixtures import DEVICES, exact_fp32


@pytest.fixture(params=DEVICES)
def device(request):
    with exact_fp32():
        yield request.param
