"""``docs/results/hmlp_study.py report``: the results table comes from the runs, not by hand."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from helpers import invoke

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "results" / "hmlp_study.py"


def load_study():
    spec = importlib.util.spec_from_file_location("hmlp_study", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["hmlp_study"] = module  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    return module


def test_the_grid_is_complete_and_in_priority_order() -> None:
    study = load_study()
    names = [c.name for c in study.cells()]
    assert len(names) == len(set(names)) == 3 * 2 * 4
    assert names[0] == "mnist-doc-caps-5-3"
    cmd = study.command(study.Cell("mnist", "ours", "distinct"), Path("R"), "M", False)
    assert cmd[3:7] == ["train", "hmlp", "--seeds", "0-4"]
    assert "model.max_freqs=[512,256]" in cmd and "train.epochs=5" in cmd and "M" in cmd


def test_report_is_generated_from_the_summaries(runner, tmp_path: Path) -> None:
    study = load_study()
    root = tmp_path / "study"
    tiny = ["--set", "data.name=digits", "--set", "data.limit=200", "--set", "train.epochs=2"]
    tiny += ["--set", "model.hidden=[8,4]", "--seeds", "0-2", "-q"]
    for family, cell in (("hmlp", "digits-ours-caps-10-10"), ("mlp", "digits-ours-mlp")):
        result = invoke(runner, "train", family, *tiny, "--out", root / cell)
        assert result.exit_code == 0, result.output
    page = tmp_path / "page.md"
    page.write_text("# title\n\nbefore\n", encoding="utf-8")
    for _ in range(2):  # the second run replaces the section between the markers
        study_args = ["report", "--root", str(root), "--page", str(page)]
        sys_argv, sys.argv = sys.argv, ["hmlp_study.py", *study_args]
        try:
            assert study.main() == 0
        finally:
            sys.argv = sys_argv
    text = page.read_text(encoding="utf-8")
    assert text.startswith("# title\n\nbefore\n") and text.count(study.BEGIN) == 1
    summary = json.loads((root / "digits-ours-caps-10-10" / "summary.json").read_text())
    acc = summary["metrics"]["test_acc"]
    rows = [line for line in text.splitlines() if line.startswith("| `hmlp` caps 10/10 |")]
    # per schedule (the document's first, then ours): accuracy, kept epochs
    assert len(rows) == 4 and rows[0] == "| `hmlp` caps 10/10 | not run | not run | not run |"
    figure = f"{100 * acc['mean']:.2f} ± {100 * acc['std']:.2f} (n=3; train "
    assert rows[2].startswith(f"| `hmlp` caps 10/10 | not run | not run | {figure}")
    paired = [line for line in text.splitlines() if line.startswith("|") and "t-test" in line]
    assert len(paired) == 1
    assert paired[0].startswith("| `hmlp` caps 10/10 − `mlp` (ReLU) | not run | not run |")
    assert "--out runs/hmlp-study/digits-ours-mlp" in text
    assert "# not run (compute budget): mnist-doc-caps-5-3" in text
