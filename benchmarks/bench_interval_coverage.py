#!/usr/bin/env python
"""Coverage of the bootstrap intervals: how often does a "95%" interval hold the true value?

A synthetic population of ``--population`` images (random boxes over
``--categories`` categories) is detected by two detectors of known behaviour
(``perturb_detections``: jitter, misses, localization / class errors, duplicates,
background boxes; detector B has more localization errors and misses). Their AP,
AP50 and the paired difference A - B are computed on the whole population: the
true values. Then ``--draws`` evaluation sets of each size in ``--sizes`` are drawn
from the population (images i.i.d., as a test set is a sample of the world's
images); on each, the project's paired bootstrap (``--resamples`` resamples of the
set's images) gives an interval of every kind in ``INTERVAL_KINDS``, and we count
how often it contains the true value.

Both detectors are matched once on the population (COCOeval's matching is per
image and category); an evaluation set and each of its resamples are image
weights on that matching (:class:`ResampledCOCO`), so a set costs ``2 x
(resamples + 1)`` re-accumulations.

    python benchmarks/bench_interval_coverage.py                        # the docs' table
    python benchmarks/bench_interval_coverage.py --sizes 100 500 --draws 100 --resamples 100
"""
from __future__ import annotations

import argparse
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

METRICS = {"AP": 0, "AP50": 1}


def subset(m, images):
    """The matching restricted to ``images`` (sorted population positions), re-indexed."""
    import numpy as np

    from vitdet_bench.evaluation.coco_fast import Matching

    pos = np.full(m.n_img, -1, np.int64)
    pos[images] = np.arange(len(images))
    dk, gk = pos[m.d_img] >= 0, pos[m.g_img] >= 0
    return Matching(cat_ids=m.cat_ids, n_img=len(images), g_img=pos[m.g_img[gk]],
                    g_cat=m.g_cat[gk], g_ig=m.g_ig[:, gk], d_img=pos[m.d_img[dk]],
                    d_cat=m.d_cat[dk], d_score=m.d_score[dk], rank=m.rank[dk],
                    dt_match=m.dt_match[:, :, dk], dt_ig=m.dt_ig[:, :, dk],
                    d_area_out=m.d_area_out[:, dk])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--population", type=int, default=20000)
    p.add_argument("--categories", type=int, default=10)
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 5000])
    p.add_argument("--draws", type=int, default=200, help="evaluation sets per size")
    p.add_argument("--resamples", type=int, default=200, help="bootstrap resamples per set")
    p.add_argument("--level", type=float, default=0.95)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import numpy as np

    import vitdet_bench  # noqa: F401
    from vitdet_bench.evaluation import load_ground_truth
    from vitdet_bench.evaluation.bootstrap import INTERVAL_KINDS, ResampledCOCO, bootstrap_interval
    from vitdet_bench.evaluation.coco_fast import match
    from vitdet_bench.evaluation.lvis_eval import random_coco
    from vitdet_bench.evaluation.synthetic import perturb_detections

    t0 = time.perf_counter()
    coco = random_coco(args.population, args.categories, seed=args.seed, max_per_image=8)
    gt = load_ground_truth(coco, iou_types=("bbox",))
    det_a = perturb_detections(coco, seed=args.seed + 1)
    det_b = perturb_detections(coco, seed=args.seed + 2, p_loc=0.25, p_drop=0.18)
    m_a, m_b = match(gt, det_a, progress=False), match(gt, det_b, progress=False)
    ones = np.ones(args.population, np.int64)
    true_a = ResampledCOCO(m_a).stats(ones, recall=False) * 100
    true_b = ResampledCOCO(m_b).stats(ones, recall=False) * 100
    truth = {("A", k): true_a[j] for k, j in METRICS.items()}
    truth.update({("A-B", k): true_a[j] - true_b[j] for k, j in METRICS.items()})
    print(f"population: {args.population} images, {len(coco['annotations'])} objects, "
          f"{args.categories} categories; A: AP {true_a[0]:.2f} AP50 {true_a[1]:.2f}; "
          f"B: AP {true_b[0]:.2f} AP50 {true_b[1]:.2f} ({time.perf_counter() - t0:.0f} s)",
          flush=True)
    print(f"settings: {args.draws} evaluation sets per size, {args.resamples} resamples each, "
          f"level {args.level}, seed {args.seed}", flush=True)

    rng = np.random.default_rng(args.seed + 100)
    rows = []
    for n in args.sizes:
        t0 = time.perf_counter()
        hits = {(q, k, kind): 0 for q in ("A", "A-B") for k in METRICS for kind in INTERVAL_KINDS}
        width = {key: 0.0 for key in hits}
        for _ in range(args.draws):
            draws = rng.integers(0, args.population, n)
            images, inverse = np.unique(draws, return_inverse=True)
            ra, rb = ResampledCOCO(subset(m_a, images)), ResampledCOCO(subset(m_b, images))
            w0 = np.bincount(inverse, minlength=len(images))
            est_a, est_b = ra.stats(w0, recall=False) * 100, rb.stats(w0, recall=False) * 100
            boot_a = np.empty((args.resamples, 2))
            boot_b = np.empty((args.resamples, 2))
            for b in range(args.resamples):
                w = np.bincount(inverse[rng.integers(0, n, n)], minlength=len(images))
                boot_a[b] = ra.stats(w, recall=False)[:2] * 100
                boot_b[b] = rb.stats(w, recall=False)[:2] * 100
            for k, j in METRICS.items():
                cases = {"A": (boot_a[:, j], est_a[j]),
                         "A-B": (boot_a[:, j] - boot_b[:, j], est_a[j] - est_b[j])}
                for q, (samples, est) in cases.items():
                    for kind in INTERVAL_KINDS:
                        ci = bootstrap_interval(samples, est, args.level, kind)
                        hits[(q, k, kind)] += int(ci[0] <= truth[(q, k)] <= ci[1])
                        width[(q, k, kind)] += ci[1] - ci[0]
        for (q, k, kind), h in hits.items():
            rows.append((n, q, k, kind, h / args.draws, width[(q, k, kind)] / args.draws))
        print(f"size {n}: {time.perf_counter() - t0:.0f} s", flush=True)

    se = np.sqrt(args.level * (1 - args.level) / args.draws) * 100
    print(f"\ncoverage of the {args.level:.0%} interval (binomial s.e. at nominal: "
          f"{se:.1f} points), mean width in AP points\n")
    print("| images | quantity | " + " | ".join(INTERVAL_KINDS) + " |")
    print("|---|---|" + "---|" * len(INTERVAL_KINDS))
    for n in args.sizes:
        for q in ("A", "A-B"):
            for k in METRICS:
                cells = [next(f"{c:.1%} ({w:.2f})" for nn, qq, kk, kd, c, w in rows
                              if (nn, qq, kk, kd) == (n, q, k, kind)) for kind in INTERVAL_KINDS]
                label = f"{k} of A" if q == "A" else f"{k} A - B"
                print(f"| {n} | {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
