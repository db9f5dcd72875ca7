"""``spectral train hae`` (with --baseline sae) through the CLI, its pieces, and the checkpoint
path of ``spectral harmony-score``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import StopAfter, assert_one_line_error, invoke, read_report
from safetensors import safe_open

from spectral_cli.harmony.detection import auroc
from spectral_cli.harmony.invalid import INVALID_KINDS, class_mixture, invalid_sets, time_shuffle
from spectral_cli.harmony.models import HAEModelConfig
from spectral_cli.harmony.objective import Curriculum

HAE_TINY = [
    "--set",
    "train.epochs=4",
    "--set",
    "data.limit=160",
    "--set",
    "train.batch_size=64",
    "--set",
    "model.hidden=32",
    "--set",
    "data.n_pairs=50",
]


@pytest.fixture(scope="module")
def hae_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    from typer.testing import CliRunner

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("hae") / "run"
    result = invoke(
        CliRunner(),
        "train",
        "hae",
        *HAE_TINY,
        "--baseline",
        "sae",
        "--seed",
        "0",
        "--out",
        out,
        "--json",
    )
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout), result.stdout


def test_auroc_matches_a_hand_computed_case() -> None:
    # pairs (pos > neg): 3 vs {1, 2, 3(tie)} -> 2.5; 2 vs {1, 2(tie), 3} -> 1.5; 0 vs all -> 0
    assert auroc(np.array([3.0, 2.0, 0.0]), np.array([1.0, 2.0, 3.0])) == pytest.approx(4 / 9)
    assert auroc([1.0, 2.0], [0.0, -1.0]) == 1.0
    assert auroc(torch.tensor([0.0]), torch.tensor([1.0])) == 0.0
    assert auroc([5.0, 5.0], [5.0]) == 0.5
    with pytest.raises(ValueError):
        auroc([], [1.0])


def test_curriculum_phases_and_weights() -> None:
    cur = Curriculum(HAEModelConfig(warmup_fraction=0.1), 8)
    assert [cur.phase(e) for e in range(8)] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert [cur.weight(e) for e in range(8)] == pytest.approx([0, 0, 0.1, 0.1, 0.55, 1, 1, 1])
    assert cur.select_from_epoch() == 7
    short = Curriculum(HAEModelConfig(curriculum=(0.5, 0.5, 0.0, 0.0)), 4)
    assert [short.phase(e) for e in range(4)] == [0, 0, 1, 1] and short.select_from_epoch() == 3
    with pytest.raises(ValueError):
        HAEModelConfig(curriculum=(0.5, 0.5, 0.5, 0.0))


def test_invalid_inputs_are_what_the_docs_say() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(6, 20, generator=gen) * 3 + 1
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    shuffled = time_shuffle(x, gen)
    assert torch.equal(shuffled.sort(-1).values, x.sort(-1).values)  # same values, new order
    mixed = class_mixture(x, y, gen)
    for i in range(6):  # every row is the mean of itself and a row of another class
        partners = [j for j in range(6) if torch.allclose(mixed[i], 0.5 * (x[i] + x[j]))]
        assert partners and all(y[j] != y[i] for j in partners)
    sets = invalid_sets(x, y, seed=3)
    assert list(sets) == list(INVALID_KINDS)
    assert torch.equal(sets["noise"], invalid_sets(x, y, seed=3)["noise"])  # seeded
    big = invalid_sets(x.repeat(1, 500), None, seed=1)["noise"]  # matched mean / std per row
    assert torch.allclose(big.mean(-1), x.mean(-1), atol=0.3)
    assert torch.allclose(big.std(-1), x.std(-1, correction=0), rtol=0.1)


def test_train_hae_with_sae_baseline_writes_the_run(hae_run) -> None:
    out, printed, _ = hae_run
    assert printed == read_report(out)
    assert printed["family"] == "hae" and set(printed["models"]) == {"hae", "sae"}
    for name in ("hae", "sae"):
        m = printed["models"][name]
        det = m["extras"]["detection"]
        test_auroc = m["metrics"]["test_auroc"]
        assert 0.0 <= test_auroc <= 1.0 and det["auroc"] == test_auroc
        assert set(det["auroc_by_kind"]) == set(INVALID_KINDS)
        assert m["metrics"]["test_mse"] > 0 and len(m["history"]) == 4
        assert m["selection"] == {**m["selection"], "metric": "val_loss", "mode": "min"}
        sp = m["extras"]["superposition"]
        for key in ("err_vs_inputs", "err_vs_decodes", "rel_err_vs_inputs", "harmony_of_sum"):
            assert np.isfinite(sp[key])
    assert printed["models"]["hae"]["selection"]["best_epoch"] == 4  # inside the last phase
    assert printed["metrics"] == printed["models"]["hae"]["metrics"]
    assert "val_acc" not in printed["metrics"]  # no placeholder accuracies
    files = {
        "model.safetensors",
        "models/sae.safetensors",
        "state.safetensors",
        "states/sae.safetensors",
        "harmony_hist.png",
        "curves.png",
        "report.json",
        "config.yaml",
    }
    assert all((out / f).is_file() for f in files)
    with safe_open(str(out / "model.safetensors"), framework="pt") as fh:
        assert fh.metadata()["spectral.family"] == "hae"
    with safe_open(str(out / "models" / "sae.safetensors"), framework="pt") as fh:
        assert fh.metadata()["spectral.family"] != "hae"


def test_harmony_score_checkpoint_path(runner, hae_run, tmp_path: Path) -> None:
    out, printed, _ = hae_run
    score_dir = tmp_path / "score"
    result = invoke(
        runner,
        "harmony-score",
        "--checkpoint",
        out / "model.safetensors",
        "--out",
        score_dir,
        "--json",
        "--seed",
        "1235",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n_valid"] == 1000 and report["n_invalid"] == 3000
    assert (score_dir / "harmony_hist.png").is_file() and (score_dir / "report.json").is_file()
    # same model, same test signals, same invalid seed as the training report -> same AUROC
    trained = printed["models"]["hae"]["metrics"]["test_auroc"]
    assert report["auroc"] == pytest.approx(trained, abs=1e-9)
    # the run's sae baseline is scored like the HAE (it was refused, exit 2)
    sae = out / "models" / "sae.safetensors"
    scored = invoke(runner, "harmony-score", "--checkpoint", sae, "--out", tmp_path / "sae")
    assert scored.exit_code == 0, scored.output


def test_harmony_score_checkpoint_with_a_data_file(runner, hae_run, tmp_path: Path) -> None:
    out, _, _ = hae_run
    x = np.random.default_rng(0).standard_normal((30, 40)).astype(np.float32)
    np.save(tmp_path / "signals.npy", x)
    np.savez(tmp_path / "signals.npz", x=x, y=np.arange(30) % 3)
    for name in ("signals.npy", "signals.npz"):
        result = invoke(
            runner,
            "harmony-score",
            "--checkpoint",
            out / "model.safetensors",
            "--data",
            tmp_path / name,
            "--out",
            tmp_path / name.replace(".", "_"),
            "--json",
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["n_valid"] == 30
    np.save(tmp_path / "short.npy", x[:, :10])
    for bad in (tmp_path / "short.npy", tmp_path / "missing.npz"):
        result = invoke(
            runner,
            "harmony-score",
            "--checkpoint",
            out / "model.safetensors",
            "--data",
            bad,
            "--out",
            tmp_path / "bad",
        )
        assert_one_line_error(result)


def test_hae_rejects_keys_it_does_not_have(runner, tmp_path: Path) -> None:
    result = invoke(runner, "train", "hae", "--baseline", "pca", "--out", tmp_path / "r")
    assert_one_line_error(result)
    result = invoke(runner, "train", "hae", "--window", "3", "--out", tmp_path / "r")
    assert_one_line_error(result)


def test_interrupted_hae_run_resumes_to_identical_weights(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from spectral_cli.core.errors import Interrupted
    from spectral_cli.core.pipeline import run_experiment
    from spectral_cli.core.resolve import resolve_train_config
    from spectral_cli.core.signals import StopFlag

    sets = [s for s in HAE_TINY if s != "--set"] + ["model.baseline=sae"]
    cfg = resolve_train_config("hae", None, sets, seed=2)
    cpu = torch.device("cpu")
    run_experiment(cfg, tmp_path / "full", cpu)
    flag = StopFlag()  # 144 train signals / 64 -> 3 steps per epoch, 4 epochs per model
    with pytest.raises(Interrupted):  # stop in the HAE's adversarial phase (epoch 4)
        run_experiment(cfg, tmp_path / "cut", cpu, observer=StopAfter(flag, 10), stop=flag)
    flag2 = StopFlag()
    with pytest.raises(Interrupted):  # then in the SAE's second epoch
        run_experiment(
            cfg, tmp_path / "cut", cpu, resume=True, observer=StopAfter(flag2, 6), stop=flag2
        )
    run_experiment(cfg, tmp_path / "cut", cpu, resume=True)
    for name in ("model.safetensors", "models/sae.safetensors"):
        a, b = load_file(str(tmp_path / "full" / name)), load_file(str(tmp_path / "cut" / name))
        assert all(a[k].equal(b[k]) for k in a), name
