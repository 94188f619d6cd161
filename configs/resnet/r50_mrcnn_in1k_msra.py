"""ResNet-50 Mask R-CNN from detectron2's MSRA ImageNet-1k file (``R-50.pkl``, Caffe2 blobs).

detectron2's ``ImageNetPretrained/MSRA/R-50.pkl`` is the original MSRA ResNet: it
strides in the 1x1 conv and expects BGR input, mean-subtracted, std 1 (detectron2's
defaults). Otherwise as ``r50_mrcnn_in1k.py``.
"""
from .r50_mrcnn_in1k import dataloader, lr_multiplier, model, optimizer, train

model.backbone.bottom_up.stages.stride_in_1x1 = True
model.input_format = "BGR"
model.pixel_mean = [103.530, 116.280, 123.675]
model.pixel_std = [1.0, 1.0, 1.0]
dataloader.train.mapper.image_format = "BGR"
dataloader.test.mapper.image_format = "BGR"

train.init_checkpoint = "pretrained/R-50.pkl"
train.output_dir = "./output/r50_mrcnn_in1k_msra"
