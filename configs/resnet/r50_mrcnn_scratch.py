"""ResNet-50 Mask R-CNN from random initialization, 400 epochs (the paper's ResNet baseline).

Li et al. 2021 compare ViT with ResNet in the same modified Mask R-CNN, with the same
LSJ data at 1024 and AdamW schedule machinery; trained from scratch, ResNet-101
reaches 48.9 box AP (as ViT-B from scratch does), with AP still rising to ~400
fine-tuning epochs (ViT-B peaks at ~200). Values name their source (all sources:
docs/provenance.md).

| setting        | value | source |
|----------------|-------|--------|
| backbone       | detectron2 ResNet-50, BN (SyncBN under several processes), freeze_at 0 | paper sec. 5 (BN needed from scratch); detectron2 new_baselines LSJ |
| neck / heads   | BN FPN, 2-conv RPN, 4conv1fc BN box head, BN mask head | paper sec. 3.2 (configs/common/mask_rcnn_vit.py) |
| data           | LSJ 1024 (0.1-2.0), batch 64 | paper sec. 3.3 |
| optimizer      | AdamW (0.9, 0.999), lr 1.6e-4, wd 0.1, no layer decay | this project's from-scratch recipe (random_vitb_mrcnn.py); paper value not quoted |
| schedule       | 400 epochs, 250-iter warm-up, x0.1 at 88.9% / 96.3% | paper: from-scratch ResNets need ~400 epochs |
| init           | random (detectron2's own: MSRA-fill convs, BN 1/0) | no file |

Shorter schedules: ``train.epochs=100`` / ``200`` (docs/ablations.md).
"""
from ..mae_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train
from ._resnet import use_resnet

use_resnet(model, optimizer, depth=50)

optimizer.lr = 1.6e-4
train.epochs = 400
train.init_checkpoint = ""
train.init_format = "auto"  # no file: the model keeps its own initialization
train.output_dir = "./output/r50_mrcnn_scratch"
train.vitdet_bench = dict(init="random", model_size="R50", epochs=400)
