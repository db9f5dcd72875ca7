"""Every script in ``benchmarks/`` runs end to end at tiny sizes (``--smoke``) and prints its
ratio. Found by glob: a new benchmark is covered here without touching this file (and needs a
``--smoke`` flag). A script that needs something optional that is missing here exits 77 with the
reason, and is skipped with it. Each is a whole program (seconds to start, some start several
processes): all are marked slow, so they run in CI's slow set, not in the default run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP = 77  # benchmarks/_timing.py
RATIO = re.compile(r"\d[\d,]*(?:\.\d+)?x(?:\s|$)")  # "1.23x", "1,000x", "38x"


def scripts() -> list:
    params = []
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        if path.name.startswith("_"):  # shared helpers, not benchmarks
            continue
        params.append(pytest.param(path, id=path.stem, marks=[pytest.mark.slow]))
    return params


def test_there_are_benchmarks() -> None:
    assert len(scripts()) >= 2


@pytest.mark.parametrize("script", scripts())
def test_benchmark_runs_at_tiny_size_and_prints_its_ratio(script: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, str(script), "--smoke"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    if done.returncode == SKIP:
        pytest.skip(done.stderr.strip().splitlines()[-1])
    assert done.returncode == 0, done.stderr[-3000:]
    assert RATIO.search(done.stdout), done.stdout[-2000:]
    assert list(tmp_path.iterdir()) == []  # temporaries cleaned up, nothing written here
