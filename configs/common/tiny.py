"""The CPU smoke configs' shared pieces: 64-channel detector heads for the 5-class
synthetic shapes data, and a 40-iteration from-scratch schedule on the CPU.

A family's tiny config shrinks its own trunk and neck, then calls these two, so that
every family's smoke run has the same heads and schedule (``projects/*/configs/*_tiny_cpu.py``).
The timm families' tiny configs (``configs/families/*_tiny_shapes.py``) shrink their
trunk with ``use_tiny_timm_trunk``, to the demo ViT's shape.
"""
from typing import Optional

import vitdet_bench  # noqa: F401  (compat patches before detectron2)
from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec

from vitdet_bench.modeling.backbone.timm_trunk import TimmTrunk


def use_tiny_heads(model, channels: int = 64, num_classes: int = 5) -> None:
    """RPN, box and mask heads at ``channels`` wide for objects of 8-128 px, 2-5 per image."""
    model.proposal_generator.head.in_channels = channels
    model.proposal_generator.anchor_generator.sizes = [[8], [16], [32], [64], [128]]
    model.proposal_generator.pre_nms_topk = (500, 300)
    model.proposal_generator.post_nms_topk = (200, 100)
    model.roi_heads.box_head.input_shape = ShapeSpec(channels=channels, height=7, width=7)
    model.roi_heads.box_head.conv_dims = [channels, channels]
    model.roi_heads.box_head.fc_dims = [256]
    model.roi_heads.box_predictor.input_shape = ShapeSpec(channels=256)
    model.roi_heads.mask_head.input_shape = ShapeSpec(channels=channels, height=14, width=14)
    model.roi_heads.mask_head.conv_dims = [channels, channels]
    model.roi_heads.batch_size_per_image = 64
    model.roi_heads.num_classes = num_classes
    model.roi_heads.box_predictor.test_topk_per_image = 20  # shapes images hold 2-5 objects


def use_cpu_smoke_schedule(train, output_dir: str, max_iter: int = 40) -> None:
    """``max_iter`` iterations from scratch on the CPU, fp32, evaluation at the end only."""
    train.epochs = None  # schedule by iterations (train.max_iter), not epochs
    train.max_iter = max_iter
    train.warmup_iters = 5
    train.amp.enabled = False
    train.eval_period = 0
    train.device = "cpu"
    train.init_checkpoint = ""
    train.init_format = "auto"
    train.output_dir = output_dir
    train.vitdet_bench = dict(init="random", model_size="tiny", epochs=1)


def use_tiny_timm_trunk(model, optimizer, model_name: str, pretrain_img_size: int,
                        image_size: int = 256, model_kwargs: Optional[dict] = None,
                        **trunk_options) -> None:
    """The demo detector's ViT (``configs/demo/vit_tiny_shapes.py``) replaced by the timm
    trunk around ``model_name`` shrunk to the demo's shape: 128-d, 8 blocks, 4 heads,
    8x8 windows with blocks 1/3/5/7 global (their outputs are the adaptor's taps),
    prefix tokens dropped before the first block, no drop path, and layer decay over
    8 blocks. ``pretrain_img_size`` is the size of the file to load (the tests write
    small ones); ``model_kwargs`` adds to the shrunk shape (e.g. PE's ``mlp_ratio``);
    ``trunk_options`` are the family's other ``TimmTrunk`` arguments (patch route,
    position-table grid, RoPE window scheme).
    """
    model.backbone.bottom_up.net = L(TimmTrunk)(
        model_name=model_name,
        model_kwargs=dict(embed_dim=128, depth=8, num_heads=4, **(model_kwargs or {})),
        img_size=image_size,
        pretrain_img_size=pretrain_img_size,
        attention_strategy="window_global",  # blocks 1/3/5/7 global
        window_size=8,                       # 16x16 token grid at 256 -> four 8x8 windows
        prefix_tokens="drop",
        drop_path_rate=0.0,
        **trunk_options,
    )
    model.backbone.bottom_up.in_features = ["block1", "block3", "block5", "block7"]
    optimizer.params.num_layers = 8
