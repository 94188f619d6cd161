"""DINOv2 with registers (Darcet et al. 2024, "Vision Transformers Need Registers";
facebookresearch/dinov2): the sizes of the family configs.

Imported by ``configs/families/dinov2reg_vit*_mrcnn.py`` and
``configs/families/vitdet/mask_rcnn_dinov2reg_*.py``, not run alone. DINOv2's
architecture (``_dinov2.py``) plus 4 register tokens, which the trunk drops with the
class token before the first detection block; timm folds the file's class position
into the class token and keeps the 37x37 patch table (``no_embed_class``). Official
files ``dinov2_vit*14_reg4_pretrain.pth`` (format ``dinov2``).

No detection fine-tuning recipe published: ViTDet's MAE values of the size (g: the H
values). Pixel statistics: ImageNet, timm's ``pretrained_cfg`` of
``vit_*_patch14_reg4_dinov2.lvd142m``.
"""
from ._recipes import IMAGENET_PIXEL_MEAN, IMAGENET_PIXEL_STD, MAE_RECIPE, apply_size

SIZES = {
    "b": dict(model_name="vit_base_patch14_reg4_dinov2", depth=12, model_size="B",
              checkpoint="dinov2_vitb14_reg4_pretrain.pth", **MAE_RECIPE["B"]),
    "l": dict(model_name="vit_large_patch14_reg4_dinov2", depth=24, model_size="L",
              checkpoint="dinov2_vitl14_reg4_pretrain.pth", **MAE_RECIPE["L"]),
    "g": dict(model_name="vit_giant_patch14_reg4_dinov2", depth=40, model_size="g",
              checkpoint="dinov2_vitg14_reg4_pretrain.pth", **MAE_RECIPE["H"]),
}
COMMON = dict(init="dinov2reg", init_format="dinov2", pretrain_img_size=518,
              pixel_mean=IMAGENET_PIXEL_MEAN, pixel_std=IMAGENET_PIXEL_STD)


def apply_dinov2reg(size, model, optimizer, train, recipe):
    """DINOv2-with-registers ``size`` ("b", "l", "g") on ``recipe`` ("benchmarking" / "vitdet")."""
    apply_size(dict(COMMON, **SIZES[size]), model, optimizer, train, recipe)
