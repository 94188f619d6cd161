"""Ablation (2): the four memory / time strategies, box AP beside time and memory.

Li et al. 2021, ViT-B with MAE initialization; one run per row of
``configs/ablations/mem_*.py``. The AP comes from these runs; training time per
iteration and peak memory from ``tools/benchmark.py`` on the same detector, and
``tools/ablation_memory.py`` joins the two into the paper's table (docs/ablations.md,
table 2):

    python tools/study.py launch studies/ablation_memory.py --executor slurm --partition gpu
    python tools/benchmark.py --config-file configs/mae_vitb_mrcnn.py --target model \\
        --sizes 1024 --strategies window window_global global_checkpoint global \\
        --output-dir runs/mem_bench
    python tools/ablation_memory.py output/studies/ablation_memory/mem_* \\
        --benchmark runs/mem_bench/benchmark.json --output runs/mem_table
"""
from vitdet_bench.study import COCO_TRAIN_SIZES, PAPER_RESOURCES, Study, grid

study = Study(
    name="ablation_memory",
    runs=grid("configs/ablations/mem_{strategy}.py",
              axes={"strategy": ["window", "window_global", "global_checkpoint", "global"]},
              name="mem_{strategy}"),
    resources=PAPER_RESOURCES,
    rows=("strategy",),
    dataset_sizes=COCO_TRAIN_SIZES,
)
