"""The embedded default (``vit_tiny_shapes.py``) under the LVIS protocol, on CPU.

The synthetic shapes in the LVIS format (``shapes_lvis_train`` / ``shapes_lvis_val``,
generated on first use by :mod:`vitdet_bench.data.lvis`: r/c/f frequencies, negative and
not-exhaustive category lists per image) with everything ``configs/common/lvis.py``
sets for LVIS v1: repeat-factor sampling, the federated loss, score threshold 0.02,
300 detections per image, federated AP with APr/APc/APf in the report. A smoke test of
the protocol (tests/test_lvis_engine.py), not a tuned recipe.

Each shape class is in 51-56% of the training images, so LVIS's threshold 0.001 would
repeat no image: 0.6 makes the factors 1.03-1.08 (images of the rarer classes repeated
more often), enough to run the sampler.
"""
from ..common.lvis import to_lvis
from .vit_tiny_shapes import dataloader, lr_multiplier, model, optimizer, train

to_lvis(dataloader, model, train_name="shapes_lvis_train", test_name="shapes_lvis_val",
        num_classes=5, repeat_threshold=0.6)
# the federated loss draws 50 of LVIS's 1203 classes per iteration; 3 of the 5 shapes here
model.roi_heads.box_predictor.fed_loss_num_classes = 3
train.output_dir = "./output/demo_vit_tiny_shapes_lvis"
train.vitdet_bench = dict(train.vitdet_bench, dataset="shapes_lvis")

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
