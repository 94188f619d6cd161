"""tiny_rcnn (128 px, 2 iterations, evaluation) on any COCO json named by the environment.

    VB_CORPUS_JSON, VB_CORPUS_IMAGES   the json and its image root (required)
    VB_CORPUS_NAME                     the dataset name to register (default "corpus")

Used by tests/test_data_corpus_train.py to run tools/train_net.py over broken datasets.
The dataset is registered when the config is loaded, so the parent process (which
checks dataset names) and every training process see it. Training and evaluation
both use it (evaluation on its first 4 images).
"""
import os

from engine_fixtures.helpers import register_coco_json

from .tiny_rcnn import dataloader, lr_multiplier, model, optimizer, train

NAME = os.environ.get("VB_CORPUS_NAME", "corpus")
NUM_CLASSES = register_coco_json(NAME, os.environ["VB_CORPUS_JSON"],
                                 os.environ["VB_CORPUS_IMAGES"])
IMAGE_SIZE = 128

model.roi_heads.num_classes = NUM_CLASSES
dataloader.train.dataset.names = NAME
dataloader.train.mapper.image_size = IMAGE_SIZE
dataloader.train.mapper.num_classes = NUM_CLASSES
dataloader.test.dataset.dicts.names = NAME
dataloader.test.mapper.image_size = IMAGE_SIZE
dataloader.evaluator.dataset_name = NAME
train.max_iter = 2
train.checkpointer.period = 100
# After 2 iterations an 80-class model scores ~1/81 per class: keep its detections so
# that the evaluation has something to report.
model.roi_heads.box_predictor.test_score_thresh = 0.001
