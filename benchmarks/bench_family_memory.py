"""Forward+backward peak memory of the backbone families on CPU.

Each row runs in a fresh child process: build the backbone (no neck), then one
forward of a ``(1, 3, S, S)`` batch and a backward of the summed outputs. The
figure is the process's peak RSS (VmHWM, reset after the build) minus the RSS
after the build: what one training step's activations, attention scores and
relative-position biases cost on top of the weights. Not a test: the wall time
depends on the machine's load; the peaks do not.

    python benchmarks/bench_family_memory.py                          # ConvMAE-B at 1024
    python benchmarks/bench_family_memory.py --rows convmae_b vit_b --img-size 512
    # before/after a change, in one run: each tree's vitdet_bench and projects
    python benchmarks/bench_family_memory.py --trees /path/to/old/checkout .
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROWS = ("convmae_b", "vit_b", "itpn_b")


def _tree_env(tree: str) -> dict:
    """The environment that imports ``vitdet_bench``, ``convmae`` and ``itpn`` from ``tree``."""
    tree = os.path.abspath(tree)
    paths = [tree, os.path.join(tree, "projects", "ConvMAE"), os.path.join(tree, "projects", "iTPN")]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths))


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {key} line")


def _build(row: str, img_size: int):
    if row == "convmae_b":
        from convmae import CONVMAE_SIZES, ConvMAE, design_kwargs

        dims, depths, heads, ratios = CONVMAE_SIZES["B"]
        return ConvMAE(img_size=img_size, embed_dims=dims, depths=depths, num_heads=heads,
                       mlp_ratios=ratios, drop_path_rate=0.0, **design_kwargs("multiscale"))
    if row == "vit_b":
        from vitdet_bench.modeling.backbone import ViT

        return ViT(img_size=img_size, drop_path_rate=0.0)
    if row == "itpn_b":
        from itpn import ITPN, ITPN_SIZES

        return ITPN(drop_path_rate=0.0, **ITPN_SIZES["pixel_b"])
    raise ValueError(f"unknown row {row!r}; choose from {ROWS}")


def _child(row: str, img_size: int) -> None:
    import torch

    import vitdet_bench  # noqa: F401  (compat before detectron2)

    torch.manual_seed(0)
    net = _build(row, img_size).train()
    x = torch.randn(1, 3, img_size, img_size)
    base_kb = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:  # reset VmHWM to the current RSS
        f.write("5")
    t0 = time.perf_counter()
    outs = net(x)
    sum(o.float().sum() for o in outs.values()).backward()
    seconds = time.perf_counter() - t0
    peak_kb = _status_kb("VmHWM")
    print(json.dumps(dict(row=row, img_size=img_size, weights_rss_gb=base_kb / 2**20,
                          step_peak_gb=(peak_kb - base_kb) / 2**20, seconds=seconds)))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", nargs="*", default=["convmae_b"], choices=ROWS)
    p.add_argument("--img-size", type=int, default=1024)
    p.add_argument("--trees", nargs="*", default=None,
                   help="source checkouts to measure, each in its own child (default: the "
                        "modules this Python imports)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        _child(args.child, args.img_size)
        return
    trees = args.trees or [None]
    results = []
    for tree in trees:
        env = os.environ.copy() if tree is None else _tree_env(tree)
        for row in args.rows:
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", row,
                                  "--img-size", str(args.img_size)],
                                 capture_output=True, text=True, env=env)
            if out.returncode:
                sys.exit(f"{row} ({tree or 'default'}) failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            r["tree"] = tree or "-"
            results.append(r)
    print("| code | backbone | img | weights RSS (GiB) | fwd+bwd peak above weights (GiB) | wall s |")
    print("|---|---|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['tree']} | {r['row']} | {r['img_size']} | {r['weights_rss_gb']:.2f} | "
              f"{r['step_peak_gb']:.2f} | {r['seconds']:.1f} |")


if __name__ == "__main__":
    main()
