"""ResNet-101 Mask R-CNN from supervised ImageNet-1k (torchvision weights), 100 epochs.

As ``r50_mrcnn_in1k.py`` (sources there) with ResNet-101 and torchvision's
``resnet101-63fe2227.pth`` (IMAGENET1K_V1); detectron2's converted ``R-101.pkl`` loads too.
For the MSRA Caffe2 file use ``r101_mrcnn_in1k_msra.py``.
"""
from .r50_mrcnn_in1k import dataloader, lr_multiplier, model, optimizer, train

model.backbone.bottom_up.stages.depth = 101

train.init_checkpoint = "pretrained/resnet101-63fe2227.pth"
train.output_dir = "./output/r101_mrcnn_in1k"
train.vitdet_bench = dict(init="supervised_in1k", model_size="R101", epochs=100)
