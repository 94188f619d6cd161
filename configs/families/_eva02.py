"""EVA-02 (Fang et al. 2023, baaivision/EVA ``EVA-02``): the sizes of the family configs.

Imported by ``configs/families/eva02_vit*_mrcnn.py`` and
``configs/families/vitdet/{,cascade_}mask_rcnn_eva02_*.py``, not run alone. Separate
q/k/v projections with q/v biases, SwiGLU with its sub-LN, 2D RoPE and an absolute
table with a class slot (timm ``eva02_*_patch14_224``, MIM on ImageNet-21K).

Files: EVA-02's detection files ``eva02_{B,L}_pt_in21k_p14to16.pt`` (``EVA-02/det``
README, "MIM Pre-trained EVA-02"; format ``eva02``): the patch kernel already resized to
16x16 and the position table to the 14x14 grid of 224 px at patch 16. At patch 14 that
grid is 196 px, so ``pretrain_img_size=196``: the file's table is taken as it is (one
resize to the detection grid, as EVA-02's detector does) and the 16x16 kernel is kept
(``patch_route="resample16"``). The RoPE reference grid stays timm's
``ref_feat_shape=(16, 16)``, EVA-02's pre-training grid. The MIM files
``eva02_{B,L}_pt_in21k_p14.pt`` load too (table resized 16x16 -> 14x14, kernel resampled).

Recipe values from EVA-02's COCO detection configs (``EVA-02/det/projects/ViTDet/configs/
eva2_mim_to_coco/eva2_coco_cascade_mask_rcnn_vitdet_{b,l}_4attn_1024_lrd0p{7,8}.py``):
B lr 5e-5, layer decay 0.7, drop path 0.1; L lr 6e-5, layer decay 0.8, drop path 0.4;
windowed blocks with EVA-02's window-grid RoPE (``rope_windows="window_grid"``). The lr
values are theirs at their batch sizes, taken as they are (not rescaled to batch 64). Not
taken from them (one detector and one schedule for every family): their window size 16,
batch 128 (B) / 144 (L), 60k iterations with steps at 80% / 90% and a 1000-iteration
warm-up, weight decay on every parameter. EVA-02 L's published COCO numbers start from
the Merged-38M file ``eva02_L_pt_m38m_p14to16.pt``; its IN-21K file is the one of the
LVIS numbers and the one used here, as for B.

Pixel statistics: timm's ``pretrained_cfg`` of ``eva02_*_patch14_224.mim_in22k``, the
OpenAI CLIP mean / std.
"""
from ._recipes import OPENAI_CLIP_PIXEL_MEAN, OPENAI_CLIP_PIXEL_STD, apply_size

SIZES = {
    "b": dict(model_name="eva02_base_patch14_224", depth=12, model_size="B",
              checkpoint="eva02_B_pt_in21k_p14to16.pt",
              lr=5e-5, layer_decay=0.7, drop_path_rate=0.1),
    "l": dict(model_name="eva02_large_patch14_224", depth=24, model_size="L",
              checkpoint="eva02_L_pt_in21k_p14to16.pt",
              lr=6e-5, layer_decay=0.8, drop_path_rate=0.4),
}
COMMON = dict(init="eva02", init_format="eva02", pretrain_img_size=196, rope_windows="window_grid",
              pixel_mean=OPENAI_CLIP_PIXEL_MEAN, pixel_std=OPENAI_CLIP_PIXEL_STD)


def apply_eva02(size, model, optimizer, train, recipe):
    """EVA-02 ``size`` ("b", "l") on ``recipe`` ("benchmarking" / "vitdet")."""
    apply_size(dict(COMMON, **SIZES[size]), model, optimizer, train, recipe)
