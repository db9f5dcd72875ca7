"""``spectral tune`` and its storage: credentials never shown or stored, a failing or corrupt
storage is one line, and nothing is created before the input is checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import assert_one_line_error, invoke

TINY = ["--set", "train.epochs=1", "--set", "data.limit=200", "--set", "train.batch_size=64"]
FAMILY = "standard"


@pytest.mark.parametrize(
    "storage",
    [
        "postgresql://u@127.0.0.1:1/db?password=s3cret",  # refused at once: nothing listens on 1
        "host=127.0.0.1 port=1 user=u password=s3cret dbname=db",  # a keyword DSN is no URL
        "postgresql://u:p@ss3cret@127.0.0.1:1/db",  # an unencoded '@' in the password
    ],
)
def test_a_refused_storage_does_not_show_its_password(runner, tmp_path: Path, storage: str) -> None:
    out = tmp_path / "t"
    result = invoke(runner, "tune", FAMILY, "--storage", storage, "--trials", "1", "--out", out)
    assert_one_line_error(result, 2)
    assert "s3cret" not in result.output and "***" in result.stderr
    assert not out.exists()


def test_a_successful_run_stores_no_password(runner, tmp_path: Path) -> None:
    out = tmp_path / "t"
    storage = f"sqlite:///{tmp_path / 'study.db'}?password=s3cret"  # sqlite ignores it
    result = invoke(
        runner, "tune", FAMILY, "--storage", storage, "--trials", "1", "--final-seeds", "0",
        *TINY, "--out", out, "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["storage"].endswith("study.db?password=***")
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".yaml", ".md", ".jsonl"):
            assert "s3cret" not in path.read_text(), path
