"""SOURCE of ``spectral export`` / ``predict``: a run directory or a ``.safetensors`` checkpoint.

Family, config and data info come from the checkpoint's metadata alone (``spectral.family``,
``spectral.config``, ``spectral.data_info``); the model is rebuilt by the family's builder and
the file must hold exactly its tensor names, shapes and dtypes. A checkpoint of a model that a
run trains besides its primary one (``hae-sae-baseline``) is built by the run's family when that
family names it as a member. Half-precision checkpoints (``spectral export --format
safetensors``) load as half-precision models whose floating inputs are cast on entry.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from spectral_cli.core.arrays import parse_json
from spectral_cli.core.checkpoint import (
    check_schema,
    check_state_dict,
    load_checkpoint,
    read_metadata,
)
from spectral_cli.core.config import validate
from spectral_cli.core.errors import BadInput
from spectral_cli.core.limits import check_model
from spectral_cli.core.registry import ExportSignature, Family, family_names, get_family
from spectral_cli.core.runs import MODEL_FILE, MODELS_DIR, RunDir, read_lock
from spectral_cli.export.specs import Tensor, resolve

PRIMARY = MODEL_FILE
HALF = (torch.float16, torch.bfloat16)


def run_models(run_dir: Path) -> dict[str, Path]:
    """Model name -> checkpoint of a run directory (the primary one first)."""
    found: dict[str, Path] = {}
    primary = run_dir / PRIMARY
    if primary.is_file():
        found[read_metadata(primary).get("spectral.member", "model")] = primary
    for path in RunDir(run_dir).further_models():
        found.setdefault(path.stem, path)
    return found


def checkpoint_path(source: Path, model: str | None) -> Path:
    """The checkpoint SOURCE (and ``--model``) names; bad input says what exists instead. A
    run directory is read under its shared lock (a training in progress is refused)."""
    folder = source if source.is_dir() else source.parent
    if folder.name == MODELS_DIR and (folder.parent / PRIMARY).is_file():
        folder = folder.parent
    read_lock(folder, "SOURCE")
    if source.is_dir():
        models = run_models(source)
        if not models:
            raise BadInput(
                f"{source} holds no {PRIMARY}; pass a run directory of 'spectral "
                "train' or a .safetensors checkpoint"
            )
        if model is None:
            if len(models) > 1:
                raise BadInput(
                    f"{source} holds {len(models)} models ({', '.join(models)}); "
                    "pick one with --model NAME"
                )
            return next(iter(models.values()))
        if model not in models:
            raise BadInput(f"--model {model!r}: {source} holds {', '.join(models)}")
        return models[model]
    if not source.exists():
        raise BadInput(f"{source} does not exist; pass a run directory or a .safetensors file")
    if model is not None:
        raise BadInput("--model picks a model of a run directory; SOURCE is a single file")
    return source


@dataclass
class Loaded:
    """A checkpoint rebuilt as a model, with everything its metadata says."""

    path: Path
    family: Family  # the registered family whose builder made the model
    checkpoint_family: str  # ``spectral.family`` of the file
    cfg: Any
    info: dict[str, Any]
    meta: dict[str, str]
    model: nn.Module
    dtype: torch.dtype  # of the stored weights (float16/bfloat16 for a half checkpoint)
    built_dtype: torch.dtype  # of the weights the family builds (the config's precision)
    device: torch.device
    _data: Any = field(default=None, repr=False)

    @property
    def signature(self) -> ExportSignature:
        assert self.family.export is not None
        return self.family.export

    @property
    def half(self) -> bool:
        return self.dtype in HALF

    @property
    def input(self) -> Tensor:
        return resolve(self.signature.input, self.info, self.cfg, self.built_dtype)

    @property
    def outputs(self) -> list[Tensor]:
        return [resolve(s, self.info, self.cfg, self.built_dtype) for s in self.signature.outputs]

    def rebuild(self) -> nn.Module:
        """A fresh CPU copy of the model (built again, same weights; no ``deepcopy`` of
        whatever a module caches, e.g. compiled functions)."""
        with torch.random.fork_rng(devices=[]):
            model = self.family.build(self.cfg, SimpleNamespace(**self.info))
        model = model.to(self.dtype) if self.dtype != self.built_dtype else model
        model.load_state_dict({k: v.detach().cpu() for k, v in self.model.state_dict().items()})
        return model.eval()

    def data(self) -> Any:
        """The family's data set for the checkpoint's config (test inputs, metrics)."""
        if self._data is None:
            try:
                self._data = self.family.data(self.cfg)
            except (OSError, ValueError) as exc:
                raise BadInput(
                    f"the data set of {self.path} ({self.family.name}) cannot be loaded: {exc}"
                ) from None
        return self._data

    def share_data(self, other: Loaded) -> None:
        """Use ``other``'s data set (a re-save of the same model: no second load)."""
        self._data = other.data()


def _config(meta: dict[str, str], path: Path) -> dict[str, Any]:
    raw = meta.get("spectral.config")
    config = parse_json(raw, f"{path}: spectral.config metadata") if raw else None
    if not isinstance(config, dict):
        raise BadInput(
            f"{path} has no readable spectral.config metadata; it was not written by spectral train"
        )
    return config


def family_of(
    found: str, config: dict[str, Any], meta: dict[str, str], path: Path
) -> tuple[Family, Any]:
    """The family that builds the file's model, and its validated config."""
    named = config.get("family")
    if found in family_names():
        fam = get_family(found)
        if named != found:
            raise BadInput(
                f"{path}: metadata disagree (spectral.family {found!r}, config of "
                f"family {named!r}); the file was altered"
            )
        return fam, _validate(fam, config, path)
    if isinstance(named, str) and named in family_names():  # e.g. hae's sae baseline
        fam = get_family(named)
        cfg = _validate(fam, config, path)
        for member in fam.members(cfg):
            if member.checkpoint_family == found and member.name == meta.get("spectral.member"):
                return fam, member.cfg
    raise BadInput(
        f"{path} is a {found!r} checkpoint; export and predict take checkpoints of "
        f"the families {', '.join(family_names())}"
    )


def _validate(fam: Family, config: dict[str, Any], path: Path) -> Any:
    with warnings.catch_warnings():
        # a value renamed since the file was written (hae's variant 'seed' -> 'original') is
        # mapped by the family's config with a FutureWarning; the file is not the user's to fix
        warnings.simplefilter("ignore", FutureWarning)
        return validate(fam.config, config, f"the spectral.config metadata of {path}")


def add_input_casts(model: nn.Module, dtype: torch.dtype) -> None:
    """Cast floating inputs of every module that owns weights to ``dtype`` on entry, so a half
    model takes float32/float64 inputs from any caller (``forward``, ``encode``, metrics)."""

    def cast(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(
            a.to(dtype) if isinstance(a, torch.Tensor) and a.is_floating_point() else a
            for a in args
        )

    for module in model.modules():
        own = [*module.parameters(recurse=False), *module.buffers(recurse=False)]
        if module is model or any(t.is_floating_point() for t in own):
            module.register_forward_pre_hook(cast)


def load(path: Path, device: torch.device) -> Loaded:
    """Rebuild the model of checkpoint ``path`` on ``device`` in eval mode."""
    meta = read_metadata(path)
    found = meta.get("spectral.family")
    if found is None:
        raise BadInput(f"{path} has no spectral.family metadata; it was not written by spectral")
    check_schema(meta, path)
    fam, cfg = family_of(found, _config(meta, path), meta, path)
    if fam.export is None:
        raise BadInput(f"the {fam.name} family declares no export signature")
    if "spectral.data_info" in meta:
        info = parse_json(meta["spectral.data_info"], f"{path}: spectral.data_info metadata")
        if not isinstance(info, dict):
            raise BadInput(f"{path}: spectral.data_info metadata is not a JSON object")
    else:  # older checkpoints: the data set says what the model was built for
        info = dict(vars(fam.data(cfg).info))
    for key, value in info.items():  # sizes and counts, as data sets produce them
        if isinstance(value, int) and not isinstance(value, bool) and not 1 <= value <= 10**9:
            raise BadInput(f"{path}: spectral.data_info {key}={value} is not a size (1 .. 10^9)")
        if isinstance(value, float) and not math.isfinite(value):
            raise BadInput(f"{path}: spectral.data_info {key}={value} is not finite")

    def build() -> nn.Module:
        return fam.build(cfg, SimpleNamespace(**info))

    try:
        check_model(  # before the file's tensors or the model take any memory
            build,
            f"{path}: the model its spectral.config and data_info describe",
            "the metadata were altered; use the checkpoint spectral train wrote",
        )
        tensors, meta = load_checkpoint(path)
        with torch.random.fork_rng(devices=[]):
            model = build()
    except (AttributeError, TypeError, KeyError, ValueError, RuntimeError) as exc:
        raise BadInput(
            f"{path}: its data info {info} does not fit a {fam.name} model ({exc})"
        ) from None
    built = next(
        (p.dtype for p in model.state_dict().values() if p.is_floating_point()), torch.float32
    )
    stored = {t.dtype for t in tensors.values() if t.is_floating_point()}
    dtype = stored.pop() if len(stored) == 1 and next(iter(stored)) in HALF else built
    if dtype != built:
        model = model.to(dtype)
    check_state_dict(model.state_dict(), tensors, path)
    model.load_state_dict(tensors)
    model.eval().to(device)
    if dtype != built:
        add_input_casts(model, dtype)
    return Loaded(path, fam, found, cfg, info, meta, model, dtype, built, device)


def outputs_of(result: Any) -> tuple[torch.Tensor, ...]:
    return tuple(result) if isinstance(result, (tuple, list)) else (result,)


@torch.no_grad()
def run_torch(
    model: nn.Module, x: torch.Tensor, batch_size: int, device: torch.device
) -> list[torch.Tensor]:
    """The model's outputs for ``x`` in batches, on the CPU in their own dtype."""
    parts: list[tuple[torch.Tensor, ...]] = []
    for start in range(0, x.shape[0], batch_size):
        out = outputs_of(model(x[start : start + batch_size].to(device)))
        parts.append(tuple(o.detach().cpu() for o in out))
    return [torch.cat(column) for column in zip(*parts, strict=True)]
