"""Evaluate a detector on the config's test set and write its report.

:func:`evaluate_detector` runs the dataset's evaluator over ``dataloader.test``
(:func:`vitdet_bench.evaluation.lvis_eval.build_evaluator`: detectron2's
``COCOEvaluator``, or for an LVIS dataset federated LVIS AP at 300 detections per
image) against a cleaned copy of the ground truth when it holds annotations that
cannot be evaluated, and writes :func:`vitdet_bench.evaluation.write_report`'s report
(with APr/APc/APf and per-frequency tables for LVIS-format ground truth).
The training engine calls it for its periodic and final evaluations and for
``--eval-only``. It imports detectron2, so ``vitdet_bench.evaluation`` does not import
it on its own: ``from vitdet_bench.evaluation.evaluate import evaluate_detector``.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, Optional

from detectron2.config import instantiate
from detectron2.data import MetadataCatalog
from detectron2.evaluation import inference_on_dataset, print_csv_format
from detectron2.utils import comm

from ..utils.io import atomic_write_json
from .lvis_eval import build_evaluator, evaluator_type_of
from .report import write_report

__all__ = ["evaluate_detector", "evaluable_ground_truth_file"]

logger = logging.getLogger(__name__)


def evaluate_detector(cfg, model, output_dir: str,
                      report_path: Optional[str] = None) -> Dict[str, Any]:
    """Evaluate ``model`` on ``dataloader.test`` with the dataset's evaluator and write
    the report.

    Writes the detections (``<output_dir>/coco_instances_results.json``, or
    ``lvis_instances_results.json`` for an LVIS dataset), the evaluator's files and
    ``write_report``'s report (``report.json`` etc.) in ``output_dir``; a copy of the
    report goes to ``report_path`` (atomic) when given. A config without
    ``dataloader.test`` / ``dataloader.evaluator`` is not evaluated (``{}``).
    """
    from vitdet_bench.data import ensure_dataset_files

    if "evaluator" not in cfg.dataloader or "test" not in cfg.dataloader:
        return {}
    ev_cfg = cfg.dataloader.evaluator
    dataset_name = ev_cfg.dataset_name
    if not isinstance(dataset_name, str):
        dataset_name = list(dataset_name)[0]
    registered_gt = ensure_dataset_files(dataset_name)
    os.makedirs(output_dir, exist_ok=True)
    kwargs = {k: ev_cfg[k] for k in ("tasks", "distributed", "max_dets_per_image")
              if k in ev_cfg and ev_cfg[k] is not None}
    gt_json = registered_gt
    if comm.is_main_process():
        gt_json = evaluable_ground_truth_file(cfg, registered_gt, output_dir, kwargs.get("tasks"))
    gt_json = comm.all_gather(gt_json)[0]
    eval_name = dataset_name if gt_json == registered_gt else \
        _register_with_ground_truth(dataset_name, gt_json)
    evaluator = build_evaluator(eval_name, output_dir=output_dir, **kwargs)
    from vitdet_bench.utils.cpu import with_fitted_workers

    workers = cfg.train.get("loader_workers", None) if "train" in cfg else None
    loader = instantiate(with_fitted_workers(cfg.dataloader.test, comm.get_local_size(),
                                             exact=workers))
    results = inference_on_dataset(model, loader, evaluator)
    if comm.is_main_process():
        print_csv_format(results)
        _write_report(results, gt_json, output_dir, dataset_name, report_path)
    comm.synchronize()
    return results


def evaluable_ground_truth_file(cfg, gt_json: str, output_dir: str, tasks) -> str:
    """``gt_json`` or a cleaned copy (``output_dir/ground_truth_evaluable.json``)
    without the annotations pycocotools cannot evaluate (masks too when the model
    predicts them)."""
    from vitdet_bench.data.validate import evaluable_ground_truth

    path, _ = evaluable_ground_truth(
        gt_json, os.path.join(output_dir, "ground_truth_evaluable.json"),
        masks=_evaluates_masks(cfg, tasks))
    return path


def _evaluates_masks(cfg, tasks) -> bool:
    """Masks are evaluated when the evaluator's tasks say so or, without tasks, when the
    model has a mask head; a model without ``roi_heads`` (another layout) counts as one
    that may predict masks, so unusable masks are cleaned from the ground truth too."""
    if tasks:
        return "segm" in tuple(tasks)
    roi_heads = cfg.model.get("roi_heads", None)
    if roi_heads is None:
        return True
    return "mask_head" in roi_heads and bool(roi_heads.mask_head)


def _register_with_ground_truth(dataset_name: str, gt_json: str) -> str:
    """COCOEvaluator reads the dataset's ``metadata.json_file``: a copy of the dataset's
    metadata, named ``<dataset>@evaluable``, points at the cleaned ground truth."""
    eval_name = f"{dataset_name}@evaluable"
    meta = {k: v for k, v in MetadataCatalog.get(dataset_name).as_dict().items() if k != "name"}
    meta["json_file"] = gt_json
    if eval_name in MetadataCatalog.list():
        MetadataCatalog.remove(eval_name)
    MetadataCatalog.get(eval_name).set(**meta)
    return eval_name


def _write_report(results, gt_json: str, output_dir: str, dataset_name: str,
                  report_path: Optional[str]) -> None:
    kind = "lvis" if evaluator_type_of(dataset_name) == "lvis" else "coco"
    res_json = os.path.join(output_dir, f"{kind}_instances_results.json")
    if not os.path.isfile(res_json):
        return
    with open(res_json) as f:
        dets = json.load(f)
    if not dets:
        logger.warning(f"The model made no detection on {dataset_name!r}: every AP is 0; "
                       f"no report written to {output_dir}.")
        return
    has_segm = any("segmentation" in d for d in dets)
    iou_types = ("bbox", "segm") if has_segm else ("bbox",)
    report = write_report(gt_json, res_json, output_dir, iou_types=iou_types,
                          dataset_name=dataset_name)
    if report_path:
        atomic_write_json(report_path, report)
