"""tools/complexity.py measures a detector config (params, FLOPs, train step, inference) and
writes its table; on the tiny ResNet config at 128 px so that it runs in seconds."""
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))

import complexity  # noqa: E402


def test_one_cell_and_the_table(tmp_path):
    spec = dict(config_file=os.path.join(REPO, "configs", "demo", "resnet_tiny_shapes.py"), device="cpu",
                size=128, steps=1, warmup=0, no_flops=False, no_train=False, no_infer=False,
                # few detections: postprocessing 100 random-weight masks would dominate the test
                opts=["model.backbone.square_pad=128", "model.roi_heads.box_predictor.test_topk_per_image=5",
                      "model.proposal_generator.post_nms_topk=[300,50]"])
    res = complexity.run_cell(spec)
    assert res["status"] == "ok" and res["backbone"] == "ResNet"
    assert 12 < res["params_M"] < 13.5  # ResNet-18 (11.2 M) + 64-channel FPN and heads
    # the backbone's share: ResNet-18 is 1.82 GMACs at 224, 0.59 at 128; a 64-channel FPN on top
    assert 0.59 < res["gflops_by_module"]["backbone"] < 0.9, res["gflops_by_module"]
    assert res["gflops_per_image"] > res["gflops_by_module"]["backbone"]
    for k in ("train_step_s", "train_peak_GB", "infer_s_per_image", "infer_peak_GB"):
        assert res[k] > 0, k
    row = dict(label="R18-tiny", config="configs/demo/resnet_tiny_shapes.py", **res)
    md = complexity.table([row, dict(label="X", status="OOM", backbone="ViT")])
    assert "| R18-tiny | ResNet | 12." in md and "| X | ViT | OOM | OOM | OOM | OOM | OOM | OOM |" in md
    assert complexity.plot([row], str(tmp_path / "c.png")) and (tmp_path / "c.png").stat().st_size > 1000


def test_bad_config_path_is_one_line():
    import pytest

    with pytest.raises(SystemExit, match="expected LABEL=path/to/config.py"):
        complexity.parse_configs(["R50=configs/resnet/nope.py"])
