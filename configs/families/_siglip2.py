"""SigLIP 2 (Tschannen et al. 2025) image encoders: the sizes of the family configs.

Imported by ``configs/families/siglip2_vit*_mrcnn.py`` and
``configs/families/vitdet/mask_rcnn_siglip2_*.py``, not run alone; each size is applied to
either recipe by ``_recipes.py``.

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
from ._recipes import INCEPTION_PIXEL_MEAN, INCEPTION_PIXEL_STD, MAE_RECIPE, apply_size

SIZES = {
    "b": dict(model_name="vit_base_patch16_siglip_224.v2_webli", depth=12, model_size="B",
              pretrain_img_size=224, checkpoint="siglip2-base-patch16-224/model.safetensors",
              **MAE_RECIPE["B"]),
    "l": dict(model_name="vit_large_patch16_siglip_256.v2_webli", depth=24, model_size="L",
              pretrain_img_size=256, checkpoint="siglip2-large-patch16-256/model.safetensors",
              **MAE_RECIPE["L"]),
    # 27 blocks: the ends of quarters of 7, 7, 7 and 6 blocks
    "so400m": dict(model_name="vit_so400m_patch14_siglip_224.v2_webli", depth=27,
                   global_blocks=(6, 13, 20, 26), model_size="so400m", pretrain_img_size=224,
                   checkpoint="siglip2-so400m-patch14-224/model.safetensors",
                   **MAE_RECIPE["H"]),
}
# timm pretrained_cfg of vit_*_siglip_*.v2_webli: mean 0.5, std 0.5
COMMON = dict(init="siglip2", init_format="siglip2_hf",
              pixel_mean=INCEPTION_PIXEL_MEAN, pixel_std=INCEPTION_PIXEL_STD)


def apply_siglip2(size, model, optimizer, train, recipe):
    """SigLIP 2 ``size`` ("b", "l", "so400m") on ``recipe`` ("benchmarking" / "vitdet")."""
    apply_size(dict(COMMON, **SIZES[size]), model, optimizer, train, recipe)
