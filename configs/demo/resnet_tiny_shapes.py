"""A tiny ResNet Mask R-CNN on the synthetic shapes data: the ResNet baselines' detector, CPU-sized.

``configs/resnet/``'s detector (detectron2 BN ResNet -> BN FPN -> 2-conv RPN, 4conv1fc
BN box head, BN mask head) with a ResNet-18 and the demo's 64-channel FPN and heads at
256 px (``vit_tiny_shapes.py`` otherwise), trained from scratch. Used by
tests/test_resnet_train.py through ``tools/train_net.py``.
"""
from ..demo.vit_tiny_shapes import dataloader, lr_multiplier, model, optimizer, train
from ..resnet._resnet import use_resnet

use_resnet(model, optimizer, depth=18)
del model.backbone.bottom_up.stages.stride_in_1x1  # basic blocks have no 1x1 conv
model.backbone.out_channels = 64
model.backbone.square_pad = 256

train.init_checkpoint = ""
train.init_format = "auto"  # no file: detectron2's own ResNet init
train.output_dir = "./output/demo_resnet_tiny_shapes"
train.vitdet_bench = dict(init="random", model_size="R18-tiny", epochs=6.67)
