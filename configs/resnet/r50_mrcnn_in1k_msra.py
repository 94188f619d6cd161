"""ResNet-50 Mask R-CNN from detectron2's MSRA ImageNet-1k file (``R-50.pkl``, Caffe2 blobs).

detectron2's ``ImageNetPretrained/MSRA/R-50.pkl`` is the original MSRA ResNet: it
strides in the 1x1 conv and expects BGR input, mean-subtracted, std 1 (detectron2's
defaults). Otherwise as ``r50_mrcnn_in1k.py``.
"""
from ._resnet import use_msra_input
from .r50_mrcnn_in1k import dataloader, lr_multiplier, model, optimizer, train

use_msra_input(model, dataloader)

train.init_checkpoint = "pretrained/R-50.pkl"
train.output_dir = "./output/r50_mrcnn_in1k_msra"
