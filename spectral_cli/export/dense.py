"""``spectral export --format dense``: an hpe or factorized model as a plain ``standard`` one.

The embedding submodule named by the family's signature is evaluated on every token id
(``embedding(arange(V))``, the module's own forward) and stored as the ``nn.Embedding`` weight
of the target family (``dense_into``); every other tensor is copied unchanged. The config keeps
every key the target's schema has (``d_model``, heads, layers, data and training settings), so
the file is an ordinary checkpoint of the target family: ``predict``, ``export --format onnx``
and any loader that checks tensor names, shapes and dtypes accept it. Parity: logits of the
converted model against the source on the whole test split plus random inputs.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from pydantic import BaseModel
from torch import nn

from spectral_cli.core.checkpoint import check_state_dict, model_metadata, save_tensors
from spectral_cli.core.config import validate
from spectral_cli.core.errors import BadInput
from spectral_cli.core.registry import get_family
from spectral_cli.export.parity import Parity, compare, parity_inputs
from spectral_cli.export.source import Loaded, run_torch

EVAL_BATCH = 1024


def footprint(model: nn.Module, embedding: str) -> dict[str, int]:
    """Inference-time size: parameters (all, of the embedding) and bytes of the stored tensors."""
    params = dict(model.named_parameters())
    state = model.state_dict()
    return {
        "params": sum(p.numel() for p in params.values()),
        "embedding_params": sum(
            p.numel() for n, p in params.items() if n.startswith(embedding + ".")
        ),
        "bytes": sum(t.numel() * t.element_size() for t in state.values()),
    }


def target_config(loaded: Loaded, family: str) -> Any:
    """The source's config as a config of ``family`` (keys its schema lacks are dropped)."""
    target = get_family(family)
    data = loaded.cfg.model_dump(mode="json")
    assert issubclass(target.config, BaseModel)
    model_cls = target.config.model_fields["model"].annotation
    assert isinstance(model_cls, type) and issubclass(model_cls, BaseModel)
    data["model"] = {k: v for k, v in data["model"].items() if k in model_cls.model_fields}
    data["family"] = family
    return validate(target.config, data, f"the {family} config made from {loaded.path}")


def convert(loaded: Loaded) -> tuple[nn.Module, Any]:
    """(model of the target family with the materialized table, its config)."""
    sig = loaded.signature
    assert sig.dense_into is not None
    cfg = target_config(loaded, sig.dense_into)
    with torch.random.fork_rng(devices=[]):
        dense = get_family(sig.dense_into).build(cfg, SimpleNamespace(**loaded.info))
    vocab = int(loaded.info[sig.vocab])
    with torch.no_grad():
        embedding = loaded.model.get_submodule(sig.embedding)
        table = embedding(torch.arange(vocab, device=loaded.device)).detach().cpu()
    prefix = sig.embedding + "."
    state = {
        k: v.detach().cpu()
        for k, v in loaded.model.state_dict().items()
        if not k.startswith(prefix)
    }
    state[prefix + "weight"] = table
    check_state_dict(dense.state_dict(), state, loaded.path)
    dense.load_state_dict(state)
    return dense.eval().to(loaded.device), cfg


def export_dense(
    loaded: Loaded, target: Path, tol: float, seed: int
) -> tuple[Parity, dict[str, Any]]:
    """Write the dense checkpoint to ``target``; parity on the whole test split."""
    if loaded.half:
        raise BadInput(
            f"{loaded.path} holds {loaded.dtype} weights; convert the full-precision checkpoint"
        )
    sig = loaded.signature
    assert sig.dense_into is not None
    dense, cfg = convert(loaded)
    cases = parity_inputs(loaded, seed)
    test = loaded.data().test.x
    cases.insert(0, (f"test (all {len(test)})", test))
    parity = compare(
        cases,
        lambda x: run_torch(loaded.model, x, EVAL_BATCH, loaded.device),
        lambda x: run_torch(dense, x, EVAL_BATCH, loaded.device),
        tol,
        f"{loaded.checkpoint_family} (torch)",
        f"{sig.dense_into} (torch)",
    )
    meta = model_metadata(
        sig.dense_into,
        cfg.model_dump(mode="json"),
        data_info=loaded.info,
        member=sig.dense_into,
        converted_from={"family": loaded.checkpoint_family, "file": loaded.path.name},
    )
    save_tensors(target, dense.state_dict(), meta)
    before, after = footprint(loaded.model, sig.embedding), footprint(dense, sig.embedding)
    return parity, {
        "target_family": sig.dense_into,
        "summary": f"{loaded.checkpoint_family} -> {sig.dense_into}, embedding "
        f"{before['embedding_params']:,} -> {after['embedding_params']:,} params",
        "before": before,
        "after": after,
    }
