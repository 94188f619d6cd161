"""ResNet-101 Mask R-CNN from random initialization, 400 epochs (the paper's ResNet baseline).

As ``r50_mrcnn_scratch.py`` (same detector, data, AdamW recipe and schedule; sources
there) with ResNet-101. From scratch it reaches 48.9 box AP, as ViT-B from scratch does,
with AP still rising to ~400 fine-tuning epochs (ViT-B peaks at ~200); where these
figures come from: docs/provenance.md.
"""
from .r50_mrcnn_scratch import dataloader, lr_multiplier, model, optimizer, train

model.backbone.bottom_up.stages.depth = 101

train.output_dir = "./output/r101_mrcnn_scratch"
train.vitdet_bench = dict(init="random", model_size="R101", epochs=400)
