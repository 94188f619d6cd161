"""The CPU smoke configs' shared pieces: 64-channel detector heads for the 5-class
synthetic shapes data, and a 40-iteration from-scratch schedule on the CPU.

A family's tiny config shrinks its own trunk and neck, then calls these two, so that
every family's smoke run has the same heads and schedule (``projects/*/configs/*_tiny_cpu.py``).
"""
from detectron2.layers import ShapeSpec


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
