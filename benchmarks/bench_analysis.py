#!/usr/bin/env python
"""Speed benchmark of the evaluation report at COCO val2017 scale.

Synthesises a val2017-sized pair from the real coco128 ground truth: the 128
images are tiled to 5,000 (``--scale`` 1.0; ~36,700 instances) and perturbed
into 100 detections per image (~500,000: jittered true positives, badly
localized boxes, class swaps, duplicates, background boxes, dropped objects,
low-score filler). Then, each in a fresh child process (wall time and peak RSS
of that process):

* ours: ``write_report(..., iou_types=("bbox",))``: loading + validation, COCO
  metrics (vectorized COCOeval), the TIDE breakdown, charts, report files;
* pycocotools: COCO + loadRes + COCOeval evaluate / accumulate / summarize;
* tidecv: loading + TIDE evaluate + all main and special errors;

and checks that the numbers agree (COCO stats exactly, TIDE dAPs to 1e-6); and
first the paired bootstrap (``--bootstrap 1000``): a second perturbed run of the
same ground truth, both matched once, then 1,000 resamples of both (goal: under
60 s and 4 GB at val2017 scale), with its progress bar.

    python benchmarks/bench_analysis.py                 # full scale (minutes: the references)
    python benchmarks/bench_analysis.py --scale 0.1     # 500 images
    python benchmarks/bench_analysis.py --only-bootstrap
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

OURS = r"""
import json, resource, sys, time
def peak_mb():  # VmHWM: this process image only (ru_maxrss carries over from before exec)
    return int([l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]) / 1024
t0 = time.perf_counter()
import vitdet_bench
from vitdet_bench.evaluation import write_report
t1 = time.perf_counter()
rss_import = int([l for l in open("/proc/self/status") if l.startswith("VmRSS")][0].split()[1]) / 1024
rep = write_report(sys.argv[1], sys.argv[2], sys.argv[3], iou_types=("bbox",), progress=False)
t2 = time.perf_counter()
print("@@" + json.dumps({"seconds": t2 - t1, "import_seconds": t1 - t0, "rss_after_import_mb": rss_import, "timing": rep["timing_s"],
                         "coco": rep["bbox"]["coco"], "errors": rep["bbox"]["errors"],
                         "peak_rss_mb": peak_mb()}))
"""

BOOT = r"""
import json, os, sys, time
def peak_mb():
    return int([l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]) / 1024
import vitdet_bench
from vitdet_bench.evaluation import load_ground_truth, load_results
from vitdet_bench.evaluation.bootstrap import ResampledCOCO, bootstrap_stats
from vitdet_bench.evaluation.coco_fast import match
gt_path, res_a, res_b, B, jobs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
t0, c0 = time.perf_counter(), time.process_time()
gt = load_ground_truth(gt_path, iou_types=())
runs = []
for r in (res_a, res_b):
    dets = load_results(r, gt, ("bbox",), progress=False).detections
    runs.append(ResampledCOCO(match(gt, dets, "bbox", progress=False)))
    del dets
t1, c1 = time.perf_counter(), time.process_time()
stats = bootstrap_stats(runs, resamples=B, seed=0, progress=True, desc="bootstrap (2 runs)",
                        jobs=jobs, recall=False)   # AP..APl, as compare computes them
t2, c2 = time.perf_counter(), time.process_time()
import resource
child = resource.getrusage(resource.RUSAGE_CHILDREN)
c2 += child.ru_utime + child.ru_stime
# forked workers share the parent's pages; their sum with the parent is an upper bound
peak_total = peak_mb() + (jobs * child.ru_maxrss / 1024 if jobs > 1 else 0)
d = stats[0, :, 0] - stats[1, :, 0]
print("@@" + json.dumps({"prepare_seconds": t1 - t0, "prepare_cpu": c1 - c0,
                         "resample_seconds": t2 - t1, "resample_cpu": c2 - c1,
                         "peak_rss_mb": peak_total, "jobs": jobs, "ap_interval_a": [float(x) for x in
                         __import__("numpy").percentile(stats[0, :, 0] * 100, [2.5, 97.5])],
                         "diff_interval": [float(x) for x in
                         __import__("numpy").percentile(d * 100, [2.5, 97.5])]}))
"""

PYCOCO = r"""
import contextlib, io, json, resource, sys, time
def peak_mb():
    return int([l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]) / 1024
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
t0 = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(sys.argv[1])
    dt = gt.loadRes(sys.argv[2])
    t1 = time.perf_counter()
    ev = COCOeval(gt, dt, "bbox")
    ev.evaluate(); ev.accumulate(); ev.summarize()
t2 = time.perf_counter()
print("@@" + json.dumps({"seconds": t2 - t0, "load_seconds": t1 - t0, "stats": list(ev.stats),
                         "peak_rss_mb": peak_mb()}))
"""


def _child(code, *args, timeout=3600, show_progress=False):
    p = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, text=True,
                       stdout=subprocess.PIPE, stderr=None if show_progress else subprocess.PIPE,
                       timeout=timeout, env=dict(os.environ, MPLBACKEND="Agg"))
    if p.returncode != 0:
        raise RuntimeError((p.stderr or "")[-3000:])
    return json.loads([x for x in p.stdout.splitlines() if x.startswith("@@")][-1][2:])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of val2017's 5,000 images")
    ap.add_argument("--dets-per-image", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gt", default=None, help="source GT (default: $DETECTRON2_DATASETS/coco128)")
    ap.add_argument("--workdir", default=None, help="keep the synthetic pair and reports here")
    ap.add_argument("--skip-pycocotools", action="store_true")
    ap.add_argument("--skip-tidecv", action="store_true")
    ap.add_argument("--bootstrap", type=int, default=1000,
                    help="paired bootstrap resamples of a pair of runs (0: skip)")
    ap.add_argument("--jobs", type=int, default=2,
                    help="bootstrap worker processes (default %(default)s: this machine's cores)")
    ap.add_argument("--only-bootstrap", action="store_true",
                    help="time only the bootstrap (not the report and the references)")
    args = ap.parse_args(argv)

    import vitdet_bench  # noqa: F401
    from vitdet_bench.evaluation.reference import run_tidecv
    from vitdet_bench.evaluation.synthetic import perturb_detections, tile_ground_truth
    from vitdet_bench.utils.io import atomic_write_json, atomic_write_text

    src = args.gt or os.path.join(os.environ.get("DETECTRON2_DATASETS", "datasets"), "coco128",
                                  "annotations", "instances_train2017.json")
    if not os.path.isfile(src):
        print(f"error: source ground truth {src} not found (set DETECTRON2_DATASETS or --gt)",
              file=sys.stderr)
        return 2
    work = args.workdir or tempfile.mkdtemp(prefix="bench_analysis_")
    os.makedirs(work, exist_ok=True)
    with open(src, encoding="utf-8") as f:
        base = json.load(f)
    n_img = max(1, round(5000 * args.scale))
    t = time.perf_counter()
    gt = tile_ground_truth(base, n_img)
    dets = perturb_detections(gt, seed=args.seed, dets_per_image=args.dets_per_image)
    gt_path, res_path = os.path.join(work, "gt.json"), os.path.join(work, "results.json")
    atomic_write_json(gt_path, gt, indent=None)
    atomic_write_json(res_path, dets, indent=None)
    res_b_path = os.path.join(work, "results_b.json")
    if args.bootstrap:   # the second run of the pair: another perturbation of the same GT
        atomic_write_json(res_b_path, perturb_detections(gt, seed=args.seed + 1,
                                                         dets_per_image=args.dets_per_image),
                          indent=None)
    n_inst = sum(1 for a in gt["annotations"] if not a["iscrowd"])
    print(f"synthetic pair: {n_img} images, {len(gt['annotations'])} annotations "
          f"({n_inst} non-crowd), {len(dets)} detections "
          f"({os.path.getsize(res_path) / 2**20:.0f} MiB) in {time.perf_counter() - t:.1f} s -> {work}",
          flush=True)
    del gt, dets

    rows, out = [], {"images": n_img, "workdir": work}
    agree = []
    if args.bootstrap:
        bt = _child(BOOT, gt_path, res_path, res_b_path, str(args.bootstrap), str(args.jobs),
                    show_progress=True)
        out["bootstrap"] = bt
        rows.append((f"bootstrap: load + match both runs (bbox)", bt["prepare_seconds"], None))
        rows.append((f"bootstrap: {args.bootstrap} resamples x 2 runs, {args.jobs} process(es) "
                     f"(CPU {bt['resample_cpu']:.1f} s; RSS: all processes)",
                     bt["resample_seconds"], bt["peak_rss_mb"]))
        agree.append(f"bootstrap: AP 95% interval of run A {bt['ap_interval_a'][0]:.2f}.."
                     f"{bt['ap_interval_a'][1]:.2f}; A - B {bt['diff_interval'][0]:.2f}.."
                     f"{bt['diff_interval'][1]:.2f} AP points")
        print(f"bootstrap done: {bt['resample_seconds']:.1f} s", flush=True)
    if args.only_bootstrap:
        return _finish(rows, agree, out, n_img, args, work)
    ours = _child(OURS, gt_path, res_path, os.path.join(work, "report"))
    tm = ours["timing"]
    out["ours"] = ours
    rows.append(("ours: full bbox report", ours["seconds"], ours["peak_rss_mb"]))
    rows.append(("  (before it: `import vitdet_bench`, which loads torch + detectron2; RSS after)", ours["import_seconds"],
                 ours["rss_after_import_mb"]))
    rows.append(("  ours: load + validate", tm["load_gt"] + tm["load_results"], None))
    rows.append(("  ours: COCO metrics", tm["bbox_coco"], None))
    rows.append(("  ours: TIDE errors", tm["bbox_tide"], None))
    rows.append(("  ours: charts + files", tm["total"] - sum(tm[k] for k in
                 ("load_gt", "load_results", "bbox_coco", "bbox_tide")), None))
    print(f"ours done: {ours['seconds']:.1f} s", flush=True)
    if not args.skip_pycocotools:
        ref = _child(PYCOCO, gt_path, res_path)
        out["pycocotools"] = ref
        rows.append(("pycocotools COCOeval (load + eval)", ref["seconds"], ref["peak_rss_mb"]))
        rows.append(("  pycocotools: evaluate+accumulate", ref["seconds"] - ref["load_seconds"], None))
        names = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
        same = all((ours["coco"][k] is None and v < 0) or ours["coco"][k] == v * 100
                   for k, v in zip(names, ref["stats"]))
        agree.append(f"COCO stats identical to pycocotools (==, all 12): {same}")
        print(f"pycocotools done: {ref['seconds']:.1f} s", flush=True)
    if not args.skip_tidecv:
        td = run_tidecv(gt_path, res_path, "bbox", (0.5,), timeout=3600)
        out["tidecv"] = td
        rows.append(("tidecv (load + errors)", td["_seconds"], td["_peak_rss_mb"]))
        rows.append(("  tidecv: errors only", td["_seconds"] - td["_load_seconds"], None))
        ref_err = {**td[0.5]["errors"], **td[0.5]["special"]}
        worst = max(abs(ours["errors"][k] - ref_err[k]) for k in ref_err)
        agree.append(f"TIDE dAPs vs tidecv: max |diff| = {worst:.2e} AP points over "
                     f"{sorted(ref_err)}")
        agree.append(f"error analysis speed-up vs tidecv: {td['_seconds'] - td['_load_seconds']:.1f} s"
                     f" / {tm['bbox_tide']:.1f} s = "
                     f"{(td['_seconds'] - td['_load_seconds']) / tm['bbox_tide']:.0f}x "
                     f"(with loading on both sides: "
                     f"{td['_seconds'] / (tm['bbox_tide'] + tm['load_gt'] + tm['load_results']):.0f}x)")
        print(f"tidecv done: {td['_seconds']:.1f} s", flush=True)
    return _finish(rows, agree, out, n_img, args, work)


def _finish(rows, agree, out, n_img, args, work) -> int:
    from vitdet_bench.utils.io import atomic_write_json, atomic_write_text

    lines = [f"| step ({n_img} images, {args.dets_per_image} dets/image, {os.cpu_count()} CPUs) "
             "| wall s | peak RSS MiB |", "|---|---:|---:|"]
    for name, sec, rss in rows:
        lines.append(f"| {name} | {sec:.1f} | {'' if rss is None else f'{rss:.0f}'} |")
    table = "\n".join(lines + [""] + [f"- {a}" for a in agree]) + "\n"
    print(table)
    out["table"] = table
    atomic_write_json(os.path.join(work, "bench.json"), out)
    atomic_write_text(os.path.join(work, "bench.md"), table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
