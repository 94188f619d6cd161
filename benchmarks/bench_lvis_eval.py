#!/usr/bin/env python
"""Speed of the LVIS federated evaluation: ours (vectorized) vs lvis-api (lvis==0.5.3).

Synthesises an LVIS-format ground truth (``--images`` images of random boxes over
``--categories`` categories with a long-tailed frequency; per image a share of the
absent categories as ``neg_category_ids``, of the present ones as
``not_exhaustive_category_ids``) and ``--dets`` detections per image (perturbed
true positives, errors of every kind, random filler), then times, in this process,

* ours: ``lvis_eval.evaluate`` (federated filtering, matching, accumulation, summary);
* lvis-api: ``LVISResults`` + ``LVISEval.run()`` (``--skip-reference`` leaves it out);

and checks that every summary value is equal. LVIS v1 val is ~20k images with 300
detections each (``--images 19809``); the reference needs long at that size.

    python benchmarks/bench_lvis_eval.py --images 2000             # bbox, both
    python benchmarks/bench_lvis_eval.py --images 19809 --skip-reference
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--categories", type=int, default=1203, help="LVIS v1 has 1203")
    p.add_argument("--dets", type=int, default=300, help="detections per image")
    p.add_argument("--iou-type", choices=("bbox", "segm"), default="bbox")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-reference", action="store_true")
    args = p.parse_args(argv)

    import numpy as np

    import vitdet_bench  # noqa: F401
    from vitdet_bench.evaluation import load_ground_truth
    from vitdet_bench.evaluation.lvis_eval import evaluate, federated_from_coco, random_coco
    from vitdet_bench.evaluation.synthetic import perturb_detections

    t0 = time.perf_counter()
    coco = random_coco(args.images, args.categories, seed=args.seed, max_per_image=25)
    gt_dict = federated_from_coco(coco, seed=args.seed, p_neg=0.01, p_not_exhaustive=0.2)
    masks = args.iou_type == "segm"
    res = perturb_detections(coco, seed=args.seed, masks=masks, dets_per_image=args.dets)
    if masks:
        res = [{k: v for k, v in r.items() if k != "bbox"} for r in res]
    n_anns = len(gt_dict["annotations"])
    print(f"data: {args.images} images, {n_anns} annotations, {args.categories} categories, "
          f"{len(res)} detections ({time.perf_counter() - t0:.1f} s to make)", flush=True)

    gt = load_ground_truth(gt_dict, iou_types=(args.iou_type,))
    t0 = time.perf_counter()
    ours = evaluate(gt, res, args.iou_type, progress=False)
    t_ours = time.perf_counter() - t0
    print(f"ours     {t_ours:8.2f} s  AP {ours.results['AP'] * 100:.3f}  "
          f"APr/c/f {ours.results['APr'] * 100:.3f}/{ours.results['APc'] * 100:.3f}/"
          f"{ours.results['APf'] * 100:.3f}", flush=True)
    if args.skip_reference:
        return 0

    import lvis

    np.float = float                      # lvis-api 0.5.3 calls the alias NumPy 1.24 removed
    logging.getLogger("lvis").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "gt.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(gt_dict, f)
        res_copy = copy.deepcopy(res)
        t0 = time.perf_counter()
        lgt = lvis.LVIS(path)
        ev = lvis.LVISEval(lgt, lvis.LVISResults(lgt, res_copy), args.iou_type)
        ev.run()
        t_ref = time.perf_counter() - t0
    same = all(ours.results[k] == v for k, v in ev.results.items()) and \
        np.array_equal(ours.eval["precision"], ev.eval["precision"])
    print(f"lvis-api {t_ref:8.2f} s  AP {ev.results['AP'] * 100:.3f}  "
          f"({t_ref / t_ours:.1f}x ours; every value equal: {same})")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
