"""Two tiny CPU runs (seeds 1 and 2 of configs/demo/vit_tiny_study.py): the cluster tests' study.

Each run is one job of 2 CPU processes (gloo; world size from the SLURM environment),
one thread each; the recipe's batch of 4 on 2 processes with 1 image per process is
2 micro-batches per step (train.grad_accum=2, chosen by launch and shown by plan).

    python tools/study.py plan studies/tiny_cpu.py
    python tools/study.py launch studies/tiny_cpu.py --executor local --max-parallel 2
    python tools/study.py status studies/tiny_cpu.py
    python tools/study.py collect studies/tiny_cpu.py
"""
from vitdet_bench.study import Resources, Study, grid

study = Study(
    name="tiny_cpu",
    runs=grid("configs/demo/vit_tiny_study.py", axes={"train.seed": [1, 2]}),
    resources=Resources(nodes=1, gpus_per_node=2, cpus_per_task=1, mem="3G", time="15:00",
                        images_per_gpu=1, request_gpus=False),
    rows=("config",), columns=("train.seed",),
)
