"""Broken-dataset corpus through tools/train_net.py: training AND evaluation.

Each corruption of tests/data_fixtures.py is applied to 4 images of the synthetic
shapes data and of coco128 (skipped when absent), registered, and run through
``tools/train_net.py`` with tests/engine_fixtures/corpus_rcnn.py (tiny Mask R-CNN,
128 px): a training run (2 iterations + final evaluation on the same broken data)
and, for the problems that stop training, an ``--eval-only`` run too. Every run
must end in one of two ways:

* a fatal problem (missing / unreadable / truncated image, recorded size differs
  from the file, unknown category id): exit code 1 and ONE paragraph on stderr
  naming the file and the image / annotation id -- no traceback anywhere in the
  output, nothing saved;
* a skippable problem (empty / negative box, polygon with < 3 points or zero area,
  missing mask), all combined in one dataset: a finished run (report written)
  whose log names each dropped annotation and counts them, in training and in
  evaluation.

The ~25 runs share one warm process (tests/engine_fixtures/forked_cli.py forks a
fresh child per run) so that the imports are paid once.
"""
import json
import os

import pytest

from data_fixtures import (  # noqa: F401
    SKIPPED_CORRUPTIONS,
    coco128_dir,
    load_json,
    make_broken_dataset,
)
from engine_fixtures.cli_runner import run_cli_cases, cli_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG = os.path.join(ROOT, "tests", "engine_fixtures", "corpus_rcnn.py")
pytestmark = pytest.mark.slow

# corruption -> (exception class printed, message start)
FATAL = {
    "missing_image": ("ImageFileError", "Image file missing:"),
    "unreadable_image": ("ImageFileError", "Unreadable image:"),
    "truncated_image": ("ImageFileError", "Unreadable image:"),
    "size_mismatch": ("ImageSizeMismatchError", "Image size mismatch:"),
    "unknown_category": ("DatasetValidationError", "Cannot load dataset"),
}
SOURCES = ("synthetic", "coco128")


def _coco128():
    base = coco128_dir()
    json_file = os.path.join(base, "annotations", "instances_train2017.json")
    image_root = os.path.join(base, "train2017")
    return (json_file, image_root) if os.path.isfile(json_file) else None


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, tiny_shapes):
    work = tmp_path_factory.mktemp("corpus")
    sources = {"synthetic": (tiny_shapes.json_file, tiny_shapes.image_root)}
    if _coco128():
        sources["coco128"] = _coco128()
    cases, meta = [], []

    def add(key, json_file, root, eval_only, *extra):
        out = str(work / "runs" / key)
        env = {"VB_CORPUS_JSON": json_file, "VB_CORPUS_IMAGES": root,
               "VB_CORPUS_NAME": "corpus_" + key.replace("/", "_")}
        # --eval-only of the untrained model, asked for explicitly: the data is what is tested
        argv = ["--config-file", CFG] + (["--eval-only"] if eval_only else []) + list(extra) \
            + [f"train.output_dir={out}"] + (["train.eval_untrained=True"] if eval_only else [])
        cases.append(dict(argv=argv, env=env))
        meta.append((key, out))

    broken = {}
    for src, (json_file, root) in sources.items():
        for corruption in FATAL:
            bj, br, what = make_broken_dataset(json_file, root, str(work / src / corruption),
                                               corruption)
            broken[(src, corruption)] = what
            # Batch 4 = all 4 images in iteration 0: the run stops before any forward pass.
            add(f"{src}/{corruption}/train", bj, br, False, "dataloader.train.total_batch_size=4")
            add(f"{src}/{corruption}/eval", bj, br, True)
        bj, br, what = make_broken_dataset(json_file, root, str(work / src / "skips"),
                                           list(SKIPPED_CORRUPTIONS))
        broken[(src, "skips")] = what
        add(f"{src}/skips/train", bj, br, False)
    # A data loader worker process: the message still arrives whole, without the
    # worker's traceback that torch embeds in the re-raised exception.
    bj, br, _ = make_broken_dataset(*sources["synthetic"], str(work / "synthetic" / "w"),
                                    "missing_image")
    add("synthetic/missing_image/train_worker", bj, br, False,
        "dataloader.train.total_batch_size=4", "dataloader.train.num_workers=1")

    env = cli_env(VITDET_BENCH_CACHE=str(work / "cache"))
    results = run_cli_cases(cases, str(work / "cli"), env=env)
    runs = {key: dict(out=out, **res) for (key, out), res in zip(meta, results)}
    return runs, broken


def _run(corpus, key):
    runs, _ = corpus
    if key not in runs:
        pytest.skip(f"coco128 not found under {coco128_dir()!r} (set DETECTRON2_DATASETS)")
    return runs[key]


def _error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("Error (")]


FATAL_RUNS = [(s, c, m) for s in SOURCES for c in sorted(FATAL) for m in ("train", "eval")] \
    + [("synthetic", "missing_image", "train_worker")]


@pytest.mark.parametrize("source,corruption,mode", FATAL_RUNS)
def test_fatal_problem_is_one_paragraph_naming_file_and_id(corpus, source, corruption, mode):
    run = _run(corpus, f"{source}/{corruption}/{mode}")
    what = corpus[1][(source, corruption)] if mode != "train_worker" else None
    error_type, start = FATAL[corruption]
    text = run["stdout"] + run["stderr"]
    assert run["rc"] == 1, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    (line,) = _error_lines(run["stderr"])
    assert line.startswith(f"Error ({error_type}): {start}"), line
    if what is not None:
        if "annotation_id" in what:
            assert f"annotation id {what['annotation_id']} (image id {what['image_id']})" in line
            assert "999" in line
        else:
            assert f"(image id {what['image_id']})" in line
        if "file_name" in what:
            assert what["file_name"] in line
    else:
        assert "does_not_exist_" in line and "DataLoader worker" not in line
    # Stopped before anything was saved or evaluated.
    assert not os.path.exists(os.path.join(run["out"], "last_checkpoint"))
    assert not os.path.exists(os.path.join(run["out"], "report.json"))
    if mode == "train" and corruption != "unknown_category":
        # detectron2's "Exception during training" line keeps the message, not the traceback.
        assert f"Exception during training: {error_type}: {start}" in run["stdout"]


@pytest.mark.parametrize("source", SOURCES)
def test_skippable_problems_are_counted_and_the_run_finishes(corpus, source):
    run = _run(corpus, f"{source}/skips/train")
    what = corpus[1][(source, "skips")]
    log = run["stdout"]
    assert run["rc"] == 0, (log + run["stderr"])[-4000:]
    assert "Traceback" not in log + run["stderr"]
    out = run["out"]
    rows = [json.loads(line) for line in open(os.path.join(out, "metrics.json")) if line.strip()]
    assert sorted(r["iteration"] for r in rows if "total_loss_raw" in r) == [0, 1]
    assert open(os.path.join(out, "last_checkpoint")).read().strip() == "model_final.pth"
    report = json.load(open(os.path.join(out, "report.json")))
    assert "bbox" in json.dumps(report)

    def named(kind_text, key):
        a = what[key]
        return any(kind_text in line and f"annotation id {a['annotation_id']} of image id "
                   f"{a['image_id']}" in line for line in log.splitlines())

    # Training: each dropped annotation is named once, and the drops are counted.
    assert named("Invalid box:", "empty_box") and named("Invalid box:", "negative_box")
    assert named("Degenerate polygon:", "polygon_zero_area")
    assert named("Missing mask:", "missing_segmentation")
    # detectron2 itself drops < 3-point polygons while loading, with a count.
    assert "Filtered out 1 instances without valid segmentation" in log
    assert ("Training data: annotations dropped and counted by the mapper: "
            "degenerate_polygon=1, invalid_box=2, missing_segmentation=1") in log
    # Evaluation: the same annotations leave the ground truth, counted (pycocotools would
    # crash on the 2-point polygon and on the missing mask).
    assert ("5 annotation(s) that cannot be evaluated were dropped or had their unusable "
            "polygons removed (degenerate_polygon=2, invalid_box=2, missing_segmentation=1") in log
    cleaned = load_json(os.path.join(out, "inference", "ground_truth_evaluable.json"))
    kept_ids = {a["id"] for a in cleaned["annotations"]}
    assert not kept_ids & {w["annotation_id"] for w in what.values()}
