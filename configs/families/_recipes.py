"""One size of a pre-training family applied to the Benchmarking or the ViTDet recipe.

Imported by the family modules (``_<family>.py``), not run alone. A size entry is a
plain dict:

=================  ==========================================================================
``model_name``     timm model name; with the weights' pretrained tag (``name.tag``) when
                   they are not the model's default tag (tests/test_family_recipes.py reads
                   the expected pixel statistics from that tag)
``depth``          number of blocks (layer-wise lr decay, taps)
``pretrain_img_size``  the side the position table of the file was made for (None: timm's)
``global_blocks``  optional: the four global blocks, which are also the taps of the
                   multi-scale adaptor (increasing, the last one block ``depth - 1``);
                   default the last block of each quarter (d/4, d/2, 3d/4, d), which
                   needs a depth divisible by 4. Given ones become the trunk's
                   ``global_block_indexes`` under ``attention_strategy="window_global"``,
                   so ``tools/benchmark.py`` can still switch the strategy
``rope_windows``   optional: ``"partition"`` (default) or ``"window_grid"`` (EVA-02)
``checkpoint``     the official pre-trained file (looked up under ``pretrained/``)
``init_format``    its registered checkpoint format
``pixel_mean`` / ``pixel_std``  RGB, 0-255
``lr`` / ``layer_decay`` / ``drop_path_rate``  the recipe values
``init`` / ``model_size``  the ``train.vitdet_bench`` labels of the run
=================  ==========================================================================
"""

# detectron2 projects/ViTDet's MAE values (mask_rcnn_vitdet_b_100ep / _l_100ep / _h_75ep),
# also the Benchmarking configs' (configs/mae_vit{b,l}_mrcnn.py). ViTDet has no ViT-g: the
# g sizes take the H values.
MAE_RECIPE = {
    "B": dict(lr=1e-4, layer_decay=0.7, drop_path_rate=0.1),
    "L": dict(lr=1e-4, layer_decay=0.8, drop_path_rate=0.4),
    "H": dict(lr=1e-4, layer_decay=0.9, drop_path_rate=0.5),
}

# timm's IMAGENET_DEFAULT_MEAN / _STD (0.485, 0.456, 0.406) / (0.229, 0.224, 0.225) x 255
IMAGENET_PIXEL_MEAN = [123.675, 116.28, 103.53]
IMAGENET_PIXEL_STD = [58.395, 57.12, 57.375]
# timm's OPENAI_CLIP_MEAN / _STD x 255: CLIP, EVA-02, AIMv2
OPENAI_CLIP_PIXEL_MEAN = [122.7709383, 116.7460125, 104.09373615]
OPENAI_CLIP_PIXEL_STD = [68.5005327, 66.6321579, 70.32316305]
# timm's IMAGENET_INCEPTION_MEAN / _STD (0.5) x 255: SigLIP 2 and PE
INCEPTION_PIXEL_MEAN = [127.5, 127.5, 127.5]
INCEPTION_PIXEL_STD = [127.5, 127.5, 127.5]

RECIPES = ("benchmarking", "vitdet")


def global_blocks(entry):
    """The global blocks (and taps) of a size entry: given, or the last of each quarter."""
    depth = entry["depth"]
    blocks = entry.get("global_blocks")
    if blocks is None:
        if depth % 4:
            raise ValueError(f"{entry['model_name']}: depth {depth} is not divisible by 4; give "
                             "the size entry its global_blocks explicitly")
        return [depth // 4 * (i + 1) - 1 for i in range(4)]
    blocks = list(blocks)
    if len(blocks) != 4 or blocks != sorted(set(blocks)) or blocks[0] < 0 or blocks[-1] != depth - 1:
        raise ValueError(f"{entry['model_name']}: global_blocks {blocks} must be four increasing "
                         f"block indexes ending with the last block ({depth - 1})")
    return blocks


def apply_size(entry, model, optimizer, train, recipe):
    """Set ``entry`` on a recipe's ``model`` (from configs/common/mask_rcnn_timm.py for
    ``recipe="benchmarking"``, configs/common/mask_rcnn_vitdet_timm.py for ``"vitdet"``),
    its ``optimizer`` and ``train`` (schedule, data and everything else stay the recipe's)."""
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    depth = entry["depth"]
    glob = global_blocks(entry)
    net = model.backbone.bottom_up.net if recipe == "benchmarking" else model.backbone.net
    net.model_name = entry["model_name"]
    net.pretrain_img_size = entry["pretrain_img_size"]
    net.rope_windows = entry.get("rope_windows", "partition")
    net.drop_path_rate = entry["drop_path_rate"]
    # By strategy name, so that tools/benchmark.py can switch it; given global blocks
    # replace the quarter ends of "window_global".
    net.attention_strategy = "window_global"
    if entry.get("global_blocks") is not None:
        net.global_block_indexes = glob
    if recipe == "benchmarking":
        net.out_block_indexes = glob
        model.backbone.bottom_up.in_features = [f"block{i}" for i in glob]
    else:
        net.out_block_indexes = [depth - 1]
        model.backbone.in_feature = f"block{depth - 1}"
    model.pixel_mean = list(entry["pixel_mean"])
    model.pixel_std = list(entry["pixel_std"])

    optimizer.lr = entry["lr"]
    optimizer.params.layer_decay = entry["layer_decay"]
    optimizer.params.num_layers = depth

    train.init_checkpoint = f"pretrained/{entry['checkpoint']}"
    train.init_format = entry["init_format"]
    # epochs (and recipe="vitdet") stay the imported recipe's
    train.vitdet_bench = dict(train.vitdet_bench, init=entry["init"], model_size=entry["model_size"])
