"""ResNet-101 Mask R-CNN from detectron2's MSRA ImageNet-1k file (``R-101.pkl``, Caffe2 blobs).

detectron2's ``ImageNetPretrained/MSRA/R-101.pkl`` is the original MSRA ResNet: it
strides in the 1x1 conv and expects BGR input, mean-subtracted, std 1 (detectron2's
defaults). Otherwise as ``r101_mrcnn_in1k.py``.
"""
from ._resnet import use_msra_input
from .r101_mrcnn_in1k import dataloader, lr_multiplier, model, optimizer, train

use_msra_input(model, dataloader)

train.init_checkpoint = "pretrained/R-101.pkl"
train.output_dir = "./output/r101_mrcnn_in1k_msra"
