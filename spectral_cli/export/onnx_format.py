"""``spectral export --format onnx``: one graph per checkpoint, checked in ONNX Runtime.

The graph has the family's documented input and output names (its
:class:`~spectral_cli.core.registry.ExportSignature`) and a dynamic batch axis; every other axis
is fixed at the checkpoint's sizes. A harmonic embedding is exported with the table strategy
(:mod:`spectral_cli.export.table`, no constant folding, so the graph's weights stay ``a, w,
phi``); a float64 ``nn.LSTM`` is written out step by step (:mod:`spectral_cli.export.lstm`).
The checkpoint's metadata travels in the model's ``metadata_props`` (``spectral.*``, plus
``spectral.export`` with the input/output names), so ``spectral predict`` runs the ``.onnx``
file alone.

Exporters. At ``--opset`` 18 or later (the default is 18) every family is exported on the CPU
by torch's dynamo exporter (``torch.export`` + ``torch.onnx.export(..., dynamo=True)``, which
needs ``onnxscript``: the ``export`` extra). That exporter writes opset 18 at the lowest; for a
lower opset it converts the finished graph down, and with torch 2.13 / onnxscript 0.7 that
conversion fails for most families (measured: standard, factorized, hpe and hae stop at
``axes_input_to_attribute.h: Assertion `node->hasAttribute(kaxes)` failed: No initializer or
constant input to node found`` -- the ReduceMean/ReduceSum axes it would move into an
attribute are computed; spectra-lstm at ``No Adapter To Version $17 for Pad``; at opset 13 mlp
and hmlp at ``No Adapter From Version $16 for Identity``) and then leaves the graph at opset 18
without failing, which would ignore ``--opset``. So below 18 -- and only there -- the graph is
written by torch's deprecated TorchScript exporter, and its deprecation warning reaches the
user as a ``note:`` line (and in the report's ``notes``; ``details.exporter`` names the one
used).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spectral_cli.core.errors import BadInput
from spectral_cli.export.lstm import unroll_double_lstms
from spectral_cli.export.parity import Parity, compare, parity_inputs
from spectral_cli.export.source import Loaded, run_torch
from spectral_cli.export.specs import random_input
from spectral_cli.export.table import use_table_strategy

EXTRA_HINT = "pip install 'spectral-cli[export]' (in a checkout: pip install -e '.[export]')"
PROVIDERS = ["CPUExecutionProvider"]
DYNAMO_MIN_OPSET = 18  # the dynamo exporter writes opset 18+; lower ones take the legacy path


def require_runtime(exporting: bool = False) -> tuple[Any, Any]:
    """The ``onnx`` and ``onnxruntime`` modules, or bad input naming the extra; ``exporting``:
    ``onnxscript`` (torch's dynamo exporter builds the graph with it) must be there too."""
    try:
        import onnx
        import onnxruntime  # it ships no py.typed marker

        if exporting:
            import onnxscript  # noqa: F401
    except ImportError as exc:
        raise BadInput(
            f"ONNX needs the optional 'export' extra ({exc.name} is not installed): {EXTRA_HINT}"
        ) from None
    return onnx, onnxruntime


def session(path: Path, threads: int = 0) -> Any:
    """An ONNX Runtime CPU session of ``path`` (``threads`` 0: the runtime's default)."""
    _, ort = require_runtime()
    options = ort.SessionOptions()
    options.log_severity_level = 4  # failures become one error line, not runtime log lines
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=PROVIDERS)
    except Exception as exc:
        raise BadInput(f"{path} is not an ONNX model ONNX Runtime can load ({exc})") from None


def run_session(sess: Any, x: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """All outputs of ``sess`` for ``x`` in batches, as tensors; a graph the runtime cannot
    run (an operator without a kernel for its dtype) is bad input naming the reason."""
    name = sess.get_inputs()[0].name
    try:
        parts = [
            sess.run(None, {name: x[i : i + batch_size].numpy()})
            for i in range(0, x.shape[0], batch_size)
        ]
    except Exception as exc:
        reason = str(exc).split("Status Message:")[-1].strip() or type(exc).__name__
        raise BadInput(f"ONNX Runtime cannot run this graph: {reason}") from None
    for k, out in enumerate(parts[0]):  # strings, maps or objects: not the graph export wrote
        if not isinstance(out, np.ndarray) or out.dtype.kind not in "biuf":
            kind = out.dtype if isinstance(out, np.ndarray) else type(out).__name__
            raise BadInput(f"the graph's output {k} is {kind}, not numbers; the file was altered")
    return [torch.cat([torch.from_numpy(p[k]) for p in parts]) for k in range(len(parts[0]))]


def signature_json(loaded: Loaded) -> dict[str, Any]:
    """What ``spectral.export`` records: family that builds it, names, dtypes, shapes."""
    return {
        "family": loaded.family.name,
        "kind": loaded.signature.kind,
        "input": loaded.input.public(),
        "outputs": [o.public() for o in loaded.outputs],
        "source": loaded.path.name,
        "dtype": str(loaded.dtype).removeprefix("torch."),
    }


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    """Discard what the exporters write to file descriptors 1 and 2 and their log records (the
    TorchScript exporter dumps the whole graph when an operator has no ONNX form; the dynamo
    exporter logs a line per optional torchvision operator it skips; the error says enough)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with open(os.devnull, "wb") as sink:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            yield
    finally:
        logger.setLevel(level)
        for fd, copy_ in zip((1, 2), saved, strict=True):
            os.dup2(copy_, fd)
            os.close(copy_)


def _export_dynamo(
    model: torch.nn.Module,
    example: torch.Tensor,
    names: list[str],
    target: Path,
    opset: int,
    fold: bool,
) -> None:
    """``torch.export`` and the dynamo exporter; ``fold``: onnxscript's constant folding."""
    batch = torch.export.Dim("batch")
    with warnings.catch_warnings():
        # torch.export's own notes (pytree deprecations inside torch): nothing to act on here
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model,
            (example,),
            dynamo=True,
            input_names=names[:1],
            output_names=names[1:],
            dynamic_shapes=({0: batch},),
            opset_version=opset,
            optimize=fold,
            verbose=False,
        )
    assert program is not None  # dynamo=True without a file name returns the program
    program.save(str(target), external_data=False)


def _export_torchscript(
    model: torch.nn.Module,
    example: torch.Tensor,
    names: list[str],
    target: Path,
    opset: int,
    fold: bool,
) -> str:
    """The deprecated TorchScript exporter (opsets below 18); its deprecation warning, returned
    so that it reaches the user as a note."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.onnx.export(
            model,
            (example,),
            str(target),
            dynamo=False,
            input_names=names[:1],
            output_names=names[1:],
            dynamic_axes={n: {0: "batch"} for n in names},
            opset_version=opset,
            do_constant_folding=fold,
        )
    said = [
        str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)
    ]  # tracer warnings (TracerWarning) are notes on the trace, not on the exporter
    return said[0].split(". ")[0] if said else "the TorchScript-based ONNX exporter is deprecated"


def _trace(loaded: Loaded, target: Path, opset: int) -> tuple[int, str | None]:
    """Export the model into ``target``: the number of float64 LSTMs written out, and the
    deprecation note when the TorchScript exporter had to be used (``opset`` < 18)."""
    model = loaded.rebuild()
    harmonic = loaded.signature.harmonic
    if harmonic is not None:
        use_table_strategy(model, harmonic)
    spec = loaded.input
    example = random_input(spec, 7, torch.Generator().manual_seed(0))
    unrolled = unroll_double_lstms(model, example)
    names = [spec.name, *(o.name for o in loaded.outputs)]
    fold = harmonic is None  # folding would materialize the V x D table (or w * j: larger)
    note = None
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # its fused kernel has no ONNX form
    try:
        with _silenced():
            if opset >= DYNAMO_MIN_OPSET:
                _export_dynamo(model, example, names, target, opset, fold)
            else:
                said = _export_torchscript(model, example, names, target, opset, fold)
                note = (
                    f"--opset {opset} is below {DYNAMO_MIN_OPSET}, the lowest opset torch's "
                    "dynamo exporter writes, so the graph was written by the deprecated "
                    f"TorchScript exporter (torch: {said}); pass --opset "
                    f"{DYNAMO_MIN_OPSET} or later unless the runtime needs {opset}"
                )
    except (
        torch.onnx.errors.OnnxExporterError,
        torch.onnx.errors.SymbolicValueError,
        torch.onnx.errors.UnsupportedOperatorError,
    ) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInput(
            f"{loaded.family.name} cannot be exported at --opset {opset}: {first}"
        ) from None
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return unrolled, note


def _annotate(loaded: Loaded, target: Path, opset: int) -> None:
    onnx, _ = require_runtime()
    proto = onnx.load(str(target))
    props = {k: v for k, v in loaded.meta.items() if k.startswith("spectral.")}
    props["spectral.data_info"] = json.dumps(loaded.info, sort_keys=True)
    props["spectral.export"] = json.dumps({**signature_json(loaded), "opset": opset})
    onnx.helper.set_model_props(proto, props)
    spec = loaded.input
    outs = ", ".join(f"{o.name} {o.describe()}" for o in loaded.outputs)
    proto.doc_string = (
        f"spectral {loaded.checkpoint_family} model: {spec.name} {spec.describe()} -> {outs}"
    )
    onnx.checker.check_model(proto)
    onnx.save(proto, str(target))


def export_onnx(
    loaded: Loaded, target: Path, opset: int, tol: float, seed: int, notes: list[str]
) -> tuple[Parity, dict[str, Any]]:
    """Write ``loaded`` as ONNX to ``target``; parity of ONNX Runtime with torch. What the user
    must know (the deprecated exporter below opset 18) is appended to ``notes``."""
    require_runtime(exporting=True)
    if loaded.half:
        raise BadInput(
            f"{loaded.path} holds {loaded.dtype} weights; export the full-precision "
            "checkpoint to ONNX"
        )
    cases = parity_inputs(loaded, seed)
    unrolled, note = _trace(loaded, target, opset)
    if note is not None:
        notes.append(note)
    _annotate(loaded, target, opset)
    sess = session(target)
    parity = compare(
        cases,
        lambda x: run_torch(loaded.model, x, 256, loaded.device),
        lambda x: run_session(sess, x, 256),
        tol,
        f"torch on {loaded.device}",
        "onnxruntime (CPU)",
    )
    details: dict[str, Any] = {
        "opset": opset,
        "summary": f"opset {opset}",
        "exporter": "torchscript (deprecated)" if note else "dynamo (torch.export)",
        "input": loaded.input.public(),
        "outputs": [o.public() for o in loaded.outputs],
    }
    if unrolled:
        details["float64_lstm"] = (
            f"{unrolled} nn.LSTM written out step by step (ONNX "
            "Runtime's LSTM kernel is float32 only)"
        )
    if loaded.signature.harmonic is not None:
        details["harmonic_embedding"] = (
            "table strategy: the graph synthesizes the V x D table from a, w, phi on every run"
        )
    return parity, details
