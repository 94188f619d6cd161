"""DINOv2 (Oquab et al. 2023, facebookresearch/dinov2): the sizes of the family configs.

Imported by ``configs/families/dinov2_vit*_mrcnn.py`` and
``configs/families/vitdet/mask_rcnn_dinov2_*.py``, not run alone. Patch 14 with a
37x37 position table and a class slot (518 px), LayerScale; ViT-g's MLP is SwiGLU. The
official files (facebookresearch/dinov2 README, "backbone only") are converted by
timm's ``_convert_dinov2`` (format ``dinov2``); the patch kernel is resampled to 16 at
load time (``patch_route="resample16"``, the common detectors' default).

DINOv2 publishes no detection fine-tuning recipe: lr, layer decay and drop path are
ViTDet's MAE values of the size (g: the H values). Pixel statistics: ImageNet, timm's
``pretrained_cfg`` of ``vit_*_patch14_dinov2.lvd142m``.
"""
from ._recipes import IMAGENET_PIXEL_MEAN, IMAGENET_PIXEL_STD, MAE_RECIPE, apply_size

SIZES = {
    "b": dict(model_name="vit_base_patch14_dinov2", depth=12, model_size="B",
              checkpoint="dinov2_vitb14_pretrain.pth", **MAE_RECIPE["B"]),
    "l": dict(model_name="vit_large_patch14_dinov2", depth=24, model_size="L",
              checkpoint="dinov2_vitl14_pretrain.pth", **MAE_RECIPE["L"]),
    "g": dict(model_name="vit_giant_patch14_dinov2", depth=40, model_size="g",
              checkpoint="dinov2_vitg14_pretrain.pth", **MAE_RECIPE["H"]),
}
COMMON = dict(init="dinov2", init_format="dinov2", pretrain_img_size=518,
              pixel_mean=IMAGENET_PIXEL_MEAN, pixel_std=IMAGENET_PIXEL_STD)


def apply_dinov2(size, model, optimizer, train, recipe):
    """DINOv2 ``size`` ("b", "l", "g") on ``recipe`` ("benchmarking" / "vitdet")."""
    apply_size(dict(COMMON, **SIZES[size]), model, optimizer, train, recipe)
