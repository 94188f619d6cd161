"""Study files: the runs of a benchmark, built from axes, each with its own folder.

A study file is a Python file (like the configs) that defines ``study``::

    from vitdet_bench.study import Resources, Study, grid

    study = Study(
        name="benchmarking_table",
        runs=grid("configs/{init}_vit{size}_mrcnn.py",
                  axes={"init": ["random", "mae"], "size": ["b", "l"],
                        "train.epochs": [25, 50, 100]}),
        resources=Resources(nodes=8, gpus_per_node=8, time="72:00:00"),
        rows=("init",), columns=("size", "train.epochs"),
    )

Axis names without a dot fill ``{placeholders}`` of the config path; dotted names are
config overrides. :func:`grid` is the product of the axes in the order given; a
:class:`Run` is a single extra run. Every run gets a readable name (config stem and
axis values) and a folder ``<root>/<slug>-<hash>`` where the hash is of the run's
content (config path and overrides, sorted): editing or reordering the study never
points two different runs at one folder, and a run keeps its folder (and checkpoints)
when the study around it changes.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import re
import runpy
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

__all__ = ["StudyError", "Resources", "Run", "Study", "grid", "load_study", "ExpandedRun",
           "format_override", "PAPER_RESOURCES", "COCO_TRAIN_SIZES"]


class StudyError(ValueError):
    """A study file that cannot be loaded or expanded; the message names the file / run."""


def _time_to_minutes(value) -> int:
    """SLURM time formats: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return max(1, int(round(value)))
    text = str(value).strip()
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text)
    if not m:
        raise StudyError(f"time {value!r} is not a SLURM time limit (minutes, HH:MM:SS or "
                         "D-HH:MM:SS, e.g. 72:00:00 or 3-00:00:00)")
    days, a, b, c = (int(x) if x else None for x in m.groups())
    if days is None:
        if b is None:
            minutes, seconds = a, 0          # "90": minutes
        elif c is None:
            minutes, seconds = a, b          # "MM:SS"
        else:
            minutes, seconds = a * 60 + b, c  # "HH:MM:SS"
    else:
        minutes, seconds = days * 1440 + a * 60 + (b or 0), c or 0
    return max(1, minutes + (1 if seconds else 0))


@dataclass(frozen=True)
class Resources:
    """What one run gets from the cluster (one SLURM job: nodes x gpus_per_node tasks).

    ``gpus_per_node`` is also the number of training processes per node; on machines
    without GPUs they are CPU processes over gloo. ``images_per_gpu`` is the micro-batch
    one process can hold: with fewer GPUs than the recipe's total batch needs, launch
    accumulates ``total_batch / (nodes x gpus_per_node x images_per_gpu)`` micro-batches
    per step (``train.grad_accum``).
    """

    nodes: int = 1
    gpus_per_node: int = 8
    cpus_per_task: Optional[int] = None
    mem: Optional[str] = None            # per node, SLURM syntax: "480G"
    time: Any = "72:00:00"
    partition: Optional[str] = None
    account: Optional[str] = None
    constraint: Optional[str] = None
    qos: Optional[str] = None
    images_per_gpu: Optional[int] = None  # None: the recipe's batch / the GPUs, no accumulation
    signal_delay_s: int = 120             # SLURM signals this long before the time limit
    request_gpus: bool = True             # False: CPU processes (a CPU cluster, the tests)

    def __post_init__(self):
        for name in ("nodes", "gpus_per_node"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise StudyError(f"Resources.{name}={v!r}: expected a positive integer")
        _time_to_minutes(self.time)

    @property
    def world_size(self) -> int:
        return self.nodes * self.gpus_per_node

    @property
    def timeout_min(self) -> int:
        return _time_to_minutes(self.time)

    def replace(self, **changes) -> "Resources":
        changes = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **changes) if changes else self


@dataclass
class Run:
    """One run: a config file, overrides ``["key=value", ...]`` (or a dict), optional name."""

    config: str
    overrides: Any = ()
    name: Optional[str] = None
    resources: Optional[Resources] = None
    axes: Dict[str, Any] = field(default_factory=dict)   # filled by grid()
    seconds_per_iter: Optional[float] = None


def format_override(key: str, value: Any) -> str:
    """``key=value`` in the override grammar tools/train_net.py reads (hydra's)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, (int, float)):
        text = repr(value)
    elif isinstance(value, str):
        text = value if re.fullmatch(r"[\w./+\-]+", value) and not re.fullmatch(
            r"(?i)true|false|null|[\d.eE+\-]+", value) else "'" + value.replace("'", "\\'") + "'"
    elif isinstance(value, (list, tuple)):
        text = "[" + ",".join(format_override("x", v).split("=", 1)[1] for v in value) + "]"
    else:
        raise StudyError(f"override {key}: value {value!r} of type {type(value).__name__} "
                         "cannot be written as a config override (numbers, strings, bools, "
                         "None and lists of them can)")
    return f"{key}={text}"


def _normalize_overrides(overrides, where: str) -> List[str]:
    if isinstance(overrides, Mapping):
        return [format_override(k, v) for k, v in overrides.items()]
    if isinstance(overrides, str):
        overrides = [overrides]
    out = []
    for ov in overrides or ():
        if not isinstance(ov, str) or "=" not in ov:
            raise StudyError(f"{where}: override {ov!r} is not a 'key=value' string")
        out.append(ov.strip())
    return out


def _fill(template: str, values: Mapping[str, Any], where: str) -> str:
    def sub(m):
        key = m.group(1)
        if key not in values:
            raise StudyError(f"{where}: {template!r} names {{{key}}}, which is not an axis "
                             f"(axes: {', '.join(values) or 'none'})")
        return str(values[key])

    return re.sub(r"\{([\w.]+)\}", sub, template)


def _short(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def grid(config: str, axes: Mapping[str, Sequence[Any]], overrides=(), name: Optional[str] = None,
         resources: Optional[Resources] = None, seconds_per_iter=None) -> List[Run]:
    """The product of ``axes`` (in the order given) as runs of ``config``.

    ``name`` is a template over the axes (``"{init}_vit{size}_{train.epochs}ep"``); by
    default the config file's stem followed by ``-<key><value>`` for each override axis.
    ``seconds_per_iter`` is a number or a function of the run's axis values (for plan).
    """
    axes = dict(axes)
    for key, values in axes.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise StudyError(f"grid({config!r}): axis {key!r} must be a non-empty list of "
                             f"values, got {values!r}")
    runs = []
    for combo in itertools.product(*axes.values()):
        values = dict(zip(axes, combo))
        where = f"grid({config!r}) at {values}"
        cfg = _fill(config, values, where)
        ovs = _normalize_overrides(overrides, where) + [
            format_override(k, v) for k, v in values.items() if "." in k]
        if name is not None:
            run_name = _fill(name, values, where)
        else:
            stem = os.path.splitext(os.path.basename(cfg))[0]
            run_name = "-".join([stem] + [f"{_short(k)}{v}" for k, v in values.items() if "." in k])
        spi = seconds_per_iter(values) if callable(seconds_per_iter) else seconds_per_iter
        runs.append(Run(cfg, ovs, run_name, resources, values, spi))
    return runs


@dataclass
class Study:
    """A named list of runs, where they go, and what each gets from the cluster.

    ``root``: folder of the run folders and the study's job records (relative paths are
    relative to the working directory; default ``output/studies/<name>``).
    ``rows`` / ``columns``: axes of the study's own table (``collect``).
    ``dataset_sizes``: training-set sizes by dataset name, for ``plan``'s iteration
    counts when a dataset is not on the planning machine.
    """

    name: str
    runs: Sequence[Run]
    root: Optional[str] = None
    resources: Resources = field(default_factory=Resources)
    rows: Sequence[str] = ()
    columns: Sequence[str] = ()
    dataset_sizes: Mapping[str, int] = field(default_factory=dict)
    source: Optional[str] = None   # the study file (set by load_study)


# The Benchmarking paper's cluster (Li et al. 2021): 8 nodes x 8 GPUs, one image per GPU
# (batch 64), 24-hour slots (a run that needs longer is requeued and resumes).
PAPER_RESOURCES = Resources(nodes=8, gpus_per_node=8, cpus_per_task=10, time="24:00:00",
                            images_per_gpu=1)
# detectron2's COCO train2017 after dropping images without annotations (as the trainer
# counts it), so that plan can count iterations where COCO is not at hand.
COCO_TRAIN_SIZES = {"coco_2017_train": 117266}


@dataclass
class ExpandedRun:
    name: str
    config: str          # as written in the study
    config_path: str     # absolute
    overrides: List[str]
    folder: str          # absolute
    key: str             # content hash
    resources: Resources
    axes: Dict[str, Any]
    seconds_per_iter: Optional[float] = None

    def job_overrides(self, grad_accum: int = 1) -> List[str]:
        """The overrides a job runs with: the study's, its folder, the accumulation, and
        ``train.vitdet_bench.epochs`` following ``train.epochs`` (the benchmark table
        identifies a run's schedule by it)."""
        extra = [format_override("train.output_dir", self.folder)]
        epochs = [ov.split("=", 1)[1] for ov in self.overrides if ov.startswith("train.epochs=")]
        if epochs and not any(ov.startswith("train.vitdet_bench") for ov in self.overrides):
            extra.append(f"train.vitdet_bench.epochs={epochs[-1]}")
        if grad_accum != 1:
            extra.append(f"train.grad_accum={grad_accum}")
        return list(self.overrides) + extra


def _resolve_config(config: str, study_file: Optional[str]) -> str:
    """A relative config path: next to the study file, in the folder above it (studies/
    sits beside configs/), else from the working directory."""
    if os.path.isabs(config):
        return config
    candidates = []
    if study_file:
        here = os.path.dirname(os.path.abspath(study_file))
        candidates += [os.path.join(here, config), os.path.join(os.path.dirname(here), config)]
    candidates.append(os.path.abspath(config))
    for c in candidates:
        if os.path.isfile(c):
            return os.path.normpath(c)
    return os.path.normpath(candidates[-1])


def _slug(text: str, limit: int = 72) -> str:
    s = re.sub(r"[^\w.\-]+", "_", text).strip("_.")
    return s[:limit] or "run"


def content_key(config: str, overrides: Sequence[str]) -> str:
    blob = json.dumps({"config": os.path.normpath(config).replace(os.sep, "/"),
                       "overrides": sorted(overrides)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def expand(study: Study, root: Optional[str] = None) -> List[ExpandedRun]:
    """Every run with its name, absolute config path, overrides and folder; checks that
    names and contents are unique."""
    where = study.source or study.name
    root = os.path.abspath(root or study.root or os.path.join("output", "studies", study.name))
    out, names, keys = [], {}, {}
    for i, run in enumerate(study.runs):
        if not isinstance(run, Run):
            raise StudyError(f"{where}: study.runs[{i}] is a {type(run).__name__}, not a Run "
                             "(use grid(...) and Run(...); grid returns a list: unpack it with *)")
        label = run.name or f"runs[{i}]"
        overrides = _normalize_overrides(run.overrides, f"{where}: run {label!r}")
        keys_set = [ov.split("=", 1)[0] for ov in overrides]
        dup = sorted({k for k in keys_set if keys_set.count(k) > 1})
        if dup:
            raise StudyError(f"{where}: run {label!r} sets {', '.join(dup)} more than once "
                             f"({overrides})")
        key = content_key(run.config, overrides)
        stem = os.path.splitext(os.path.basename(run.config))[0]
        name = run.name or "-".join([stem] + [_slug(ov) for ov in overrides])
        if name in names:
            raise StudyError(f"{where}: two runs are named {name!r} (runs {names[name]} and {i}); "
                             "names must be unique: give one a name= or another axis value")
        if key in keys:
            raise StudyError(f"{where}: runs {keys[key]!r} and {name!r} are the same run (config "
                             f"{run.config!r}, overrides {sorted(overrides)}); remove one")
        names[name], keys[key] = i, name
        slug = _slug("-".join([stem] + [_short(ov.split("=", 1)[0]) + ov.split("=", 1)[1]
                                        for ov in sorted(overrides)]), 60)
        out.append(ExpandedRun(
            name=name, config=run.config, config_path=_resolve_config(run.config, study.source),
            overrides=overrides, folder=os.path.join(root, f"{slug}-{key}"), key=key,
            resources=run.resources or study.resources, axes=dict(run.axes),
            seconds_per_iter=run.seconds_per_iter))
    if not out:
        raise StudyError(f"{where}: the study has no runs")
    return out


def load_study(path: str) -> Study:
    """Run the study file and return its ``study``; errors name the file."""
    if not os.path.isfile(path):
        raise StudyError(f"Study file {path!r} does not exist (relative paths are relative to "
                         f"{os.getcwd()!r}); studies/ holds the shipped ones.")
    try:
        namespace = runpy.run_path(path, run_name="__study__")
    except StudyError as e:
        raise StudyError(f"Study file {path!r}: {e}") from None
    except SyntaxError as e:
        raise StudyError(f"Study file {path!r} is not valid Python: {e.msg} at line {e.lineno}: "
                         f"{(e.text or '').strip()!r}") from None
    except Exception as e:
        raise StudyError(f"Study file {path!r} failed while loading: {type(e).__name__}: {e}") \
            from None
    study = namespace.get("study")
    if not isinstance(study, Study):
        found = type(study).__name__ if "study" in namespace else "nothing"
        raise StudyError(f"Study file {path!r} must define `study = Study(...)` "
                         f"(from vitdet_bench.study import Study, grid, Run); it defines {found} "
                         "under that name")
    study.source = os.path.abspath(path)
    return study


def resolve_resources(run: ExpandedRun, **overrides) -> Resources:
    """The run's resources with the command line's values (None = keep) applied."""
    try:
        return run.resources.replace(**overrides)
    except (TypeError, StudyError) as e:
        raise StudyError(f"run {run.name!r}: resources: {e}") from None


def choose_grad_accum(total_batch: int, res: Resources) -> Tuple[int, int]:
    """(grad_accum, images per process per micro-batch) for the recipe's ``total_batch``
    on ``res``; StudyError if the batch does not split evenly."""
    world = res.world_size
    if total_batch % world:
        raise StudyError(f"total batch {total_batch} does not split over {res.nodes} node(s) x "
                         f"{res.gpus_per_node} GPU(s) = {world} processes; choose a number of "
                         f"GPUs that divides {total_batch}")
    per_gpu = total_batch // world
    if not res.images_per_gpu or res.images_per_gpu >= per_gpu:
        return 1, per_gpu
    if per_gpu % res.images_per_gpu:
        raise StudyError(f"{per_gpu} images per GPU (total batch {total_batch} over {world}) "
                         f"do not split into micro-batches of images_per_gpu="
                         f"{res.images_per_gpu}; choose a divisor of {per_gpu}")
    return per_gpu // res.images_per_gpu, res.images_per_gpu
