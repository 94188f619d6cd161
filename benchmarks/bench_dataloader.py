"""Throughput of the LSJ training data pipeline on coco128 (not a test).

Measures images/second delivered by detectron2's ``build_detection_train_loader``
with vitdet_bench's LSJ mapper (default 1024 px, polygon masks, boxes recomputed
from the cropped masks) for several DataLoader worker counts, prints a table and
writes the numbers as JSON (atomically) to ``--output``.

The first ``--warmup`` batches (worker start-up, first file reads) are excluded;
then ``--batches`` batches are timed. Note that on a shared machine the numbers
depend on what else runs; the JSON records the CPU count and load average.

    DETECTRON2_DATASETS=path/to/datasets \\
        python benchmarks/bench_dataloader.py --workers 0 1 2 --output runs/bench_dataloader.json
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import vitdet_bench  # noqa: F401  (compat patches before detectron2)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="coco128_train",
                   help="registered dataset name (default: coco128_train)")
    p.add_argument("--image-size", type=int, default=1024)
    p.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--warmup", type=int, default=5, help="untimed batches per setting")
    p.add_argument("--batches", type=int, default=64, help="timed batches per setting")
    p.add_argument("--image-format", default="RGB", choices=["RGB", "BGR"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", required=True, help="JSON file to write")
    return p.parse_args(argv)


def measure(dicts, *, image_size, num_workers, batch_size, warmup, batches, image_format, seed):
    import numpy as np
    import torch
    from detectron2.data import build_detection_train_loader
    from detectron2.data.samplers import TrainingSampler

    from vitdet_bench.data import build_lsj_train_mapper

    np.random.seed(seed)
    torch.manual_seed(seed)
    mapper = build_lsj_train_mapper(image_size, image_format=image_format)
    loader = build_detection_train_loader(
        dicts, mapper=mapper, total_batch_size=batch_size, num_workers=num_workers,
        sampler=TrainingSampler(len(dicts), shuffle=True, seed=seed))
    it = iter(loader)
    t_start = time.perf_counter()
    for _ in range(warmup):
        next(it)
    t_warm = time.perf_counter()
    images = instances = 0
    for _ in range(batches):
        batch = next(it)
        images += len(batch)
        instances += sum(len(d["instances"]) for d in batch)
    elapsed = time.perf_counter() - t_warm
    del it, loader  # stop the workers before the next setting starts its own
    return {
        "num_workers": num_workers,
        "images": images,
        "seconds": round(elapsed, 3),
        "images_per_second": round(images / elapsed, 2),
        "ms_per_image": round(1000 * elapsed / images, 1),
        "warmup_seconds": round(t_warm - t_start, 3),
        "instances_per_image": round(instances / images, 2),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch
    from detectron2.data import DatasetCatalog

    from vitdet_bench.data import ensure_dataset_files
    from vitdet_bench.utils.io import atomic_write_json

    ensure_dataset_files(args.dataset)  # clear error if coco128 is absent
    dicts = DatasetCatalog.get(args.dataset)
    # Same as training: images without a non-crowd annotation are filtered out.
    dicts = [d for d in dicts if any(not a.get("iscrowd", 0) for a in d["annotations"])]
    torch.set_num_threads(1)  # the mapper is numpy/PIL/shapely; keep torch out of the way

    rows = []
    for n in args.workers:
        row = measure(dicts, image_size=args.image_size, num_workers=n,
                      batch_size=args.batch_size, warmup=args.warmup, batches=args.batches,
                      image_format=args.image_format, seed=args.seed)
        rows.append(row)
        print(f"workers={n}: {row['images_per_second']:.2f} img/s", file=sys.stderr)

    header = f"{'workers':>7} | {'img/s':>7} | {'ms/img':>7} | {'inst/img':>8} | {'warmup s':>8}"
    print(f"LSJ {args.image_size}px train mapper (masks) on {args.dataset} "
          f"({len(dicts)} images), batch {args.batch_size}, {args.batches} timed batches")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['num_workers']:>7} | {r['images_per_second']:>7.2f} | {r['ms_per_image']:>7.1f}"
              f" | {r['instances_per_image']:>8.2f} | {r['warmup_seconds']:>8.2f}")

    atomic_write_json(args.output, {
        "benchmark": "lsj_train_dataloader",
        "dataset": args.dataset,
        "num_dataset_images": len(dicts),
        "image_size": args.image_size,
        "image_format": args.image_format,
        "batch_size": args.batch_size,
        "warmup_batches": args.warmup,
        "timed_batches": args.batches,
        "seed": args.seed,
        "machine": {"cpu_count": os.cpu_count(), "load_average_1m": os.getloadavg()[0],
                    "python": platform.python_version(), "torch": torch.__version__},
        "results": rows,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
