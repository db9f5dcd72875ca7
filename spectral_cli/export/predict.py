"""``spectral predict``: a checkpoint (torch) or its ``.onnx`` export (ONNX Runtime) on user data.

The input is what the family's signature says: a token family reads raw signals and quantizes
them exactly as its training data were (the run's ``data.n_tokens`` and ``data.clamp``), or its
tokens with ``--tokens``/``--model-input``; ``hmlp``/``mlp`` read raw features and standardize
them with the training split's mean and std recorded in the checkpoint's data info (or
standardized ones with ``--model-input``); the others read the model input itself. Outputs: a
classifier writes ``class``, ``probabilities`` and ``logits``; other families write their
outputs by name. With
labels (``y`` in the ``.npz``) a classifier reports ``acc`` and ``loss`` (mean cross-entropy), a
regression ``mse`` and ``nmse`` (MSE over the run's normalizer, as its ``test_nmse``); an
autoencoder always reports its reconstruction ``mse``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spectral_cli.core.arrays import class_labels, parse_json, real_array
from spectral_cli.core.checkpoint import check_schema
from spectral_cli.core.errors import BadInput
from spectral_cli.core.registry import ExportSignature, Family
from spectral_cli.export import files
from spectral_cli.export.report import PredictOptions, PredictReport
from spectral_cli.export.specs import DTYPES, Tensor, resolve


@dataclass
class Runner:
    """A model to predict with, whichever the engine."""

    family: Family
    checkpoint_family: str
    cfg: Any
    info: dict[str, Any]
    input: Tensor
    outputs: list[Tensor]
    run: Callable[[torch.Tensor, int], list[torch.Tensor]]
    source: Path

    @property
    def signature(self) -> ExportSignature:
        assert self.family.export is not None
        return self.family.export


def torch_runner(source: Path, model: str | None, device: torch.device) -> Runner:
    from spectral_cli.export.source import checkpoint_path, load, run_torch

    loaded = load(checkpoint_path(source, model), device)
    return Runner(
        loaded.family,
        loaded.checkpoint_family,
        loaded.cfg,
        loaded.info,
        loaded.input,
        loaded.outputs,
        lambda x, bs: run_torch(loaded.model, x, bs, device),
        loaded.path,
    )


def onnx_runner(source: Path) -> Runner:
    from spectral_cli.export.onnx_format import run_session, session
    from spectral_cli.export.source import family_of

    if not source.is_file():
        raise BadInput(f"{source} does not exist")
    sess = session(source)
    meta = dict(sess.get_modelmeta().custom_metadata_map)
    found, exported = meta.get("spectral.family"), meta.get("spectral.export")
    if found is None or exported is None or "spectral.config" not in meta:
        raise BadInput(
            f"{source} has no spectral metadata; predict runs .onnx files written "
            "by 'spectral export'"
        )
    check_schema(meta, source)
    config = parse_json(meta["spectral.config"], f"{source}: spectral.config")
    info = parse_json(meta.get("spectral.data_info", "{}"), f"{source}: spectral.data_info")
    if not isinstance(config, dict) or not isinstance(info, dict):
        raise BadInput(f"{source}: its spectral metadata is not readable")
    fam, cfg = family_of(found, config, meta, source)
    assert fam.export is not None
    signature = parse_json(exported, f"{source}: spectral.export")
    dtype = DTYPES.get(
        str(signature.get("dtype")) if isinstance(signature, dict) else "", torch.float32
    )
    spec = resolve(fam.export.input, info, cfg, dtype)
    if [i.name for i in sess.get_inputs()] != [spec.name]:
        raise BadInput(
            f"{source}: graph inputs differ from the {fam.name} signature "
            f"({spec.name}); it was altered"
        )
    outputs = [resolve(o, info, cfg, dtype) for o in fam.export.outputs]
    return Runner(
        fam, found, cfg, info, spec, outputs, lambda x, bs: run_session(sess, x, bs), source
    )


def model_input(
    runner: Runner, name: str, arr: np.ndarray, as_is: bool
) -> tuple[torch.Tensor, str]:
    """The model's input from the user's array, and what the array was taken to be
    (``as_is``: ``--model-input``, the array is the model input itself)."""
    raw, spec, fam = runner.signature.raw, runner.input, runner.checkpoint_family
    what = f"--input array {name!r}"
    flag = "--tokens" if not spec.dtype.is_floating_point else "--model-input"
    if as_is and raw is None:
        raise BadInput(
            f"--model-input/--tokens applies to models whose input predict "
            f"prepares (token models, hmlp, mlp); a {fam} model takes "
            f"{spec.name} {spec.describe()} as given"
        )
    if raw is not None and not as_is:
        want = resolve(raw.spec, runner.info, runner.cfg, spec.dtype)
        alt = f" (or with {flag}: {spec.name} {spec.describe()})"
        if not want.fits(arr.shape):
            raise BadInput(
                f"{what} has shape {list(arr.shape)}; a {fam} model expects "
                f"{want.name} {want.describe()}: {raw.doc}{alt}"
            )
        if not spec.dtype.is_floating_point and np.issubdtype(arr.dtype, np.integer):
            raise BadInput(f"{what} holds integers; raw {want.name}s are real values{alt}")
        prepared = raw.prepare(runner.cfg, runner.info, real_array(arr, what))
        x = torch.as_tensor(np.ascontiguousarray(prepared), dtype=spec.dtype)
        return finite_input(x, what), want.name
    if not spec.fits(arr.shape):
        raise BadInput(
            f"{what} has shape {list(arr.shape)}; a {fam} model expects "
            f"{spec.name} {spec.describe()}"
        )
    if not spec.dtype.is_floating_point:
        if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
            raise BadInput(f"{what} is {arr.dtype}; {spec.name} must be integers {spec.describe()}")
        high = spec.high or 0
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= high):
            raise BadInput(
                f"{what} holds values {int(arr.min())}..{int(arr.max())}; "
                f"{spec.name} must lie in 0..{high - 1}"
            )
        return torch.as_tensor(arr.astype(np.int64)), spec.name
    return finite_input(torch.as_tensor(real_array(arr, what)).to(spec.dtype), what), spec.name


def finite_input(x: torch.Tensor, what: str) -> torch.Tensor:
    """``x`` once cast to the model's dtype: values finite in float64 but beyond float32's range
    (1e308) become inf there, and the model would answer NaN."""
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        limit = torch.finfo(x.dtype).max
        raise BadInput(
            f"{what} holds values beyond the model's {str(x.dtype).removeprefix('torch.')} "
            f"range (|x| <= {limit:.3g}, after any standardization); rescale the input"
        )
    return x


def check_outputs(runner: Runner, results: list[torch.Tensor], n: int) -> None:
    """The model's outputs must be what its signature says (count, rank, fixed sizes such as
    the number of classes, real dtype) and finite; an altered graph or checkpoint, or inputs
    that drive it to inf/NaN, are refused instead of written or scored."""
    want = runner.outputs
    where = f"{runner.source}"
    if len(results) != len(want):
        raise BadInput(
            f"{where} returns {len(results)} outputs; a {runner.checkpoint_family} model "
            f"returns {len(want)} ({', '.join(s.name for s in want)}); it was altered"
        )
    for spec, out in zip(want, results, strict=True):
        shape = tuple(out.shape)
        if not spec.fits(shape) or (shape and shape[0] != n):
            raise BadInput(
                f"{where}: output {spec.name} has shape {list(shape)}; the signature says "
                f"{spec.describe()} with batch {n}; it was altered"
            )
        if out.is_floating_point() != spec.dtype.is_floating_point or out.is_complex():
            raise BadInput(
                f"{where}: output {spec.name} is {str(out.dtype).removeprefix('torch.')}, "
                f"not {spec.describe()}; it was altered"
            )
        if out.is_floating_point() and not bool(torch.isfinite(out).all()):
            raise BadInput(
                f"the model's output {spec.name} holds inf or NaN for this input; nothing "
                "was written (check the input's scale)"
            )


def _metrics(
    runner: Runner, x: torch.Tensor, outs: dict[str, np.ndarray], labels: np.ndarray | None, n: int
) -> dict[str, float]:
    sig = runner.signature
    first = outs[runner.outputs[0].name].astype(np.float64)
    if sig.kind == "autoencoder":
        return {"mse": float(np.mean((first - x.double().numpy()) ** 2))}
    if labels is None:
        return {}
    if sig.kind == "classifier":
        y = class_labels(np.asarray(labels), "--input array 'y'", first.shape[1])
        if y.shape != (n,):
            raise BadInput(
                f"--input array 'y' has shape {list(y.shape)}; expected [{n}] class labels"
            )
        logp = first - first.max(1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(1, keepdims=True))
        return {
            "acc": float((first.argmax(1) == y).mean()),
            "loss": float(-logp[np.arange(n), y].mean()),
        }
    y = real_array(labels, "--input array 'y'")
    if y.shape != first.shape:
        raise BadInput(
            f"--input array 'y' has shape {list(y.shape)}; expected "
            f"{list(first.shape)} targets like {runner.outputs[0].name}"
        )
    mse = float(np.mean((first - y) ** 2))
    out = {"mse": mse}
    if sig.normalizer is not None and runner.info.get(sig.normalizer):
        out["nmse"] = mse / float(runner.info[sig.normalizer])
    return out


def run_predict(
    source: Path, out: Path | None, opts: PredictOptions, device: torch.device, overwrite: bool
) -> PredictReport:
    if opts.input is None:
        raise BadInput("--input FILE is required (.npy, or .npz with x and optional labels y)")
    is_onnx = source.suffix == ".onnx"
    engine = opts.engine or ("onnxruntime" if is_onnx else "torch")
    if is_onnx and engine == "torch":
        raise BadInput(
            f"{source} is an ONNX model: it runs with --engine onnxruntime; for "
            "torch pass its checkpoint"
        )
    if not is_onnx and engine == "onnxruntime":
        raise BadInput(
            "--engine onnxruntime runs an exported .onnx file; export it first "
            "(spectral export SOURCE --format onnx) and pass that file"
        )
    if is_onnx and opts.model is not None:
        raise BadInput("--model picks a model of a run directory; SOURCE is an .onnx file")
    input_path = opts.input
    target = out if out is not None else files.default_out(input_path)
    files.check_out(target, overwrite)
    if target.resolve() == input_path.resolve():
        raise BadInput(f"--out {target} is the --input file; choose another file")
    runner = onnx_runner(source) if is_onnx else torch_runner(source, opts.model, device)
    raw = runner.signature.raw
    names = tuple(s.name for s in (runner.input, raw.spec if raw else None) if s is not None)
    name, arr, labels = files.read_input(input_path, names)
    x, kind = model_input(runner, name, arr, opts.model_input)
    n = int(x.shape[0])
    if n == 0:
        raise BadInput(f"--input {input_path} holds no examples")
    results = runner.run(x, opts.batch_size)
    check_outputs(runner, results, n)
    outs = {
        spec.name: r.float().numpy() if r.dtype in (torch.float16, torch.bfloat16) else r.numpy()
        for spec, r in zip(runner.outputs, results, strict=True)
    }
    metrics = _metrics(runner, x, outs, labels, n)
    arrays = dict(outs)
    if runner.signature.kind == "classifier":
        logits = outs[runner.outputs[0].name].astype(np.float64)
        p = np.exp(logits - logits.max(1, keepdims=True))
        arrays = {
            "class": logits.argmax(1).astype(np.int64),
            "probabilities": (p / p.sum(1, keepdims=True)).astype(np.float32),
            **outs,
        }
    files.write_predictions(target, arrays)
    return PredictReport(
        config=opts.model_dump(mode="json"),
        seed=0,
        device=str(device),
        family=runner.checkpoint_family,
        source=str(runner.source),
        engine=engine,
        input=str(input_path),
        input_kind=kind,
        n=n,
        out=str(target),
        outputs={k: list(v.shape) for k, v in arrays.items()},
        metrics=metrics,
    )
