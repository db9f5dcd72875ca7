"""ONNX Runtime vs torch CPU inference time of an hpe model (batch of 256), timed in the same run.

The model is the hpe family's default architecture (V=256, D=64, K=13, 2 layers), written as a
checkpoint and exported by ``spectral export --format onnx``'s own code path (parity checked);
both engines then classify the same 256 x 40 token batch with the same number of threads.
Timings alternate between the engines and report medians, so machine noise hits both; the ratio
is what to read. The dense (``standard``) conversion of the same model is timed too, for scale.

    python benchmarks/export_onnx.py [--repeats 50] [--threads 1] [--batch 256]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import torch
from _timing import add_smoke_flag, time_alternating

from spectral_cli.core.checkpoint import model_metadata, save_tensors
from spectral_cli.core.registry import get_family
from spectral_cli.core.resolve import resolve_train_config
from spectral_cli.export.onnx_format import session
from spectral_cli.export.report import ExportOptions
from spectral_cli.export.run import run_export
from spectral_cli.export.source import load

INFO = {"vocab_size": 256, "seq_len": 40, "num_classes": 10}


def checkpoint(family: str, root: Path) -> Path:
    """An (untrained: timing does not depend on the weights) checkpoint of ``family``."""
    cfg = resolve_train_config(family, None, [])
    torch.manual_seed(0)
    model = get_family(family).build(cfg, SimpleNamespace(**INFO))
    path = root / family / "model.safetensors"
    path.parent.mkdir(parents=True)
    save_tensors(
        path,
        model.state_dict(),
        model_metadata(family, cfg.model_dump(mode="json"), data_info=INFO, member=family),
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=256)
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.repeats, args.batch = 1, 4
    torch.set_num_threads(args.threads)
    import onnxruntime

    cpu = torch.device("cpu")
    tokens = torch.randint(
        0,
        INFO["vocab_size"],
        (args.batch, INFO["seq_len"]),
        generator=torch.Generator().manual_seed(0),
    )
    fns: dict[str, Callable[[], object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        hpe = checkpoint("hpe", Path(tmp))
        dense = hpe.with_name("model-dense.safetensors")
        for fmt, src, out in (
            ("onnx", hpe, hpe.with_suffix(".onnx")),
            ("dense", hpe, dense),
            ("onnx", dense, dense.with_suffix(".onnx")),
        ):
            report = run_export(src, out, ExportOptions(format=fmt), cpu, overwrite=False)
            assert report.parity.passed, report.parity
            print(f"export {src.name} -> {out.name}: {report.parity.line()}")
        for label, path in (("hpe", hpe), ("dense", dense)):
            model = load(path, cpu).model
            sess = session(path.with_suffix(".onnx"), threads=args.threads)
            feed = {sess.get_inputs()[0].name: tokens.numpy()}

            def run_torch(m: torch.nn.Module = model) -> object:
                with torch.inference_mode():
                    return m(tokens)

            fns[f"{label} torch"] = run_torch
            fns[f"{label} onnxruntime"] = lambda s=sess, f=feed: s.run(None, f)
        times = time_alternating(fns, args.repeats)
    print(
        f"\ntorch {torch.__version__}, onnxruntime {onnxruntime.__version__}, "
        f"{args.threads} thread(s), batch {args.batch} x {INFO['seq_len']} tokens, "
        f"median of {args.repeats}"
    )
    for name, t in times.items():
        print(f"  {name:20s} {t * 1e3:8.2f} ms")
    for label in ("hpe", "dense"):
        ratio = times[f"{label} torch"] / times[f"{label} onnxruntime"]
        print(f"  {label}: onnxruntime is {ratio:.2f}x the speed of torch (torch / ort time)")


if __name__ == "__main__":
    main()
