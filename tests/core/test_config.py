"""Config resolution: layering, --set typing, and one-line errors for bad values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spectral_cli.core.config import apply_sets, dump_yaml, parse_set
from spectral_cli.core.errors import BadInput
from spectral_cli.core.resolve import resolve_train_config


def test_layering_preset_then_file_then_set_then_seed(tmp_path: Path) -> None:
    user = tmp_path / "mine.yaml"
    user.write_text("train:\n  lr: 0.01\n  epochs: 7\nmodel:\n  k: 9\n")
    cfg = resolve_train_config("hpe", user, ["train.epochs=3"], seed=5)
    assert cfg.train.lr == 0.01  # file over preset (0.0038)
    assert cfg.train.epochs == 3  # --set over file
    assert cfg.model.k == 9
    assert cfg.seed == 5
    assert cfg.train.batch_size == 256  # preset value kept


def test_set_values_are_typed_by_the_schema() -> None:
    cfg = resolve_train_config(
        "hpe", None, ["train.lr=1e-3", "data.limit=100", "train.amp=true", "model.amp_std=null"]
    )
    assert cfg.train.lr == pytest.approx(1e-3) and isinstance(cfg.train.lr, float)
    assert cfg.data.limit == 100
    assert cfg.train.amp is True
    assert cfg.model.amp_std is None


@pytest.mark.parametrize(
    ("sets", "fragment"),
    [
        (["model.k=0"], "model.k"),
        (["train.epochs=abc"], "train.epochs"),
        (["train.lr=-1"], "train.lr"),
        (["train.nope=1"], "unknown config key 'train.nope'"),
        (["model.d_model=63"], "divisible"),
        (["data.val_fraction=1.5"], "data.val_fraction"),
        (["novalue"], "key=value"),
        (["train.lr.x=1"], "is a value, not a section"),
    ],
)
def test_bad_values_are_bad_input(sets: list[str], fragment: str) -> None:
    with pytest.raises(BadInput, match=re.escape(fragment)) as info:
        resolve_train_config("hpe", None, sets)
    assert "\n" not in str(info.value)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="does not exist"):
        resolve_train_config("hpe", tmp_path / "missing.yaml", [])
    broken = tmp_path / "broken.yaml"
    broken.write_text("train: [1, 2\n")
    with pytest.raises(BadInput, match="not valid YAML"):
        resolve_train_config("hpe", broken, [])
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("3\n")
    with pytest.raises(BadInput, match="mapping"):
        resolve_train_config("hpe", scalar, [])
    other = tmp_path / "other.yaml"
    other.write_text("family: standard\n")
    with pytest.raises(BadInput, match="for family 'standard'"):
        resolve_train_config("hpe", other, [])


def test_set_parsing_and_round_trip() -> None:
    assert parse_set(["a.b=1", "c=x=y"]) == [(["a", "b"], 1), (["c"], "x=y")]
    assert apply_sets({"a": {"b": 0}}, [(["a", "b"], 2), (["d", "e"], 3)]) == {
        "a": {"b": 2},
        "d": {"e": 3},
    }
    cfg = resolve_train_config("factorized", None, ["model.k=8"])
    assert "k: 8" in dump_yaml(cfg)
    assert cfg.model_config["frozen"] is True


def _leaves(tree: dict, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    out: list[tuple[tuple[str, ...], object]] = []
    for key, value in tree.items():
        if isinstance(value, dict):
            out += _leaves(value, (*prefix, key))
        else:
            out.append(((*prefix, key), value))
    return out


def _presets() -> list[tuple[str, type, dict]]:
    from spectral_cli.core.registry import family_names, get_family
    from spectral_cli.ntk.config import NTKRunConfig

    fams = [(f"{n}.yaml", get_family(n).config, {"family": n}) for n in family_names()]
    return [*fams, ("ntk-toy.yaml", NTKRunConfig, {})]


@pytest.mark.parametrize("preset,schema,base", _presets(), ids=lambda v: str(v)[:20])
def test_presets_carry_only_what_differs_from_the_schema(preset, schema, base) -> None:
    """Defaults are written once, in the schema: a preset that repeats one fails here."""
    import yaml

    from spectral_cli.core.config import presets_dir

    text = (presets_dir() / preset).read_text()
    defaults = schema.model_validate(base).model_dump(mode="json")
    repeated = []
    for path, value in _leaves(yaml.safe_load(text)):
        if path in (("family",), ("command",)):  # which schema the file is for
            continue
        default = defaults
        for key in path:
            default = default[key]
        if value == default:
            repeated.append(".".join(path))
    assert not repeated, f"configs/{preset} repeats schema defaults: {repeated}"
    assert text.startswith("#"), "a preset says in a comment why its values differ"
