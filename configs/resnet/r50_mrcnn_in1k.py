"""ResNet-50 Mask R-CNN from supervised ImageNet-1k (torchvision weights), 100 epochs.

The supervised ResNet row of the paper's complexity comparison (Li et al. 2021): the
same detector, data and schedule machinery as the ViT recipes, the backbone
initialized from torchvision's ImageNet-1k ResNet-50. The fine-tuning hyper-parameters
are this project's (the paper's ResNet values are not quoted; docs/provenance.md).

| setting        | value | source |
|----------------|-------|--------|
| backbone       | detectron2 ResNet-50, BN (SyncBN under several processes), stride in the 3x3 conv, freeze_at 0 | torchvision layout; paper sec. 5 |
| optimizer      | AdamW, lr 1e-4, wd 0.1, no layer decay | the flagship's (mae_vitb_mrcnn.py); paper value not quoted |
| schedule       | 100 epochs | as the pre-trained ViT recipes |
| input          | RGB, ImageNet mean / std (the flagship's) | torchvision's normalization |
| init           | ``pretrained/resnet50-0676ba61.pth`` (torchvision IMAGENET1K_V1 state dict) | pytorch/vision model zoo |

Also loads detectron2's converted ``R-50.pkl`` (tools/convert-torchvision-to-d2.py):
``train.init_checkpoint=pretrained/R-50.pkl``; for the MSRA Caffe2 file use
``r50_mrcnn_in1k_msra.py``.
"""
from ..mae_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train
from ._resnet import use_resnet

use_resnet(model, optimizer, depth=50)

train.init_checkpoint = "pretrained/resnet50-0676ba61.pth"
train.init_format = "auto"  # resnet_torchvision / resnet_detectron2 / resnet_caffe2, from the file
train.output_dir = "./output/r50_mrcnn_in1k"
train.vitdet_bench = dict(init="supervised_in1k", model_size="R50", epochs=100)
