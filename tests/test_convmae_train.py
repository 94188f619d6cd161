"""A tiny ConvMAE Mask R-CNN trains on the synthetic shapes data on CPU; eval gives box and mask AP."""
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import vitdet_bench  # noqa: E402,F401
import vitdet_bench.data  # noqa: E402,F401  (registers shapes_train / shapes_val)
import torch  # noqa: E402
from detectron2.config import LazyConfig, instantiate  # noqa: E402
from detectron2.data import (build_detection_test_loader, build_detection_train_loader,  # noqa: E402
                             get_detection_dataset_dicts)
from detectron2.evaluation import COCOEvaluator, inference_on_dataset  # noqa: E402
from detectron2.utils.events import EventStorage  # noqa: E402

import convmae  # noqa: E402,F401
from convmae import get_convmae_param_groups  # noqa: E402


def test_tiny_convmae_trains_and_evaluates(tmp_path):
    torch.manual_seed(0)
    torch.set_num_threads(2)
    cfg = LazyConfig.load(os.path.join(REPO, "projects", "ConvMAE", "configs", "convmae_tiny_cpu.py"))
    cfg.model.roi_heads.box_predictor.test_topk_per_image = 20
    model = instantiate(cfg.model)
    model.train()
    groups = get_convmae_param_groups(model, base_lr=1e-3, weight_decay=0.05, layer_decay=1.0)
    opt = torch.optim.AdamW(groups, lr=1e-3)
    loader = build_detection_train_loader(
        dataset=get_detection_dataset_dicts("shapes_train"),
        mapper=vitdet_bench.data.build_lsj_train_mapper(128), total_batch_size=2, num_workers=0)
    losses = []
    with EventStorage(0):
        for it, batch in zip(range(30), loader):
            loss = sum(model(batch).values())
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    first, last = sum(losses[:8]) / 8, sum(losses[-8:]) / 8
    assert last < 0.8 * first, (first, last)

    model.eval()
    dicts = get_detection_dataset_dicts("shapes_val", filter_empty=False)[:4]
    test_loader = build_detection_test_loader(dicts, mapper=vitdet_bench.data.build_test_mapper(128),
                                              num_workers=0)
    evaluator = COCOEvaluator("shapes_val", output_dir=str(tmp_path), use_fast_impl=False,
                              tasks=("bbox", "segm"))
    evaluator._coco_api.dataset["images"] = [i for i in evaluator._coco_api.dataset["images"]
                                             if i["id"] in {d["image_id"] for d in dicts}]
    res = inference_on_dataset(model, test_loader, evaluator)
    assert "AP" in res["bbox"] and "AP" in res["segm"]


@pytest.mark.slow
def test_tiny_convmae_through_train_net(tmp_path):
    """``tools/train_net.py --config-file projects/ConvMAE/configs/convmae_tiny_cpu.py`` as a user runs it.

    30 iterations of batch 2 at 128 px, then the final COCO evaluation on shapes_val.
    About 20 s on an idle 2-core machine (0.24 s/iteration, 3.5 s evaluation).
    """
    out = tmp_path / "run"
    cmd = [sys.executable, os.path.join(REPO, "tools", "train_net.py"), "--config-file",
           os.path.join(REPO, "projects", "ConvMAE", "configs", "convmae_tiny_cpu.py"),
           f"train.output_dir={out}", "train.max_iter=30", "train.log_period=1",
           "dataloader.train.total_batch_size=2"]
    p = subprocess.run(cmd, cwd=str(tmp_path), capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-4000:])

    # the ConvMAE layer-id param-group builder is the one instantiated
    saved = (out / "config.yaml").read_text()
    assert "convmae.get_convmae_param_groups" in saved

    rows = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines() if line.strip()]
    losses = [r["total_loss_raw"] for r in rows if "total_loss_raw" in r]
    assert len(losses) == 30, len(losses)
    first, last = sum(losses[:8]) / 8, sum(losses[-8:]) / 8
    assert last < 0.8 * first, (first, last)

    final = [r for r in rows if "bbox/AP" in r]
    assert final and "segm/AP" in final[-1], rows[-1]
    report = json.loads((out / "report.json").read_text())
    assert report["dataset"] == "shapes_val"
    for task in ("bbox", "segm"):
        ap = report[task]["coco"]["AP"]
        assert ap is not None and 0.0 <= ap <= 100.0, (task, ap)
    assert (out / "model_final.pth").is_file()
