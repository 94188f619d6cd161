"""SigLIP 2 (Tschannen et al. 2025) image encoders: sizes and how one is applied to a recipe.

Imported by ``siglip2_vit*_mrcnn.py`` and ``vitdet/mask_rcnn_siglip2_*.py`` (not run alone).

| size   | timm model (tag)                        | pre-training | blocks | global / taps  | official file (Hugging Face)                      |
|--------|-----------------------------------------|--------------|--------|----------------|---------------------------------------------------|
| b      | vit_base_patch16_siglip_224.v2_webli    | 224, /16     | 12     | 2, 5, 8, 11    | google/siglip2-base-patch16-224 model.safetensors |
| l      | vit_large_patch16_siglip_256.v2_webli   | 256, /16     | 24     | 5, 11, 17, 23  | google/siglip2-large-patch16-256 model.safetensors |
| so400m | vit_so400m_patch14_siglip_224.v2_webli  | 224, /14     | 27     | 6, 13, 20, 26  | google/siglip2-so400m-patch14-224 model.safetensors |

* Pixel statistics: mean 0.5, std 0.5 on 0-1 pixels (timm ``pretrained_cfg`` of the
  ``v2_webli`` tags), i.e. 127.5 / 127.5 on detectron2's 0-255 inputs.
* No class token; an absolute position table without prefix slot (14x14 / 16x16 / 16x16).
* SO400M has 27 blocks, not divisible by 4: the global blocks end the four quarters of
  7, 7, 7 and 6 blocks (``ceil(k * 27 / 4) - 1``); no published detection recipe says
  otherwise.
* Format ``siglip2_hf``: the Hugging Face file of the whole image-text model (keys
  ``vision_model.*``; the text tower is ignored by a named rule). It is stored here under
  the repository's name, ``pretrained/<repo>/model.safetensors``.
* Recipe values: SigLIP 2 publishes no Mask R-CNN / ViTDet fine-tuning recipe, so lr,
  layer decay and drop path are ViTDet's MAE values for the size (B: 1e-4 / 0.7 / 0.1;
  L: 1e-4 / 0.8 / 0.4; SO400M: ViT-H's 1e-4 / 0.9 / 0.5, as every size above L here).
"""
from ._family_recipe import apply_family_size

_SIGLIP_MEAN = (0.5, 0.5, 0.5)  # timm pretrained_cfg, vit_*_siglip_*.v2_webli
_SIGLIP_STD = (0.5, 0.5, 0.5)

SIGLIP2_SIZES = {
    "b": dict(model_name="vit_base_patch16_siglip_224.v2_webli", pretrain_img_size=224,
              depth=12, global_blocks=(2, 5, 8, 11),
              checkpoint="siglip2-base-patch16-224/model.safetensors", init_format="siglip2_hf",
              pixel_mean=_SIGLIP_MEAN, pixel_std=_SIGLIP_STD,
              lr=1e-4, layer_decay=0.7, drop_path=0.1),
    "l": dict(model_name="vit_large_patch16_siglip_256.v2_webli", pretrain_img_size=256,
              depth=24, global_blocks=(5, 11, 17, 23),
              checkpoint="siglip2-large-patch16-256/model.safetensors", init_format="siglip2_hf",
              pixel_mean=_SIGLIP_MEAN, pixel_std=_SIGLIP_STD,
              lr=1e-4, layer_decay=0.8, drop_path=0.4),
    "so400m": dict(model_name="vit_so400m_patch14_siglip_224.v2_webli", pretrain_img_size=224,
                   depth=27, global_blocks=(6, 13, 20, 26),
                   checkpoint="siglip2-so400m-patch14-224/model.safetensors",
                   init_format="siglip2_hf",
                   pixel_mean=_SIGLIP_MEAN, pixel_std=_SIGLIP_STD,
                   lr=1e-4, layer_decay=0.9, drop_path=0.5),
}


def apply_siglip2(size, recipe, model, optimizer, train):
    """Apply SigLIP 2 ``size`` ("b", "l", "so400m") to a "benchmarking" or "vitdet" recipe."""
    apply_family_size(SIGLIP2_SIZES[size], recipe, model, optimizer, train)
