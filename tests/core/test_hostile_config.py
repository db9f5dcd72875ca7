"""Config files and ``--set`` values from a hostile or careless user: refused with exit 2, fast."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from spectral_cli.core.config import MAX_CONFIG_BYTES, MAX_CONFIG_NODES, read_yaml
from spectral_cli.core.errors import BadInput
from spectral_cli.core.resolve import resolve_train_config


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = [f"l0: &l0 [{', '.join(['x'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_in_well_under_a_second(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())  # 9**9 = 387 million nodes once expanded, 1 KB on disk
    started = time.perf_counter()
    with pytest.raises(BadInput, match=f"more than {MAX_CONFIG_NODES:,} YAML nodes"):
        read_yaml(path)
    assert time.perf_counter() - started < 1.0
    small = tmp_path / "ok.yaml"  # aliases that stay small are fine
    small.write_text("a: &a [1, 2]\nb: [*a, *a]\n")
    assert read_yaml(small) == {"a": [1, 2], "b": [[1, 2], [1, 2]]}


def test_an_oversized_config_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("train:\n  epochs: 1\n" + "# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    started = time.perf_counter()
    with pytest.raises(BadInput, match="limited to 1,000,000 bytes"):
        read_yaml(path)
    assert time.perf_counter() - started < 1.0


def test_deep_nesting_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(BadInput, match="nested too deeply|not valid YAML"):
        read_yaml(path)


@pytest.mark.parametrize(
    ("family", "item", "key"),
    [
        ("hpe", "model.k=true", "model.k"),  # a boolean is not K = 1
        ("hpe", "train.epochs='1'", "train.epochs"),  # a quoted string is not a number
        ("hpe", "data.clamp=.inf", "data.clamp"),
        ("hpe", "data.clamp=inf", "data.clamp"),
        ("hpe", "train.lr=.nan", "train.lr"),
        ("hmlp", "model.hidden=[32,true]", "model.hidden"),
    ],
)
def test_types_are_strict_and_the_key_is_named(family: str, item: str, key: str) -> None:
    with pytest.raises(BadInput, match=f"'{key}'"):
        resolve_train_config(family, None, [item])


def test_a_string_number_in_a_yaml_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  epochs: '1'\n")
    with pytest.raises(BadInput, match="'train.epochs'.*takes a number, not the str"):
        resolve_train_config("hpe", path, [])


def test_exponent_floats_parse_as_numbers_like_yaml_1_2(tmp_path: Path) -> None:
    assert resolve_train_config("hpe", None, ["train.lr=3e-3"]).train.lr == 0.003
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lr: 1e-3\n")
    assert resolve_train_config("hpe", path, []).train.lr == 0.001


def test_unknown_key_lists_the_valid_ones_without_pointing_at_files() -> None:
    with pytest.raises(BadInput) as info:
        resolve_train_config("hpe", None, ["train.epoch=3"])
    message = str(info.value)
    assert "valid keys there: epochs, lr" in message and "configs/" not in message


@pytest.mark.parametrize(
    ("family", "item", "key"),
    [
        ("hmlp", "model.max_freqs=[.nan,1]", "model.max_freqs"),
        ("hmlp", "model.max_freqs=[.inf,1]", "model.max_freqs"),
        ("hae", "model.curriculum=[.nan,0.5,0.25,0.25]", "model.curriculum"),  # NaN sums pass
        ("standard", "train.lr=.nan", "train.lr"),
    ],
)
def test_nan_and_infinite_list_items_are_refused_naming_the_key(
    family: str, item: str, key: str
) -> None:
    """Single values had per-key checks; NaN and inf inside a list got through validation and
    failed mid-training (hmlp: "loss became nan", exit 3). NaN is refused everywhere, inf
    inside lists (a single inf stays where it means a limit: ``spectral ntk --p inf``)."""
    with pytest.raises(BadInput, match=f"'{key}' in --set: takes finite numbers"):
        resolve_train_config(family, None, [item])


def test_set_family_to_another_family_is_refused() -> None:
    """``train standard --set family=hpe`` trained standard and ignored the item silently (a
    ``--config`` naming another family was already refused)."""
    with pytest.raises(BadInput, match="the family is 'standard'"):
        resolve_train_config("standard", None, ["family=hpe"])
    assert resolve_train_config("standard", None, ["family=standard"]).family == "standard"


@pytest.mark.parametrize("value", ["1", "0", '"false"', '"off"'])
def test_boolean_keys_take_only_true_or_false(value: str) -> None:
    """Pydantic's lax mode read 1, "false" and "off" as booleans; booleans are as strict as
    numbers now (exit 2 naming the key)."""
    with pytest.raises(BadInput, match="'train.amp' in --set: takes true or false"):
        resolve_train_config("hpe", None, [f"train.amp={value}"])
    assert resolve_train_config("hpe", None, ["train.amp=true"]).train.amp is True


def test_a_key_written_twice_in_a_config_file_is_refused(tmp_path: Path) -> None:
    """YAML keeps the last of two equal keys silently (two ``train:`` sections: the first is
    lost); a config file may set each key once. Merge keys (``<<``) stay allowed."""
    for text in ("train:\n  epochs: 1\n  epochs: 2\n", "train:\n  epochs: 1\ntrain:\n  lr: 0.1\n"):
        path = tmp_path / "twice.yaml"
        path.write_text(text)
        with pytest.raises(BadInput, match="twice in one mapping"):
            read_yaml(path)
    merged = tmp_path / "merge.yaml"
    merged.write_text("base: &b {epochs: 1}\ntrain:\n  <<: *b\n  lr: 0.1\n")
    assert read_yaml(merged)["train"] == {"epochs": 1, "lr": 0.1}
