"""LVIS in the engine and downstream: the training sampler key and its checks, resumable
repeat-factor sampling, the LVIS configs, the federated bootstrap (equal to lvis-api on the
duplicated images), compare / collect_runs / study columns, and a tiny LVIS run (slow)."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from detectron2.config import LazyConfig
from omegaconf import OmegaConf

import vitdet_bench.data  # noqa: F401  (registers shapes_lvis_*)
from vitdet_bench.config import ConfigError, check_train_sampler
from vitdet_bench.evaluation import collect_runs, write_report
from vitdet_bench.evaluation.compare import compare_reports
from vitdet_bench.evaluation.inputs import load_ground_truth, resolve_results_path
from vitdet_bench.evaluation.lvis_eval import (METRIC_NAMES, build_evaluator, federated_from_coco,
                                               lvis_metrics, random_coco, resampled)
from vitdet_bench.evaluation.synthetic import perturb_detections

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def lvis_api(monkeypatch):
    lvis = pytest.importorskip("lvis", reason="lvis-api (pip install --no-deps lvis==0.5.3, as "
                               "tools/install_env.sh does) is the reference of these tests")
    monkeypatch.setattr(np, "float", float, raising=False)
    import logging

    logging.getLogger("lvis").setLevel(logging.ERROR)
    return lvis


# ----------------------------------------------------------------------------- sampler key
def _train_cfg(**train):
    return OmegaConf.create({"dataloader": {"train": dict(
        {"dataset": {"names": "x"}, "mapper": {}, "total_batch_size": 2}, **train)}})


def test_repeat_threshold_is_read_and_checked():
    assert check_train_sampler(_train_cfg()) is None
    assert check_train_sampler(_train_cfg(repeat_threshold=0.001)) == 0.001
    for bad in (0, 1.5, "0.001", True, -0.1):
        with pytest.raises(ConfigError, match="repeat_threshold"):
            check_train_sampler(_train_cfg(repeat_threshold=bad))
    not_d2 = OmegaConf.create({"dataloader": {"train": {"repeat_threshold": 0.001}}})
    with pytest.raises(ConfigError, match="build_detection_train_loader"):
        check_train_sampler(not_d2)


def test_a_sampler_the_engine_does_not_use_is_a_preflight_error(tmp_path):
    """Upstream's way (dataloader.train.sampler = RepeatFactorTrainingSampler) would be
    silently replaced by the engine's resumable sampler: refused, with the key to use."""
    cfg = _train_cfg(sampler={"_target_": "detectron2.data.samplers.RepeatFactorTrainingSampler"})
    with pytest.raises(ConfigError, match="dataloader.train.repeat_threshold=0.001"):
        check_train_sampler(cfg)
    from vitdet_bench.config import load_config

    # and through load_config: an override adding the key is accepted and checked
    cfg = load_config(os.path.join(ROOT, "configs", "demo", "vit_tiny_shapes.py"),
                      ["dataloader.train.repeat_threshold=0.5"])
    assert cfg.dataloader.train.repeat_threshold == 0.5
    with pytest.raises(ConfigError, match="repeat_threshold=2"):
        load_config(os.path.join(ROOT, "configs", "demo", "vit_tiny_shapes.py"),
                    ["dataloader.train.repeat_threshold=2"])


def _ids_from(loader, n_batches):
    it = iter(loader)
    return [[d["image_id"] for d in next(it)] for _ in range(n_batches)]


def test_resumable_loader_with_repeat_factors_resumes_exactly():
    from vitdet_bench.engine.data import build_resumable_train_loader

    # class 0 in every image (frequent), class k only in image k: rare classes repeat
    dicts = [{"image_id": i, "width": 10, "height": 10,
              "annotations": [{"category_id": 0}] + ([{"category_id": i}] if i < 4 else [])}
             for i in range(40)]
    mapper = lambda d: dict(d)  # noqa: E731
    kw = dict(seed=7, num_workers=0, aspect_ratio_grouping=False, repeat_threshold=0.1)
    full = _ids_from(build_resumable_train_loader(dicts, mapper, 4, **kw), 60)
    resumed = _ids_from(build_resumable_train_loader(dicts, mapper, 4, start_iter=25, **kw), 35)
    assert resumed == full[25:]
    flat = np.array(sum(full, []))
    # images 0..3 hold a class of frequency 1/40: repeat factor sqrt(0.1 * 40) = 2
    rare = np.isin(flat, [0, 1, 2, 3]).mean() / 4
    other = np.isin(flat, range(4, 40)).mean() / 36
    assert 1.5 < rare / other < 2.6
    plain = _ids_from(build_resumable_train_loader(dicts, mapper, 4, seed=7, num_workers=0,
                                                   aspect_ratio_grouping=False), 60)
    assert plain != full


# ----------------------------------------------------------------------------- configs
@pytest.mark.parametrize("size,lr,depth,drop,decay", [("b", 2e-4, 12, 0.1, 0.7),
                                                      ("l", 2e-4, 24, 0.4, 0.8),
                                                      ("h", 1e-4, 32, 0.4, 0.9)])
@pytest.mark.parametrize("cascade", [False, True])
def test_lvis_configs_are_upstreams(size, lr, depth, drop, decay, cascade):
    name = ("cascade_" if cascade else "") + f"mask_rcnn_vitdet_{size}_100ep.py"
    cfg = LazyConfig.load(os.path.join(ROOT, "configs", "lvis", name))
    assert cfg.dataloader.train.dataset.names == "lvis_v1_train"
    assert cfg.dataloader.test.dataset.names == "lvis_v1_val"
    assert cfg.dataloader.train.repeat_threshold == 0.001
    assert "sampler" not in cfg.dataloader.train
    assert check_train_sampler(cfg) == 0.001
    assert cfg.dataloader.evaluator.max_dets_per_image == 300
    assert cfg.dataloader.evaluator._target_ is build_evaluator
    assert cfg.model.roi_heads.num_classes == 1203
    preds = (cfg.model.roi_heads.box_predictors if cascade else [cfg.model.roi_heads.box_predictor])
    assert len(preds) == (3 if cascade else 1)
    for p in preds:
        assert (p.test_score_thresh, p.test_topk_per_image) == (0.02, 300)
        assert p.use_sigmoid_ce and p.use_fed_loss
        assert p.get_fed_loss_cls_weights.dataset_names == "lvis_v1_train"
        assert p.get_fed_loss_cls_weights.freq_weight_power == 0.5
    assert cfg.train.max_iter == 156250
    assert list(cfg.lr_multiplier.scheduler.milestones) == [138889, 150463]
    assert cfg.lr_multiplier.scheduler.num_updates == 156250
    assert cfg.lr_multiplier.warmup_length == 250 / 156250
    assert cfg.train.eval_period == 30000
    assert cfg.optimizer.lr == lr
    net = cfg.model.backbone.net
    assert (net.depth, net.drop_path_rate, cfg.optimizer.params.layer_decay) == (depth, drop, decay)
    assert cfg.dataloader.train.total_batch_size == 64


def test_tiny_lvis_model_builds_with_the_training_sets_weights():
    from detectron2.config import instantiate

    from vitdet_bench.config import load_config
    from vitdet_bench.data.lvis import class_image_counts

    cfg = load_config(os.path.join(ROOT, "configs", "demo", "vit_tiny_shapes_lvis.py"),
                      ["train.max_iter=10", "train.warmup_iters=1"])
    model = instantiate(cfg.model)
    w = model.roi_heads.box_predictor.fed_loss_cls_weights
    assert np.allclose(w.numpy(), np.array(class_image_counts("shapes_lvis_train")) ** 0.5)


def test_too_many_fed_loss_classes_is_a_clear_error():
    from detectron2.config import instantiate

    from vitdet_bench.config import load_config

    cfg = load_config(os.path.join(ROOT, "configs", "demo", "vit_tiny_shapes_lvis.py"),
                      ["train.max_iter=10", "train.warmup_iters=1",
                       "model.roi_heads.box_predictor.fed_loss_num_classes=50"])
    with pytest.raises(ValueError, match="fed_loss_num_classes=50"):
        instantiate(cfg.model)


def test_lvis_evaluator_refuses_another_detection_limit():
    with pytest.raises(ValueError, match="300 detections per image"):
        build_evaluator("shapes_lvis_val", max_dets_per_image=100)


# ----------------------------------------------------------------------------- bootstrap
def _duplicated(gt: dict, dets: list, w: np.ndarray):
    """The physically duplicated dataset of image weights ``w`` (w <= 3): each copy a new
    image (id right after the original's) with its annotations, detections and lists."""
    ids = sorted(im["id"] for im in gt["images"])
    weight = dict(zip(ids, w))
    images, anns, out_dets = [], [], []
    by_img = {}
    for a in gt["annotations"]:
        by_img.setdefault(a["image_id"], []).append(a)
    next_ann = max(a["id"] for a in gt["annotations"]) + 1
    for im in gt["images"]:
        for c in range(int(weight[im["id"]])):
            new_id = im["id"] + c
            images.append(dict(im, id=new_id))
            for a in by_img.get(im["id"], []):
                anns.append(dict(a, id=a["id"] if c == 0 else next_ann, image_id=new_id))
                next_ann += c > 0
            out_dets += [dict(d, image_id=new_id) for d in dets if d["image_id"] == im["id"]]
    return dict(gt, images=images, annotations=anns), out_dets


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_federated_bootstrap_equals_lvis_api_on_duplicated_images(lvis_api, tmp_path, iou_type):
    coco = random_coco(seed=11, num_images=24, num_categories=12)   # image ids 1000 + 3 i
    gt_dict = federated_from_coco(coco, seed=11, p_neg=0.3, p_not_exhaustive=0.3)
    dets = perturb_detections(coco, seed=11, masks=iou_type == "segm", dets_per_image=40)
    for d in dets[::4]:
        d["score"] = round(d["score"], 1)            # ties, also across copies
    gt = load_ground_truth(gt_dict, iou_types=(iou_type,))
    rs = resampled(gt, dets, iou_type)
    full = lvis_metrics(gt, dets, iou_type)["lvis"]
    ones = rs.stats(np.ones(rs.n_img, np.int64)) * 100
    for k, name in enumerate(METRIC_NAMES[:9]):
        assert (full[name] is None and ones[k] < 0) or \
            ones[k] == pytest.approx(full[name], abs=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(2):
        w = rng.integers(0, 4, rs.n_img)
        dup_gt, dup_dets = _duplicated(gt_dict, dets, w)
        path = os.path.join(str(tmp_path), "dup.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(dup_gt, f)
        ref_gt = lvis_api.LVIS(path)
        ev = lvis_api.LVISEval(ref_gt, lvis_api.LVISResults(
            ref_gt, [{k: v for k, v in d.items() if not (iou_type == "segm" and k == "bbox")}
                     for d in dup_dets]), iou_type)
        ev.run()
        got = rs.stats(w)
        for k, name in enumerate(METRIC_NAMES[:9]):
            assert got[k] == pytest.approx(ev.results[name], abs=1e-12), name


def _lvis_runs(tmp_path):
    coco = random_coco(seed=3, num_images=30, num_categories=10)
    gt = federated_from_coco(coco, seed=3, p_neg=0.3, p_not_exhaustive=0.2)
    gt_path = os.path.join(str(tmp_path), "lvis_gt.json")
    with open(gt_path, "w", encoding="utf-8") as f:
        json.dump(gt, f)
    runs = {}
    for name, seed in (("a", 1), ("b", 2)):
        d = tmp_path / name
        (d / "inference").mkdir(parents=True)
        res = perturb_detections(coco, seed=seed, masks=False, dets_per_image=30)
        rp = d / "inference" / "lvis_instances_results.json"
        rp.write_text(json.dumps(res))
        write_report(gt_path, str(rp), str(d), iou_types=("bbox",), charts=False)
        runs[name] = d
    return gt_path, runs


def test_compare_lvis_runs_with_federated_intervals(tmp_path):
    _, runs = _lvis_runs(tmp_path)
    # a run folder resolves to the LVIS evaluator's results file
    assert resolve_results_path(str(runs["a"])).endswith("lvis_instances_results.json")
    reps = {k: json.loads((d / "report.json").read_text()) for k, d in runs.items()}
    out = compare_reports([(k, str(d / "report.json")) for k, d in runs.items()],
                          str(tmp_path / "cmp"), iou_types=("bbox",), charts=False,
                          bootstrap=40, bootstrap_seed=1)
    assert out["metrics"] == "lvis"
    for k in runs:
        row = out["bbox"]["runs"][k]
        for m in ("AP", "APr", "APc", "APf"):
            assert row["coco"][m] == reps[k]["bbox"]["lvis"][m]
            lo, hi = row["interval"][m]["interval"] if isinstance(row["interval"][m], dict) \
                else row["interval"][m]
            assert lo < hi
        # federated AP, not COCO AP of the same files
        assert row["coco"]["AP"] != reps[k]["bbox"]["coco"]["AP"]
    diff = out["bbox"]["differences"][0]["metrics"]["APr"]
    assert diff["difference"] == pytest.approx(reps["a"]["bbox"]["lvis"]["APr"]
                                               - reps["b"]["bbox"]["lvis"]["APr"])
    assert "interval" in diff
    md = (tmp_path / "cmp" / "compare.md").read_text()
    assert "LVIS federated AP" in md and "ΔAPr" in md


def test_compare_refuses_lvis_and_coco_reports_together(tmp_path):
    _, runs = _lvis_runs(tmp_path)
    rep = json.loads((runs["b"] / "report.json").read_text())
    del rep["bbox"]["lvis"]
    (runs["b"] / "report.json").write_text(json.dumps(rep))
    from vitdet_bench.evaluation.compare import RunFolderError

    with pytest.raises(RunFolderError, match="different metrics"):
        compare_reports([(k, str(d / "report.json")) for k, d in runs.items()],
                        str(tmp_path / "cmp"), iou_types=("bbox",), charts=False, bootstrap=0)


def test_collect_runs_shows_lvis_columns(tmp_path):
    _, runs = _lvis_runs(tmp_path)
    for k, d in runs.items():
        (d / "config.yaml").write_text(
            "dataloader:\n  train:\n    dataset: {names: shapes_lvis_train}\n"
            "    total_batch_size: 4\n"
            "model:\n  backbone:\n    _target_: vitdet_bench.modeling.ViTFPN\n    bottom_up:\n"
            "      _target_: vitdet_bench.modeling.MultiScaleAdaptor\n"
            "      net: {_target_: vitdet_bench.modeling.ViT, depth: 8, embed_dim: 128}\n"
            f"train:\n  epochs: null\n  max_iter: 100\n  num_train_images: 600\n"
            f"  output_dir: output/{k}\n  seed: {1 if k == 'a' else 2}\n"
            "  vitdet_bench: {init: random, model_size: T}\n")
    out = tmp_path / "bench"
    infos = collect_runs([str(tmp_path / "a"), str(tmp_path / "b")], str(out), charts=False)
    reps = {k: json.loads((d / "report.json").read_text()) for k, d in runs.items()}
    by_dir = {os.path.basename(i.run_dir): i for i in infos}
    for k in runs:
        assert by_dir[k].ap_box == reps[k]["bbox"]["lvis"]["AP"]        # federated AP
        assert by_dir[k].lvis["apr_box"] == reps[k]["bbox"]["lvis"]["APr"]
    rows = list(csv.DictReader((out / "benchmark.csv").open()))
    assert {"apr_box", "apc_box", "apf_box", "apr_mask"} <= set(rows[0])
    assert float(rows[0]["apf_box"]) == pytest.approx(
        reps[os.path.basename(rows[0]["run_dir"])]["bbox"]["lvis"]["APf"], abs=1e-4)
    md = (out / "benchmark.md").read_text()
    assert "LVIS: AP^box r / c / f" in md
    mean_r = (reps["a"]["bbox"]["lvis"]["APr"] + reps["b"]["bbox"]["lvis"]["APr"]) / 2
    assert f"{mean_r:.1f} / " in md


# ----------------------------------------------------------------------------- the engine
@pytest.mark.slow
def test_tiny_lvis_run_trains_with_rfs_and_fed_loss_and_reports_apr(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, os.path.join(ROOT, "tools", "train_net.py"), "--config-file",
           os.path.join(ROOT, "configs", "demo", "vit_tiny_shapes_lvis.py"),
           f"train.output_dir={out}", "train.max_iter=30", "train.warmup_iters=5",
           "train.log_period=1", "dataloader.train.total_batch_size=2",
           "dataloader.train.num_workers=0", "dataloader.test.num_workers=0"]
    p = subprocess.run(cmd, cwd=str(tmp_path), capture_output=True, text=True, timeout=1500)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-4000:])
    log = (out / "log.txt").read_text()
    assert "Repeat-factor sampling at threshold 0.6" in log
    assert "FederatedFastRCNNOutputLayers" in (out / "config.yaml").read_text() or \
        "use_fed_loss: true" in (out / "config.yaml").read_text()
    assert (out / "inference" / "lvis_instances_results.json").is_file()
    report = json.loads((out / "report.json").read_text())
    for t in ("bbox", "segm"):
        lv = report[t]["lvis"]
        assert all(lv[m] is not None for m in ("AP", "APr", "APc", "APf"))
        assert set(report[t]["per_frequency"]) == {"r", "c", "f"}
    md = (out / "inference" / "report.md").read_text()
    assert "LVIS federated AP" in md
    metrics = [json.loads(x) for x in (out / "metrics.json").read_text().splitlines() if x.strip()]
    assert any("bbox/APr" in m for m in metrics)
    # downstream: collect and compare (the run against itself: a zero difference)
    infos = collect_runs([str(out)], str(tmp_path / "bench"), charts=False)
    assert infos[0].ap_box == report["bbox"]["lvis"]["AP"]
    assert infos[0].lvis["apc_mask"] == report["segm"]["lvis"]["APc"]
    cmp = compare_reports([("x", str(out)), ("y", str(out))], str(tmp_path / "cmp"),
                          charts=False, bootstrap=20)
    assert cmp["metrics"] == "lvis"
    assert cmp["segm"]["differences"][0]["metrics"]["APf"]["difference"] == 0


def test_study_collect_shows_lvis_columns(tmp_path):
    from vitdet_bench.study import Resources, Study, grid
    from vitdet_bench.study.runner import collect_study
    from vitdet_bench.study.spec import expand

    study = Study(name="lvis_tiny",
                  runs=grid(os.path.join(ROOT, "configs", "demo", "vit_tiny_shapes_lvis.py"),
                            axes={"train.seed": [1, 2]}),
                  resources=Resources(nodes=1, gpus_per_node=1, request_gpus=False),
                  rows=("config",), columns=("train.seed",))
    root = str(tmp_path / "root")
    _, lvis_runs = _lvis_runs(tmp_path)
    reps = []
    for run, src in zip(expand(study, root), lvis_runs.values()):
        os.makedirs(run.folder)
        rep = json.loads((src / "report.json").read_text())
        reps.append(rep)
        with open(os.path.join(run.folder, "report.json"), "w") as f:
            json.dump(rep, f)
        open(os.path.join(run.folder, "model_final.pth"), "wb").close()
        seed = run.axes["train.seed"]
        with open(os.path.join(run.folder, "config.yaml"), "w") as f:
            f.write("dataloader:\n  train:\n    dataset: {names: shapes_lvis_train}\n"
                    "    total_batch_size: 4\nmodel:\n  backbone:\n"
                    "    _target_: vitdet_bench.modeling.ViTFPN\n    bottom_up:\n"
                    "      _target_: vitdet_bench.modeling.MultiScaleAdaptor\n"
                    "      net: {_target_: vitdet_bench.modeling.ViT, depth: 8, embed_dim: 128}\n"
                    f"train:\n  epochs: null\n  max_iter: 100\n  num_train_images: 600\n"
                    f"  seed: {seed}\n  vitdet_bench: {{init: random, model_size: T}}\n")
    text = collect_study(study, str(tmp_path / "table"), root=root, charts=False)
    assert "## LVIS: APr / APc / APf, box ; mask" in text
    # the headline AP of an LVIS run is its federated AP
    assert f"{reps[0]['bbox']['lvis']['AP']:.1f} / -" in text
    assert f"{reps[0]['bbox']['lvis']['APr']:.1f} / {reps[0]['bbox']['lvis']['APc']:.1f}" in text
    rows = list(csv.DictReader(open(tmp_path / "table" / "study.csv")))
    assert float(rows[0]["apr_box"]) == pytest.approx(reps[0]["bbox"]["lvis"]["APr"], abs=1e-4)
    assert float(rows[0]["ap_box"]) == pytest.approx(reps[0]["bbox"]["lvis"]["AP"], abs=1e-4)


def test_lvis_evaluator_needs_no_lvis_api(monkeypatch, tmp_path):
    """The engine's LVIS evaluation runs where lvis-api is not installed (it is only the
    tests' reference): its numbers are lvis_metrics'."""
    from detectron2.data import MetadataCatalog

    from vitdet_bench.data.lvis import register_lvis_instances

    coco = random_coco(seed=6, num_images=12, num_categories=8)
    gt = federated_from_coco(coco, seed=6, p_neg=0.3)
    gt_path = os.path.join(str(tmp_path), "gt.json")
    with open(gt_path, "w", encoding="utf-8") as f:
        json.dump(gt, f)
    register_lvis_instances("lvis_test_no_api", gt_path, str(tmp_path), overwrite=True)
    monkeypatch.setitem(sys.modules, "lvis", None)          # import lvis fails
    to_c = MetadataCatalog.get("lvis_test_no_api").thing_dataset_id_to_contiguous_id
    res = perturb_detections(coco, seed=6, dets_per_image=20)
    ev = build_evaluator("lvis_test_no_api", str(tmp_path), tasks=("bbox",), distributed=False)
    ev.reset()
    by_img = {}
    for r in res:
        by_img.setdefault(r["image_id"], []).append(dict(r, category_id=to_c[r["category_id"]]))
    ev._predictions = [{"image_id": i, "instances": p} for i, p in by_img.items()]
    got = ev.evaluate()["bbox"]
    want = lvis_metrics(load_ground_truth(gt, iou_types=("bbox",)), res, "bbox")["lvis"]
    for k in METRIC_NAMES[:9]:
        assert got[k] == pytest.approx(want[k], abs=1e-12) or (want[k] is None and got[k] != got[k])


def test_report_of_an_lvis_run_has_federated_intervals(tmp_path):
    gt_path, runs = _lvis_runs(tmp_path)
    rp = runs["a"] / "inference" / "lvis_instances_results.json"
    rep = write_report(gt_path, str(rp), str(tmp_path / "rep"), iou_types=("bbox",),
                       charts=False, bootstrap=30, bootstrap_seed=2)
    iv = rep["bbox"]["lvis_interval"]
    assert set(iv) == set(METRIC_NAMES[:9])
    for m in ("AP", "APr", "APc", "APf"):
        lo, hi = iv[m]
        assert lo < hi
    # the same resamples through compare give the same interval
    out = compare_reports([("a", str(tmp_path / "rep" / "report.json"))], str(tmp_path / "cmp"),
                          iou_types=("bbox",), charts=False, bootstrap=30, bootstrap_seed=2)
    assert list(out["bbox"]["runs"]["a"]["interval"]["APr"]) == pytest.approx(list(iv["APr"]))
    md = (tmp_path / "rep" / "report.md").read_text()
    lo, hi = iv["APf"]
    assert f"[{lo:.2f}, {hi:.2f}]" in md


def test_tiny_lvis_cascade_trains_a_step_with_the_federated_loss_in_every_stage():
    import torch
    from detectron2.config import instantiate
    from detectron2.data import DatasetCatalog

    from vitdet_bench.config import load_config

    from configs.common.cascade import to_cascade  # the checkout is on pytest's path
    cfg = load_config(os.path.join(ROOT, "configs", "demo", "vit_tiny_shapes_lvis.py"),
                      ["train.max_iter=10", "train.warmup_iters=1"])
    to_cascade(cfg.model)
    torch.manual_seed(0)
    model = instantiate(cfg.model)
    assert all(p.use_fed_loss for p in model.roi_heads.box_predictor)
    mapper = instantiate(cfg.dataloader.train.mapper)
    batch = [mapper(d) for d in DatasetCatalog.get("shapes_lvis_train")[:2]]
    model.train()
    from detectron2.utils.events import EventStorage

    with EventStorage(0):
        losses = model(batch)
    for s in range(3):
        assert torch.isfinite(losses[f"loss_cls_stage{s}"])
    sum(losses.values()).backward()
    assert model.roi_heads.box_predictor[2].cls_score.weight.grad.abs().sum() > 0
