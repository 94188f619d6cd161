"""The ResNet backbone shared by the configs/resnet/ baselines (imported by them, not run alone).

detectron2's ResNet (BasicStem + bottleneck stages, res2..res5 at strides 4-32) in place
of the ViT + multi-scale adaptor of ``configs/common/mask_rcnn_vit.py``; everything
after the backbone (BN FPN with P6 by max pool, 2-conv RPN, 4conv1fc BN box head, BN
mask head, square padding to 1024) stays the paper's modified Mask R-CNN. BatchNorm
everywhere, trained (freeze_at=0): the paper's from-scratch baselines need it, and it
becomes SyncBN under several processes (vitdet_bench.layers.convert_batchnorm_for_world),
as detectron2's LSJ ResNet baselines (new_baselines/mask_rcnn_R_*_FPN_*ep_LSJ.py) use.
"""
from detectron2.config import LazyCall as L
from detectron2.modeling.backbone import BasicStem, ResNet
from detectron2.modeling.backbone.fpn import LastLevelMaxPool

from vitdet_bench.modeling import ViTFPN


def use_resnet(model, optimizer, depth: int, stride_in_1x1: bool = False):
    """Replace the detector's backbone by a BN ResNet-``depth`` + BN FPN.

    ``stride_in_1x1``: False for torchvision-layout weights (and random init), True for
    the MSRA Caffe2 files (detectron2's ImageNetPretrained/MSRA/R-*.pkl).
    """
    model.backbone = L(ViTFPN)(
        bottom_up=L(ResNet)(
            stem=L(BasicStem)(in_channels=3, out_channels=64, norm="BN"),
            stages=L(ResNet.make_default_stages)(depth=depth, stride_in_1x1=stride_in_1x1, norm="BN"),
            out_features=["res2", "res3", "res4", "res5"],
            freeze_at=0,
        ),
        in_features=["res2", "res3", "res4", "res5"],
        out_channels=256,
        norm="BN",
        top_block=L(LastLevelMaxPool)(),
        square_pad=1024,
    )
    # no transformer layers: layer-wise lr decay does not apply
    optimizer.params.layer_decay = 1.0


def use_msra_input(model, dataloader):
    """What detectron2's MSRA Caffe2 ResNets (ImageNetPretrained/MSRA/R-*.pkl) expect:
    stride in the 1x1 conv, BGR input, mean-subtracted with std 1."""
    model.backbone.bottom_up.stages.stride_in_1x1 = True
    model.input_format = "BGR"
    model.pixel_mean = [103.530, 116.280, 123.675]
    model.pixel_std = [1.0, 1.0, 1.0]
    dataloader.train.mapper.image_format = "BGR"
    dataloader.test.mapper.image_format = "BGR"
