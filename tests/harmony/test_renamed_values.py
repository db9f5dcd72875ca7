"""``seed`` as a variant / critical band is the deprecated name of ``original``: accepted
wherever it was (flag, --set, YAML config, HAE config, Python API), mapped to ``original`` with
identical scores, and announced by one ``note:`` line (a FutureWarning in Python)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import invoke

from spectral_cli.harmony.dissonance import critical_bandwidth
from spectral_cli.harmony.measures import harmony_scores
from spectral_cli.harmony.models import HAEModelConfig
from spectral_cli.harmony.names import DeprecatedNameWarning
from spectral_cli.harmony.score import ScoreConfig

Z = np.random.default_rng(3).standard_normal((4, 12))


def _report(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _notes(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("note: ")]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (["--variant", "seed"], ["--variant", "original"]),
        (["--critical-band", "seed"], ["--critical-band", "original"]),
        (["--set", "variant=seed"], ["--set", "variant=original"]),
    ],
    ids=["variant-flag", "band-flag", "set"],
)
def test_cli_alias_gives_identical_scores_and_one_note(
    runner, tmp_path: Path, old: list[str], new: list[str]
) -> None:
    np.save(tmp_path / "z.npy", Z)
    base = ["harmony-score", "--vectors", tmp_path / "z.npy", "--json"]
    was, now = invoke(runner, *base, *old), invoke(runner, *base, *new)
    a, b = _report(was), _report(now)
    assert a["scores"] == b["scores"] and a["statistics"] == b["statistics"]
    assert (a["variant"], a["critical_band"]) == (b["variant"], b["critical_band"])
    assert "seed" not in (a["variant"], a["critical_band"])
    notes = _notes(was)
    assert len(notes) == 1 and "'seed' is deprecated" in notes[0] and "'original'" in notes[0]
    assert _notes(now) == [] and "Warning" not in was.stderr


def test_yaml_config_alias_and_quiet(runner, tmp_path: Path) -> None:
    np.save(tmp_path / "z.npy", Z)
    cfg = tmp_path / "score.yaml"
    cfg.write_text(f"vectors: {tmp_path / 'z.npy'}\nvariant: seed\ncritical_band: seed\n")
    result = invoke(runner, "harmony-score", "--config", cfg, "--json")
    report = _report(result)
    assert (report["variant"], report["critical_band"]) == ("original", "original")
    assert len(_notes(result)) == 2  # one per key
    quiet = invoke(runner, "harmony-score", "--config", cfg, "--json", "-q")
    assert _report(quiet)["scores"] == report["scores"] and quiet.stderr == ""


def test_python_api_and_configs_map_the_alias_with_a_future_warning() -> None:
    z = torch.from_numpy(Z)
    with pytest.warns(DeprecatedNameWarning, match="'seed' is deprecated"):
        old = harmony_scores(z, "seed", "seed")  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the current name warns about nothing
        new = harmony_scores(z, "original", "original")
    for a, b in zip(old, new, strict=True):
        assert torch.equal(a, b)
    with pytest.warns(DeprecatedNameWarning):
        band = critical_bandwidth(torch.tensor(3.0), torch.tensor(5.0), "seed")  # type: ignore[arg-type]
    assert band.item() == critical_bandwidth(torch.tensor(3.0), torch.tensor(5.0), "original")
    with pytest.warns(DeprecatedNameWarning, match="'seed' is deprecated") as said:
        m = HAEModelConfig.model_validate({"variant": "seed", "critical_band": "seed"})
    assert (m.variant, m.critical_band) == ("original", "original")
    assert sorted(str(w.message).split(" '")[0] for w in said) == [
        "model.critical_band",
        "model.variant",
    ]
    with pytest.warns(DeprecatedNameWarning):
        assert ScoreConfig.model_validate({"variant": "seed"}).variant == "original"
    with pytest.raises(ValueError):
        HAEModelConfig.model_validate({"variant": "seeds"})
