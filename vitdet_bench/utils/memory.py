"""Peak resident memory of this process (the CPU figure the benchmarks report)."""
from __future__ import annotations

__all__ = ["peak_rss_gb"]


def peak_rss_gb() -> float:
    """VmHWM (peak RSS, resettable through /proc/self/clear_refs) in GiB.

    Falls back to ``ru_maxrss`` (not resettable) where /proc is absent.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
