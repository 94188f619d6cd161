"""studies/modern_inits.py: the Benchmarking table with the timm families, planned as
studies/benchmarking_table.py (plan only; nothing trains)."""
import glob
import os
import re

from vitdet_bench.study import expand, load_study

from test_study import REPO, _record_dataset_file_checks, study_cli

STUDY = os.path.join(REPO, "studies", "modern_inits.py")
EPOCHS = (25, 50, 100)
PAPER_INITS = ("random", "supervised", "mocov3", "beit", "mae")
# family -> its sizes in the table (docs: AIMv2's smallest released model is L)
FAMILIES = {"dinov2": "bl", "dinov2reg": "bl", "dinov3": "bl", "eva02": "bl", "deit3": "bl",
            "siglip2": "bl", "pe_spatial": "bl", "clip": "bl", "aimv2": "l"}


def _expected_configs():
    """{config path relative to the repository: (init, size)} of every row and column."""
    out = {f"configs/{i}_vit{s}_mrcnn.py": (i, s) for i in PAPER_INITS for s in "bl"}
    out.update({f"configs/families/{f}_vit{s}_mrcnn.py": (f, s)
                for f, sizes in FAMILIES.items() for s in sizes})
    return out


def test_modern_inits_runs_are_every_family_at_b_and_l(tmp_path):
    from detectron2.config import LazyConfig

    runs = expand(load_study(STUDY), str(tmp_path / "root"))
    expected = _expected_configs()
    assert len(expected) == 27
    assert len(runs) == 27 * len(EPOCHS)
    assert len({r.name for r in runs}) == len(runs) and len({r.folder for r in runs}) == len(runs)
    by_config = {}
    for r in runs:
        by_config.setdefault(os.path.relpath(r.config_path, REPO), []).append(r)
    assert set(by_config) == set(expected), sorted(set(by_config) ^ set(expected))
    for path, (init, size) in expected.items():
        got = by_config[path]
        assert sorted(r.overrides for r in got) == sorted([f"train.epochs={e}"] for e in EPOCHS)
        assert {r.name for r in got} == {f"{init}_vit{size}_{e}ep" for e in EPOCHS}
        assert all(r.axes["init"] == init and r.axes["size"] == size for r in got)
        # the benchmark table's rows and columns come from the config's own identity
        assert os.path.isfile(os.path.join(REPO, path)), f"{path} is not in configs/"
        ident = LazyConfig.load(os.path.join(REPO, path)).train.vitdet_bench
        assert ident["init"] == init and ident["model_size"] == size.upper(), (path, ident)
        assert "recipe" not in ident, path  # the Benchmarking recipe, not ViTDet's
    # with benchmarking_table's root, its 30 runs are this study's paper rows, folder for
    # folder (docs/studies.md: one training serves both tables)
    shared = expand(load_study(os.path.join(REPO, "studies", "benchmarking_table.py")),
                    str(tmp_path / "root"))
    assert len(shared) == 30
    assert {(r.name, r.folder) for r in shared} <= {(r.name, r.folder) for r in runs}


def test_modern_inits_cover_every_shipped_family_config(tmp_path):
    """A Benchmarking-recipe family config at B or L that the table leaves out fails here."""
    shipped = {os.path.relpath(p, REPO)
               for p in glob.glob(os.path.join(REPO, "configs", "families", "*_vit[bl]_mrcnn.py"))}
    in_study = {os.path.relpath(r.config_path, REPO)
                for r in expand(load_study(STUDY), str(tmp_path))}
    assert shipped <= in_study, sorted(shipped - in_study)


def test_plan_of_modern_inits(capsys, tmp_path, monkeypatch):
    """Every run goes through train_net.py's checks; the schedule, cluster and batch split
    are the paper's, as in studies/benchmarking_table.py."""
    monkeypatch.chdir(tmp_path)  # no pretrained/ here: the files are a note, not an error
    checked = _record_dataset_file_checks(monkeypatch)
    code, out, err = study_cli(capsys, "plan", STUDY)
    assert code == 0, err
    print(out)
    assert len(checked) == 81 and set(checked) == {"coco_2017_train"}
    rows = [l for l in out.splitlines() if re.match(r"\w+_vit[bl]_\d+ep ", l)]
    assert len(rows) == 81
    iters = {25: 45808, 50: 91615, 100: 183229}  # ceil(epochs * 117266 / 64)
    for row in rows:
        epochs = int(re.match(r"\w+_vit[bl]_(\d+)ep ", row).group(1))
        assert re.search(rf"\s{iters[epochs]}\s+8x8, 24h00\s+64 = 64 x 1\s", row), row
        assert "output/studies/modern_inits/" in row
    assert not any(r.startswith("aimv2_vitb_") for r in rows)
    note = out[out.index("Note: this machine lacks files a launch needs"):]
    # one pre-trained file per family and size, named by its config
    for f, sizes in FAMILIES.items():
        for s in sizes:
            assert re.search(rf"\(3 runs: {f}_vit{s}_25ep, {f}_vit{s}_50ep, {f}_vit{s}_100ep\)",
                             note), (f, s, note)
    assert not os.path.exists(tmp_path / "output")
