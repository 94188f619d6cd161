"""The paper's table: five initializations x ViT-B/L x 25/50/100 fine-tuning epochs.

"Benchmarking Detection Transfer Learning with Vision Transformers" (Li et al. 2021),
Mask R-CNN on COCO train2017, evaluated on val2017. 30 runs, each one SLURM job of
8 nodes x 8 GPUs (batch 64 = 1 image per GPU, the recipe's); with fewer GPUs
(``--nodes 1 --gpus-per-node 8``) launch accumulates gradients to keep the batch of 64
(``train.grad_accum``, shown by plan). A job that reaches its time limit (or is
preempted) checkpoints, is requeued and resumes, so 24 hours is a slot, not a bound.

    python tools/study.py plan studies/benchmarking_table.py
    python tools/study.py launch studies/benchmarking_table.py --executor slurm --partition gpu
    python tools/study.py status studies/benchmarking_table.py --watch
    python tools/study.py collect studies/benchmarking_table.py

The pre-trained files go under pretrained/ (README, "Configs and pre-trained files");
COCO under $DETECTRON2_DATASETS/coco. Relative paths are from the working directory:
run from the repository root.
"""
from vitdet_bench.study import COCO_TRAIN_SIZES, PAPER_RESOURCES, Study, grid

INITIALIZATIONS = ["random", "supervised", "mocov3", "beit", "mae"]

study = Study(
    name="benchmarking_table",
    runs=grid("configs/{init}_vit{size}_mrcnn.py",
              axes={"init": INITIALIZATIONS, "size": ["b", "l"], "train.epochs": [25, 50, 100]},
              name="{init}_vit{size}_{train.epochs}ep"),
    resources=PAPER_RESOURCES,
    rows=("init",), columns=("size", "train.epochs"),
    dataset_sizes=COCO_TRAIN_SIZES,
)
