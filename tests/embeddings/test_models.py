"""Registry and the seed-000 models' exact parameter counts."""

from __future__ import annotations

import pytest
import torch

from spectral_cli.core.config import presets_dir
from spectral_cli.core.errors import BadInput
from spectral_cli.core.registry import FAMILY_MODULES, family_names, get_family
from spectral_cli.core.resolve import resolve_train_config
from spectral_cli.embeddings.tokens import TokenDataInfo

SEED_INFO = TokenDataInfo(vocab_size=256, seq_len=40, num_classes=10)
EXPECTED = {
    "standard": (86_538, 16_384),
    "factorized": (83_914, 11_008 + 2_752),
    "hpe": (80_138, 9_984),
}


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_parameter_counts_match_the_seed(family: str) -> None:
    cfg = resolve_train_config(family, None, [])
    spec = get_family(family)
    model = spec.build(cfg, SEED_INFO)
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    emb = sum(p.numel() for n, p in model.named_parameters() if n.startswith(spec.embedding_prefix))
    assert (total, emb) == EXPECTED[family]
    logits = model(torch.randint(0, 256, (2, 40)))
    assert logits.shape == (2, 10)


def test_every_family_registers_and_has_a_valid_preset() -> None:
    assert family_names() == sorted(FAMILY_MODULES)
    for name in family_names():
        spec = get_family(name)
        assert spec.name == name
        assert (presets_dir() / spec.preset).is_file()
        cfg = resolve_train_config(name, None, [])
        assert cfg.family == name


def test_presets_carry_the_seed_tuned_values() -> None:
    assert resolve_train_config("standard", None, []).train.lr == 0.0073
    fac = resolve_train_config("factorized", None, [])
    assert (fac.train.lr, fac.model.k) == (0.0031, 43)
    hpe = resolve_train_config("hpe", None, [])
    assert (hpe.train.lr, hpe.model.k, hpe.train.batch_size) == (0.0038, 13, 256)


def test_unknown_family_is_bad_input() -> None:
    with pytest.raises(BadInput, match="unknown model family 'nope'"):
        get_family("nope")


def test_transformer_is_post_norm_with_seed_shape() -> None:
    cfg = resolve_train_config("standard", None, [])
    model = get_family("standard").build(cfg, SEED_INFO)
    layers = model.encoder.layers
    assert len(layers) == 2
    for layer in layers:
        assert layer.norm_first is False
        assert layer.self_attn.num_heads == 4
        assert layer.linear1.out_features == 128
        assert layer.self_attn.batch_first
