"""``spectral export``: checks, the output file, the format, the report.

Everything that can be refused is refused before the checkpoint is loaded or a file written
(exit 2). The output is written to a temporary file next to its destination and renamed into
place only when the parity check passes; a failed check (exit 1) leaves no file, and the report
says why.
"""

from __future__ import annotations

from pathlib import Path

import torch

from spectral_cli.core.atomic import atomic_path
from spectral_cli.core.errors import BadInput
from spectral_cli.core.runs import MODELS_DIR, check_out_file
from spectral_cli.export.report import ExportOptions, ExportReport
from spectral_cli.export.source import PRIMARY, checkpoint_path, load

SUFFIX = {"onnx": ".onnx", "dense": ".safetensors", "safetensors": ".safetensors"}


class _Discard(Exception):
    """Raised inside the atomic write to drop the temporary file of a failed check."""


def default_out(path: Path, opts: ExportOptions) -> Path:
    """One rule: named after what was asked for -- ``--model NAME`` gives ``NAME.onnx``,
    ``NAME-dense.safetensors``, ``NAME-float16.safetensors`` whichever model of the run NAME is;
    without ``--model`` the checkpoint's file name does (``model.onnx`` for a run's
    ``model.safetensors``). A run's exports lie in the run directory, never in ``models/``
    (every ``.safetensors`` file there counts as one of the run's models)."""
    tag = {"onnx": "", "dense": "-dense", "safetensors": f"-{opts.dtype or 'float16'}"}
    assert opts.format is not None
    folder = path.parent
    if folder.name == MODELS_DIR and (folder.parent / PRIMARY).is_file():
        folder = folder.parent
    stem = opts.model if opts.model is not None else path.stem
    return folder / f"{stem}{tag[opts.format]}{SUFFIX[opts.format]}"


def check_out(out: Path, source: Path, fmt: str, overwrite: bool) -> None:
    if out.suffix != SUFFIX[fmt]:
        raise BadInput(f"--out {out}: a {fmt} export is a {SUFFIX[fmt]} file")
    if out.resolve() == source.resolve():
        raise BadInput(f"--out {out} is the checkpoint being exported; choose another file")
    if out.is_dir():
        raise BadInput(f"--out {out} is a directory; pass the file to write")
    if out.exists() and not overwrite:
        raise BadInput(f"--out {out} exists; pass --overwrite to replace it")
    check_out_file(out)


def run_export(
    source: Path, out: Path | None, opts: ExportOptions, device: torch.device, overwrite: bool
) -> ExportReport:
    """Export SOURCE as ``opts`` says; the report's ``parity.passed`` is the verdict."""
    fmt = opts.format
    if fmt is None:
        raise BadInput("--format is required: onnx, dense or safetensors")
    if opts.dtype is not None and fmt != "safetensors":
        raise BadInput("--dtype applies to --format safetensors (a half-precision re-save)")
    path = checkpoint_path(source, opts.model)
    target = out if out is not None else default_out(path, opts)
    check_out(target, path, fmt, overwrite)
    if fmt == "onnx":  # the missing extra is refused before anything is loaded
        from spectral_cli.export.onnx_format import require_runtime

        require_runtime(exporting=True)
    loaded = load(path, device)
    reason = loaded.signature.refusal(fmt)
    if reason is not None:
        raise BadInput(f"a {loaded.checkpoint_family} model cannot be exported as {fmt}: {reason}")
    tol, seed = opts.tolerance(), opts.seed
    notes: list[str] = []  # what the user must know even when the export passes
    try:
        with atomic_path(target) as tmp:
            if fmt == "onnx":
                from spectral_cli.export.onnx_format import export_onnx

                parity, details = export_onnx(loaded, tmp, opts.opset, tol, seed, notes)
            elif fmt == "dense":
                from spectral_cli.export.dense import export_dense

                parity, details = export_dense(loaded, tmp, tol, seed)
            else:
                from spectral_cli.export.half import export_half

                parity, details = export_half(loaded, tmp, opts.dtype or "float16", tol, seed)
            size = tmp.stat().st_size
            if not parity.passed:
                raise _Discard
    except _Discard:
        pass
    if not parity.passed:
        notes.insert(0, f"parity failed: {target} was not written")
    return ExportReport(
        config=opts.model_dump(mode="json"),
        seed=seed,
        device=str(device),
        family=loaded.checkpoint_family,
        source=str(path),
        format=fmt,
        out=str(target),
        bytes=size,
        parity=parity,
        details=details,
        notes=notes,
    )
