"""Optimizer, schedule and run settings shared by the ViT Mask R-CNN configs.

The schedule is set in *epochs*: tools/train_net.py converts ``train.epochs`` to
iterations from the training set's size and ``total_batch_size`` at start-up,
and the lr schedule below is expressed in fractions of training so it follows.
"""
import torch
from detectron2.config import LazyCall as L
from detectron2.solver import WarmupParamScheduler
from fvcore.common.param_scheduler import MultiStepParamScheduler

from vitdet_bench.solver import get_param_groups

optimizer = L(torch.optim.AdamW)(
    params=L(get_param_groups)(
        model=None,  # filled in by tools/train_net.py
        base_lr="${..lr}",
        weight_decay="${..weight_decay}",
        layer_decay=0.7,
        num_layers=12,
    ),
    lr=8e-5,
    betas=(0.9, 0.999),
    weight_decay=0.1,
)

# Step decay (x0.1) at 88.9% and 96.3% of training, after a linear warm-up.
lr_multiplier = L(WarmupParamScheduler)(
    scheduler=L(MultiStepParamScheduler)(
        values=[1.0, 0.1, 0.01], milestones=[889, 963], num_updates=1000),
    warmup_length=250 / 184375,  # replaced from train.warmup_iters once max_iter is known
    warmup_factor=0.001,
)

train = dict(
    output_dir="./output/run",
    init_checkpoint="",
    init_format="auto",
    epochs=100,
    num_train_images=None,  # None: counted from the training set after filtering
    max_iter=184375,  # recomputed from epochs
    warmup_iters=250,
    # micro-batches per optimizer step (total_batch_size / grad_accum images each); the
    # schedule counts optimizer steps. tools/study.py sets it from the GPUs a run gets.
    grad_accum=1,
    amp=dict(enabled=True),  # GPU only; CPU runs in fp32 with a notice
    ddp=dict(broadcast_buffers=False, find_unused_parameters=False, fp16_compression=True),
    checkpointer=dict(period=5000, max_to_keep=3),
    eval_period=5000,
    log_period=20,
    device="cuda",  # falls back to CPU with a notice when there is no GPU
    seed=42,
    freeze=dict(trunk=False, pyramid=False),  # frozen-backbone protocol (vitdet_bench.modeling.freeze)
    vitdet_bench=dict(init="random", model_size="B", epochs=100),
)
