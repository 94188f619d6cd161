"""Every file ``--eval-only`` is given goes through the format registry and the load report,
and an evaluation that would leave any tensor of the detector at its initialization stops.

Files are written here from random weights in the public layouts (detectron2's model-zoo
ViTDet ``model_final_*.pkl``, see tests/test_released_detectors.py). A "half-matching" file
is that layout with half of the simple feature pyramid (branches ``simfp_4``, ``simfp_5``
missing): loaded by name, the rest of the pyramid would be evaluated random.
"""
import json
import os
import pickle

import pytest
import torch

import vitdet_bench  # noqa: F401

from vitdet_bench.checkpoint import CheckpointError
from vitdet_bench.checkpoint.evaluation import fresh_tensors, load_for_evaluation

from checkpoint_fixtures import make_mae
from engine_fixtures.cli_runner import cli_env, run_cli_cases
from test_released_detectors import ROOT, TINY_VITDET, build, write_vitdet_pkl

VITDET_B = os.path.join(ROOT, "configs", "vitdet", "mask_rcnn_vitdet_b_100ep.py")


def write_half_matching(path, full_path):
    """The model-zoo file without two of its pyramid's branches (``backbone.simfp_{4,5}``)."""
    with open(full_path, "rb") as f:
        data = pickle.load(f)
    data["model"] = {k: v for k, v in data["model"].items()
                     if not k.startswith(("backbone.simfp_4.", "backbone.simfp_5."))}
    with open(path, "wb") as f:
        pickle.dump(data, f)


def test_a_released_detector_loads_whole_and_a_half_matching_one_stops(tmp_path):
    full, half = str(tmp_path / "model_final_full.pkl"), str(tmp_path / "model_final_half.pkl")
    write_vitdet_pkl(full, build(TINY_VITDET)[1])
    write_half_matching(half, full)
    _, model = build(TINY_VITDET)
    rep = load_for_evaluation(model, full)
    assert rep.format == "vitdet_d2" and not fresh_tensors(model, rep)
    # configs/vitdet name the backbone they train from (train.init_format="mae"): a released
    # detector given to the evaluation is still read as what it is
    _, model = build(TINY_VITDET)
    rep = load_for_evaluation(model, full, format="mae")
    assert rep.format == "vitdet_d2" and not fresh_tensors(model, rep)
    _, model = build(TINY_VITDET)
    with pytest.raises(CheckpointError) as e:
        load_for_evaluation(model, half)
    msg = str(e.value)
    assert "backbone.stages.2.1" in msg and "backbone.stages.3.1" in msg
    assert "backbone.stages.0" not in msg and "random initialization" in msg
    assert "train.eval_allow_fresh=True" in msg
    # asked for explicitly: evaluated, and the report says which tensors are fresh
    rep = load_for_evaluation(model, half, allow_fresh=True)
    assert any("backbone.stages" in n for n in rep.notes)
    fresh = fresh_tensors(model, rep)
    assert fresh and all(k.startswith(("backbone.stages.2.", "backbone.stages.3.")) for k in fresh)


def test_a_pretrained_backbone_or_a_run_of_ours(tmp_path):
    # a pre-trained backbone is not a detector: its heads would be random
    cfg, model = build(TINY_VITDET)
    with pytest.raises(CheckpointError, match="pre-trained backbone, not a detector"):
        make_mae(tmp_path / "mae.pth")
        load_for_evaluation(model, str(tmp_path / "mae.pth"), lenient=True)
    # a detector trained here (detectron2 checkpointer's layout, our key names)
    _, donor = build(TINY_VITDET)
    torch.save({"model": donor.state_dict(), "iteration": 99, "trainer": {"iteration": 99}},
               tmp_path / "model_final.pth")
    for fmt in ("auto", "detectron2"):
        _, model = build(TINY_VITDET)
        rep = load_for_evaluation(model, str(tmp_path / "model_final.pth"), format=fmt)
        assert rep.format == "detectron2" and not fresh_tensors(model, rep)
        for k, v in model.state_dict().items():
            assert torch.equal(v, donor.state_dict()[k]), k


def test_inspect_reports_what_eval_only_acts_on(tmp_path, capsys, caplog):
    import inspect_checkpoint

    full, half = str(tmp_path / "model_final_full.pkl"), str(tmp_path / "model_final_half.pkl")
    write_vitdet_pkl(full, build(TINY_VITDET)[1])
    write_half_matching(half, full)
    with caplog.at_level("INFO", logger="vitdet_bench"):
        assert inspect_checkpoint.main([full, "--config-file", TINY_VITDET, "--json",
                                        str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out + caplog.text  # the report: printed, or logged under pytest
    assert "format: vitdet_d2" in out and "initialized fresh: 0" in out
    with open(tmp_path / "r.json") as f:
        assert json.load(f)["format"] == "vitdet_d2"
    assert inspect_checkpoint.main([half, "--config-file", TINY_VITDET]) == 1
    err = capsys.readouterr().err
    assert "backbone.stages" in err and "train.eval_allow_fresh=True" in err


def test_eval_only_with_a_half_matching_file_stops_before_inference(tmp_path):
    full, half = str(tmp_path / "model_final_full.pkl"), str(tmp_path / "model_final_half.pkl")
    write_vitdet_pkl(full, build(TINY_VITDET)[1])
    write_half_matching(half, full)
    make_mae(tmp_path / "mae.pth")
    cases = [dict(argv=["--config-file", TINY_VITDET, "--eval-only", f"train.init_checkpoint={p}",
                        f"train.output_dir={tmp_path / name}"])
             for name, p in (("half", half), ("mae", str(tmp_path / "mae.pth")))]
    half_res, mae_res = run_cli_cases(cases, str(tmp_path / "cli"), env=cli_env())
    for res in (half_res, mae_res):
        assert res["rc"] == 2, res["stderr"][-2000:]
        assert "Traceback" not in res["stderr"] and "not evaluated" in res["stderr"]
        assert "train.eval_allow_fresh=True" in res["stderr"]
    assert "backbone.stages" in half_res["stderr"]
    assert "format: vitdet_d2" in half_res["stdout"] + half_res["stderr"]  # the report came first
    assert not os.path.exists(tmp_path / "half" / "report.json")


def _write_vitdet_b_pkl(path):
    """A ViT-B model_final_*.pkl of configs/vitdet/mask_rcnn_vitdet_b_100ep.py (random weights)."""
    from checkpoint_fixtures import randomize
    from reference_vitdet import ReferenceSimpleFeaturePyramid, ReferenceViT
    from test_released_detectors import upstream_sfp_names

    torch.manual_seed(1)
    ref = ReferenceSimpleFeaturePyramid(ReferenceViT(), out_channels=256)
    randomize(ref, seed=5)
    names = upstream_sfp_names(ref)
    model = {}
    for k, v in ref.state_dict().items():
        if k.startswith("net.patch_embed."):
            model["backbone.net.patch_embed.proj." + k.split(".")[-1]] = v.numpy().copy()
        elif k.startswith("net."):
            model["backbone." + k] = v.numpy().copy()
        else:
            model[names[k]] = v.numpy().copy()
    _, detector = build(VITDET_B)
    for k, v in randomize(detector, seed=6).state_dict().items():
        if not k.startswith("backbone."):
            model[k] = v.numpy().copy()
    with open(path, "wb") as f:
        pickle.dump({"model": model, "__author__": "Detectron2 Model Zoo"}, f)


def _coco128_trimmed(folder, n_images):
    """A dataset root whose coco128 holds only its first ``n_images`` images (by id), so
    ``coco128_first16`` / ``coco128_train`` evaluate those few; images are symlinked."""
    from vitdet_bench.data.datasets import COCO128_DIRNAME, COCO128_IMAGES, COCO128_JSON, coco128_paths

    json_file, image_root = coco128_paths()
    if not os.path.isfile(json_file):
        pytest.skip(f"coco128 is not installed ({json_file} missing; docs/data.md)")
    with open(json_file) as f:
        coco = json.load(f)
    coco["images"] = sorted(coco["images"], key=lambda im: im["id"])[:n_images]
    keep = {im["id"] for im in coco["images"]}
    coco["annotations"] = [a for a in coco["annotations"] if a["image_id"] in keep]
    base = os.path.join(str(folder), COCO128_DIRNAME)
    os.makedirs(os.path.dirname(os.path.join(base, COCO128_JSON)))
    os.makedirs(os.path.join(base, COCO128_IMAGES))
    with open(os.path.join(base, COCO128_JSON), "w") as f:
        json.dump(coco, f)
    for im in coco["images"]:
        os.symlink(os.path.join(image_root, im["file_name"]),
                   os.path.join(base, COCO128_IMAGES, im["file_name"]))
    return str(folder)


@pytest.mark.slow
def test_the_readme_command_on_a_released_vitdet_b(tmp_path):
    """tools/train_net.py --config-file configs/vitdet/mask_rcnn_vitdet_b_100ep.py --eval-only
    train.init_checkpoint=<model_final .pkl> on coco128_first16 trimmed to 2 images: the
    load report (vitdet_d2, nothing fresh) comes before inference; the same with half of the
    pyramid missing from the file stops with the tensors named."""
    root = _coco128_trimmed(tmp_path / "datasets", 2)
    full = str(tmp_path / "model_final_61ccd1.pkl")
    half = str(tmp_path / "model_final_half.pkl")
    _write_vitdet_b_pkl(full)
    write_half_matching(half, full)
    data = ["dataloader.train.dataset.names=coco128_train",
            "dataloader.test.dataset.names=coco128_first16", "train.device=cpu"]
    cases = [dict(argv=["--config-file", VITDET_B, "--eval-only", f"train.init_checkpoint={p}",
                        f"train.output_dir={tmp_path / name}"] + data, timeout=3000)
             for name, p in (("full", full), ("half", half))]
    full_res, half_res = run_cli_cases(cases, str(tmp_path / "cli"),
                                       env=cli_env(DETECTRON2_DATASETS=root), timeout=3600)
    assert full_res["rc"] == 0, full_res["stdout"][-2000:] + full_res["stderr"][-3000:]
    log = full_res["stdout"] + full_res["stderr"]
    report_at = log.find("format: vitdet_d2")
    assert report_at >= 0 and "initialized fresh: 0" in log
    assert report_at < log.find("Start inference"), "the load report comes before inference"
    with open(tmp_path / "full" / "init_report.json") as f:
        rep = json.load(f)
    assert rep["format"] == "vitdet_d2" and not rep["initialized"] and not rep["unexpected"]
    assert len(rep["loaded"]) == 245  # detectron2's ViTDet-B model_final: every tensor
    assert os.path.isfile(tmp_path / "full" / "report.json")
    assert half_res["rc"] == 2 and "backbone.stages.2" in half_res["stderr"]
    assert "train.eval_allow_fresh=True" in half_res["stderr"]


def test_a_released_cascade_detector_loads_whole(tmp_path):
    """A model-zoo ViTDet *cascade* file (upstream's backbone names, detectron2's
    CascadeROIHeads names ``roi_heads.box_head.{0,1,2}`` / ``box_predictor.{0,1,2}``)
    loads into configs/common/cascade.py's cascade with nothing left fresh."""
    from detectron2.config import LazyConfig, instantiate

    from configs.common.cascade import to_cascade  # the checkout is on pytest's path

    cfg = LazyConfig.load(TINY_VITDET)
    to_cascade(cfg.model)
    torch.manual_seed(0)
    cascade = instantiate(cfg.model).eval()
    assert any(k.startswith("roi_heads.box_predictor.2.") for k in cascade.state_dict())
    path = str(tmp_path / "model_final_cascade.pkl")
    write_vitdet_pkl(path, cascade)
    torch.manual_seed(0)
    model = instantiate(cfg.model).eval()
    rep = load_for_evaluation(model, path)
    assert rep.format == "vitdet_d2" and not fresh_tensors(model, rep)
    assert not rep.unexpected
