"""The demo's tiny ViT Mask R-CNN cut to a few seconds of CPU: the cluster tests' run.

``studies/tiny_cpu.py`` runs it under SLURM / submitit's local executor with two CPU
processes per job. 8 iterations of total batch 4 on shapes_train (so one image per
process per micro-batch with gradient accumulation 2 over 2 processes), a checkpoint
every 2 iterations, evaluation on the 8 images of ``shapes_val_mini``. Every detection
is kept (score threshold 0) so that even an untrained model writes a report.
"""
from .vit_tiny_shapes import dataloader, lr_multiplier, model, optimizer, train

dataloader.train.total_batch_size = 4
dataloader.train.num_workers = 0
dataloader.test.dataset.names = "shapes_val_mini"
dataloader.test.num_workers = 0
model.roi_heads.box_predictor.test_score_thresh = 0.0
model.roi_heads.box_predictor.test_topk_per_image = 20

train.epochs = None
train.max_iter = 8
train.warmup_iters = 2
train.checkpointer = dict(period=2, max_to_keep=10)
train.eval_period = 0
train.log_period = 1
train.output_dir = "./output/vit_tiny_study"
train.vitdet_bench = dict(init="random", model_size="tiny", epochs=None)
