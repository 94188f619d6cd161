"""Peak memory of one measured phase: CUDA max allocated, or peak RSS on the CPU."""
from __future__ import annotations

import torch

from vitdet_bench.utils.memory import peak_rss_gb

__all__ = ["reset_peak", "peak_gb", "limit_address_space"]


def reset_peak(device: str) -> None:
    """Start a new peak: CUDA's allocator statistics, or VmHWM reset to the current RSS
    through /proc/self/clear_refs (Linux >= 4.0; elsewhere the process peak stays)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        return
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_gb(device: str) -> float:
    """Peak since :func:`reset_peak`, in GiB."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() / 2**30
    return peak_rss_gb()


def limit_address_space(gb: float) -> None:
    """Cap this process's address space: an allocation beyond it fails (reported as OOM)
    instead of pushing the machine into swap."""
    import resource

    cap = int(gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
