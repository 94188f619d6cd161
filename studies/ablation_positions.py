"""Ablation (3): positional information, absolute embedding x relative biases.

Li et al. 2021, ViT-B, MAE and BEiT initializations: each of abs / rel pre-trained (pt),
random (rand), zero-initialized (zero, rel only) or absent (no); one run per file of
``configs/ablations/pos_*.py``. MAE has no relative tables to transfer (no "rel pt") and
BEiT no absolute embedding (no "abs pt"), so the two grids differ (docs/ablations.md,
table 3). The collected table has a row per (init, abs) and a column per rel.

    python tools/study.py plan studies/ablation_positions.py
    python tools/study.py launch studies/ablation_positions.py --executor slurm --partition gpu
    python tools/study.py collect studies/ablation_positions.py
"""
from vitdet_bench.study import COCO_TRAIN_SIZES, PAPER_RESOURCES, Study, grid

POSITIONS = "configs/ablations/pos_{init}_abs_{abs}_rel_{rel}.py"
NAME = "pos_{init}_abs_{abs}_rel_{rel}"

study = Study(
    name="ablation_positions",
    runs=grid(POSITIONS, axes={"init": ["mae"], "abs": ["pt", "rand", "no"],
                               "rel": ["zero", "rand", "no"]}, name=NAME)
    + grid(POSITIONS, axes={"init": ["beit"], "abs": ["rand", "no"],
                            "rel": ["pt", "zero", "rand", "no"]}, name=NAME),
    resources=PAPER_RESOURCES,
    rows=("init", "abs"), columns=("rel",),
    dataset_sizes=COCO_TRAIN_SIZES,
)
