"""The devices a test with a CUDA meaning runs on: the CPU always, CUDA where torch sees a GPU.

Take the ``device`` fixture (tests/conftest.py) to run a test on each of ``DEVICES``, or
parametrize with ``DEVICES`` directly. The ``cuda`` instance carries the ``cuda`` marker
(``pytest -m cuda`` selects exactly those instances; ``benchmarks/gpu_suite.sh`` runs them)
and is skipped, with ``NO_CUDA`` as the reason, where there is no GPU.
"""
import contextlib

import pytest
import torch

NO_CUDA = ("no CUDA device here (torch.cuda.is_available() is False); this instance runs with "
           "`pytest -m cuda` on a GPU machine, e.g. `bash benchmarks/gpu_suite.sh`")

DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=[
        pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)]),
]


@contextlib.contextmanager
def exact_fp32():
    """No TF32 in CUDA matmuls and convolutions: fp32 comparisons at 1e-5 mean fp32."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def autocast(device: str, dtype):
    """``torch.autocast`` to ``dtype`` on ``device``'s type; ``dtype=None``: no autocast (fp32)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


def peak_cuda_gb(device: str):
    """CUDA max allocated memory since the last reset, in GiB (None on CPU)."""
    if torch.device(device).type != "cuda":
        return None
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 2**30
