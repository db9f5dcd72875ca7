"""The console script keeps matplotlib's files out of $HOME: MPLCONFIGDIR points into the data
cache unless the user set it (docs/guarantees.md lists what else is written)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import smoke_args

from spectral_cli.core.registry import family_names


def test_a_training_writes_nothing_of_matplotlib_under_home(tmp_path: Path) -> None:
    home, cache = tmp_path / "home", tmp_path / "cache"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "MPLBACKEND")}
    env.update(HOME=str(home), SPECTRAL_CACHE_DIR=str(cache), OMP_NUM_THREADS="1")
    args = [*smoke_args(family_names()[0]), "--out", str(tmp_path / "run"), "--quiet"]
    done = subprocess.run(
        [sys.executable, "-m", "spectral_cli", *args, "--threads", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "curves.png").is_file()  # matplotlib ran
    assert not (home / ".config" / "matplotlib").exists()
    assert not (home / ".cache" / "matplotlib").exists()
    assert (cache / "matplotlib").is_dir()
