"""One global block's attention on CPU: the query-blocked kernel's forward and backward time.

ViT-B at 1024 px: 12 heads, a 64x64 token grid (4096 tokens), head dim 64, the shared
BEiT relative-position table expanded block by block (``RelativePositionBias.lazy()``).
Prints one row per query-block size (rows of the scores workspace); the default is the
size ``chunked_attention`` picks. Not a test: numbers depend on the machine's load.

    python benchmarks/bench_attention.py                 # the default block size
    python benchmarks/bench_attention.py --rows 128 320 640
"""
from __future__ import annotations

import argparse
import time

import torch

import vitdet_bench  # noqa: F401  (compat before detectron2)
from vitdet_bench.layers import attention as A


def time_block(rows, heads=12, grid=(64, 64), head_dim=64, repeats=2):
    torch.manual_seed(0)
    n = grid[0] * grid[1]
    rpb = A.RelativePositionBias(grid, heads, init="random")
    q, k, v = (torch.randn(1, heads, n, head_dim, requires_grad=True) for _ in range(3))
    best = None
    for _ in range(repeats):  # the first repeat warms up allocator and kernels
        t0 = time.perf_counter()
        out = A.chunked_attention(q, k, v, rpb.lazy(), rows=rows)
        t1 = time.perf_counter()
        out.sum().backward()
        t2 = time.perf_counter()
        best = (t1 - t0, t2 - t1) if best is None or t2 - t0 < sum(best) else best
    return best


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", nargs="*", type=int, default=[None],
                   help="query rows per block (default: chunked_attention's choice)")
    args = p.parse_args(argv)
    print(f"| rows | forward (s) | backward (s) |   torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print("|---|---|---|")
    for rows in args.rows:
        fwd, bwd = time_block(rows)
        print(f"| {rows or 'default'} | {fwd:.2f} | {bwd:.2f} |")


if __name__ == "__main__":
    main()
