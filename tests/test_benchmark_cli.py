"""tools/benchmark.py's command line: valid values only, defaults in --help, and a
non-zero exit (no plot) when nothing could be measured (issue 19, item 9)."""
import os
import runpy
from types import SimpleNamespace

import pytest

from vitdet_bench.modeling.backbone.vit import ATTENTION_STRATEGIES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the command line, loaded as `python tools/benchmark.py` runs it (tools/ is not a package)
benchmark = SimpleNamespace(**runpy.run_path(os.path.join(ROOT, "tools", "benchmark.py")))


def test_strategies_are_the_models():
    assert tuple(benchmark.STRATEGIES) == tuple(ATTENTION_STRATEGIES)


@pytest.mark.parametrize("argv,expected", [
    (["--strategies", "windowed"], "invalid choice: 'windowed' (choose from 'window', "
                                   "'window_global', 'global_checkpoint', 'global')"),
    (["--sizes", "0"], "expected a positive integer, got '0'"),
    (["--steps", "-1"], "expected a positive integer"),
    (["--warmup", "-1"], "expected an integer >= 0"),
    (["--device", "gpu"], "expected cpu, cuda or cuda:N, got 'gpu'"),
    (["--paths", "flash"], "invalid choice: 'flash'"),
])
def test_invalid_values_exit_2_naming_the_valid_ones(argv, expected, capsys):
    with pytest.raises(SystemExit) as e:
        benchmark.parse_args(argv)
    assert e.value.code == 2
    assert expected in capsys.readouterr().err


def test_help_shows_every_default(capsys):
    with pytest.raises(SystemExit) as e:
        benchmark.parse_args(["--help"])
    assert e.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for text in ("--strategies STRATEGY [STRATEGY ...] attention strategies to measure, any of: "
                 "window, window_global, global_checkpoint, global",
                 "(default: [512, 768, 1024, 1280])", "(default: backbone)", "(default: 5)",
                 "(default: 2)", "(default: runs/benchmark)", "(default: none)"):
        assert text in out, text
    args = benchmark.parse_args([])
    options = [a for a in vars(args) if a != "cell"]
    assert out.count("(default:") >= len(options)


def test_nothing_measured_exits_1_without_a_plot(tmp_path, capsys):
    out = tmp_path / "bench"
    # 72 px is not a multiple of the patch size: the only cell is an error cell
    code = benchmark.main(["--config-file", os.path.join(ROOT, "configs", "demo", "vit_tiny_shapes.py"),
                           "--device", "cpu", "--sizes", "72", "--strategies", "window",
                           "--steps", "1", "--warmup", "0", "--no-flops", "--output-dir", str(out)])
    captured = capsys.readouterr()
    assert code == 1
    assert "none of the 1 cells could be measured" in captured.err
    assert (out / "benchmark.json").is_file() and not (out / "benchmark.png").exists()


class _FamilyWithoutStrategies:
    """A backbone family that states its benchmark options (img_size and use_sdpa only)."""

    supported_benchmark_options = frozenset({"img_size", "use_sdpa"})

    def __init__(self, img_size=224, use_sdpa=True, attention_strategy=None, drop_path_rate=0.1):
        pass


class _FamilyStatingNothing:
    def __init__(self, img_size=224, use_sdpa=True, attention_strategy=None):
        pass


def test_a_family_refuses_a_benchmark_option_it_does_not_support():
    from detectron2.config import LazyCall as L

    from vitdet_bench.measure import BenchmarkOptionError, configure_backbone

    node = L(_FamilyWithoutStrategies)()
    with pytest.raises(BenchmarkOptionError) as e:
        configure_backbone(node, "model.backbone", attention_strategy="window", img_size=64,
                           use_sdpa=True)
    msg = str(e.value)
    assert "model.backbone (_FamilyWithoutStrategies) does not support the benchmark option(s) " \
           "attention_strategy: it supports img_size, use_sdpa" in msg
    assert "attention_strategy" not in node and "img_size" not in node  # nothing half-set
    configure_backbone(node, "model.backbone", img_size=64, use_sdpa=False)
    assert (node.img_size, node.use_sdpa) == (64, False)
    # a class that states nothing takes every option (families before they declare theirs)
    node = L(_FamilyStatingNothing)()
    configure_backbone(node, "net", attention_strategy="global", img_size=64, use_sdpa=True)
    assert node.attention_strategy == "global"
