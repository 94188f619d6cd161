#!/usr/bin/env python
"""Forward + backward time of a ConvMAE backbone + neck (``model.backbone``) on one image.

``tools/benchmark.py`` cannot build ConvMAE (it sets the plain ViT's
``attention_strategy`` on the backbone node), so this is the same measurement for
ConvMAE: build ``model.backbone`` of the config (design 1: ConvMAE + BN FPN), training
mode, one random ``B x 3 x S x S`` image, loss = sum of the means of all outputs,
``--steps`` timed forward + backward passes after ``--warmup`` untimed ones (no
optimizer step). Prints and writes the times, the attention path, thread count, the
peak RSS and the load average before and after (the machine may be shared).

    python projects/ConvMAE/tools/time_backbone.py --size 1024 --steps 1 --warmup 0 \\
        --output runs/convmae_b_time.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "projects", "ConvMAE"))

import vitdet_bench  # noqa: E402,F401  (compat patches before detectron2)
from vitdet_bench.utils.io import atomic_write_json  # noqa: E402
from vitdet_bench.utils.memory import peak_rss_gb  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config-file",
                   default=os.path.join(REPO, "projects", "ConvMAE", "configs", "convmae_b_mrcnn_25ep.py"))
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--steps", type=int, default=1)
    p.add_argument("--warmup", type=int, default=0)
    p.add_argument("--plain", action="store_true",
                   help="reference attention path (default: the config's, i.e. SDPA / query-blocked on CPU)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--output", default="")
    args = p.parse_args(argv)

    import torch
    from detectron2.config import LazyConfig, instantiate

    cfg = LazyConfig.load(args.config_file)
    bb = cfg.model.backbone
    net = bb.get("bottom_up", None) or bb.get("net")
    net.img_size = args.size
    net.drop_path_rate = 0.0  # the same work every step
    if args.plain:
        net.use_sdpa = False
    if "square_pad" in bb:
        bb.square_pad = args.size
    model = instantiate(bb).to(args.device).train()
    res = {"config": os.path.relpath(os.path.abspath(args.config_file), REPO), "target": "model.backbone",
           "size": args.size, "batch_size": args.batch_size, "device": args.device,
           "attention_path": "reference" if args.plain else "sdpa (query-blocked on CPU)",
           "params_M": sum(q.numel() for q in model.parameters()) / 1e6,
           "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
           "torch": torch.__version__, "platform": platform.platform(),
           "loadavg_before": os.getloadavg()}
    x = torch.randn(args.batch_size, 3, args.size, args.size, device=args.device)
    fwd, bwd = [], []
    for i in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        out = model(x)
        loss = sum(o.float().mean() for o in out.values())
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        model.zero_grad(set_to_none=True)
        if i >= args.warmup:
            fwd.append(t1 - t0)
            bwd.append(t2 - t1)
        print(f"step {i}: forward {t1 - t0:.1f} s, backward {t2 - t1:.1f} s, "
              f"loadavg {os.getloadavg()[0]:.2f}", flush=True)
    res.update(forward_s=fwd, backward_s=bwd, fwd_bwd_s=[a + b for a, b in zip(fwd, bwd)],
               peak_rss_GB=peak_rss_gb(), loadavg_after=os.getloadavg())
    print(json.dumps(res), flush=True)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        atomic_write_json(args.output, res, indent=1)
    return res


if __name__ == "__main__":
    main()
