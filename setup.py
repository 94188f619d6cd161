"""vitdet_bench: benchmarking detection transfer of ViT pre-training on detectron2.

detectron2 is not on PyPI. `tools/install_env.sh` installs it (the `pb1-detectron2`
sdist without its C++ extension, or an upstream build you already have) before
this package; the requirement below names whichever distribution is present so
that pip checks the real thing instead of trying to download a wheel that does
not exist.
"""
from importlib import metadata

from setuptools import find_packages, setup


def _detectron2_requirement() -> str:
    for dist in ("detectron2", "pb1-detectron2"):
        try:
            metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
        return f"{dist}>=0.6"
    # Nothing installed yet: state the true requirement; see tools/install_env.sh.
    return "detectron2>=0.6"


setup(
    name="vitdet_bench",
    version="0.1.0",
    description="Benchmark of ViT pre-training transfer to COCO detection (Mask R-CNN) on detectron2",
    # The backbone families of projects/ install as top-level packages next to the library.
    packages=find_packages(include=("vitdet_bench", "vitdet_bench.*")) + ["convmae", "itpn"],
    package_dir={"convmae": "projects/ConvMAE/convmae", "itpn": "projects/iTPN/itpn"},
    python_requires=">=3.10",
    install_requires=[
        "torch==2.14.1",
        "torchvision==0.29.1",
        _detectron2_requirement(),
        # detectron2 0.6 pins these ranges itself; upstream main accepts them too.
        "fvcore>=0.1.5,<0.1.6",
        "iopath>=0.1.7,<0.1.11",
        "pycocotools>=2.0.7",
        "timm>=1.0,<2",
        "safetensors>=0.4",  # the recommended checkpoint form, read without unpickling
        "fairscale>=0.4.13,<0.5",
        "opencv-python-headless>=4.8",
        "shapely>=2.0",  # LSJ crops polygons with it
        "numpy>=1.24",
        "matplotlib>=3.7",
        "tqdm>=4.60",
        "psutil>=5.9",
        "tensorboard>=2.12",
        # cluster jobs (tools/study.py): SLURM / local executors, checkpoint + requeue;
        # brings cloudpickle, with which a job's module is pickled by value
        "submitit>=1.5,<2",
    ],
    extras_require={
        # tidecv 1.0.1 is the numerical reference for the error analysis (tests only).
        # It declares opencv-python, which clashes with the headless build, so
        # tools/install_env.sh installs it with --no-deps; these are its other needs.
        "test": ["pytest>=7", "appdirs", "seaborn", "pandas", "faster-coco-eval>=1.6"],
        "fast-eval": ["faster-coco-eval>=1.6"],
    },
)
