"""Ablation (4): pre-training length, box AP after fine-tuning vs pre-training epochs.

Li et al. 2021, ViT-B, MAE and BEiT; one run per file of ``configs/ablations/pretrain_*.py``,
whose only change is ``train.init_checkpoint``: the pre-trained files of each length are
the user's (placeholder paths under ``pretrained/``; ``plan`` names any that is missing).

    python tools/study.py plan studies/ablation_pretrain_length.py
    python tools/study.py launch studies/ablation_pretrain_length.py --executor slurm --partition gpu
    python tools/study.py collect studies/ablation_pretrain_length.py
"""
from vitdet_bench.study import COCO_TRAIN_SIZES, PAPER_RESOURCES, Study, grid

LENGTHS = "configs/ablations/pretrain_{init}_{pretrain_epochs}ep.py"
NAME = "pretrain_{init}_{pretrain_epochs}ep"

study = Study(
    name="ablation_pretrain_length",
    runs=grid(LENGTHS, axes={"init": ["mae"], "pretrain_epochs": [100, 200, 400, 800, 1600]},
              name=NAME)
    + grid(LENGTHS, axes={"init": ["beit"], "pretrain_epochs": [100, 200, 400, 800]}, name=NAME),
    resources=PAPER_RESOURCES,
    rows=("init",), columns=("pretrain_epochs",),
    dataset_sizes=COCO_TRAIN_SIZES,
)
