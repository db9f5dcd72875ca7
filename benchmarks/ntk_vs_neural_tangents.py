"""Benchmark: the project's structured empirical NTK against neural-tangents (JAX), same weights.

Run from the repository root (project venv active)::

    python benchmarks/ntk_vs_neural_tangents.py            # N in {128, 1024, 4096}, f32 and f64
    python benchmarks/ntk_vs_neural_tangents.py --quick    # N in {128, 1024}
    python benchmarks/ntk_vs_neural_tangents.py --venv /path/to/nt-venv --n 256 --repeats 5

neural-tangents needs an old JAX (its ``STRUCTURED_DERIVATIVES`` code uses
``jax.interpreters.ad.source_info_util``, gone from JAX 0.4.26 on), and that JAX needs NumPy < 2
and SciPy < 1.13. They live in a separate venv (``~/.cache/spectral/nt-venv`` by default, or
``--venv``), built on first use with the pins in :data:`PINS` and reused after (a marker file
records the pins; ``--rebuild`` starts it afresh). neural-tangents is installed ``--no-deps``: its
declared dependencies ``tensorflow`` and ``tf2jax`` serve only ``neural_tangents.experimental``
(the TF port), which the worker replaces by an empty module before importing the package. The
project's own venv and the test suite never touch that venv.

Model: ReLU MLP ``NTKMLP(2m, width, depth, "ntk", w_std, b_std)`` (defaults width 512, depth 4,
toy Fourier features of random points, ``m = 16`` -> 32 inputs, ``w_std = sqrt 2``,
``b_std = 0.1``), scalar output. Its weights and inputs go to the JAX side through an ``.npz``
file, where ``stax.serial(Dense(W, w_std, b_std), Relu(), ..., Dense(1, w_std, b_std))`` (NTK
parameterization) gets ``W.T`` and ``b[None]`` as parameters: the same function.

neural-tangents runs ``empirical_ntk_fn(apply_fn, trace_axes=(-1,), vmap_axes=0,
implementation=STRUCTURED_DERIVATIVES)``, ``jax.jit``-compiled (compilation not timed), in a
worker process started with the other venv's interpreter; ours runs ``ntk_structured`` in this
process. Both compute the symmetric train kernel ``K(x, x)`` (``x2=None``). Each repeat times one
call of ours and then one of neural-tangents, each after ``--gap`` seconds of sleep so that
the other side's thread pool has gone idle (the worker times its own call, after
``block_until_ready``, so the pipe is not timed); the table shows the best of ``--repeats`` and
the median, and the least CPU time (all threads of the process, ``time.process_time``; less
sensitive to other load than the wall time). Ratio = neural-tangents / ours (> 1: ours is
faster). Agreement is
``max |K_ours - K_nt| / max |K_nt|``. torch runs with its default thread count (``--threads``),
XLA with its own CPU thread pool (all cores).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VENV = Path.home() / ".cache" / "spectral" / "nt-venv"
# versions that install together from the package index and run neural-tangents' structured path
PINS = [
    "jax[cpu]==0.4.25",
    "jaxlib==0.4.25",
    "numpy==1.26.4",
    "scipy==1.12.0",
    "ml_dtypes==0.5.4",
    "opt_einsum==3.4.0",
    "frozendict==2.5.1",
    "typing_extensions>=4.5",
]
NT_PIN = "neural-tangents==0.6.5"


# ----------------------------------------------------------------- worker (runs in the nt venv)


def _worker() -> None:  # pragma: no cover - runs under the other interpreter
    """JSON lines on stdin -> JSON lines on stdout. Only numpy and JAX are imported here."""
    import types

    # neural_tangents/__init__ imports .experimental (the TF port: jax2tf, tensorflow), unused here
    sys.modules["neural_tangents.experimental"] = types.ModuleType("neural_tangents.experimental")
    import jax

    jax.config.update("jax_enable_x64", True)  # float32 arrays still compute in float32
    import jax.numpy as jnp
    import neural_tangents as nt
    import numpy as np
    from neural_tangents import stax

    state: dict[str, Any] = {}
    out = sys.stdout
    sys.stdout = sys.stderr  # keep stray prints off the protocol channel

    def reply(**kw: Any) -> None:
        out.write(json.dumps(kw) + "\n")
        out.flush()

    reply(
        ok=True, jax=jax.__version__, nt=getattr(nt, "__version__", "0.6.5"), numpy=np.__version__
    )
    for line in sys.stdin:
        msg = json.loads(line)
        cmd = msg["cmd"]
        if cmd == "load":
            z = np.load(msg["npz"])
            depth = int(z["depth"])
            w_std, b_std = float(z["w_std"]), float(z["b_std"])
            layers: list[Any] = []
            params: list[Any] = []
            for i in range(depth):
                w, b = z[f"w{i}"], z[f"b{i}"]
                layers.append(stax.Dense(w.shape[0], w_std, b_std, parameterization="ntk"))
                params.append((jnp.asarray(w.T), jnp.asarray(b[None, :])))
                if i < depth - 1:
                    layers.append(stax.Relu())
                    params.append(())
            _, apply_fn, _ = stax.serial(*layers)
            fn = nt.empirical_ntk_fn(
                apply_fn,
                trace_axes=(-1,),
                vmap_axes=msg.get("vmap_axes", 0),
                implementation=nt.NtkImplementation.STRUCTURED_DERIVATIVES,
            )
            x = jnp.asarray(z["x"])
            jitted = jax.jit(lambda x1, p, fn=fn: fn(x1, None, p))
            t0 = time.perf_counter()
            k = jitted(x, params).block_until_ready()
            state.update(fn=jitted, x=x, params=params, k=k)
            reply(
                ok=True, compile_s=time.perf_counter() - t0, dtype=str(k.dtype), shape=list(k.shape)
            )
        elif cmd == "time":
            c0, t0 = time.process_time(), time.perf_counter()
            k = state["fn"](state["x"], state["params"]).block_until_ready()
            reply(ok=True, seconds=time.perf_counter() - t0, cpu=time.process_time() - c0)
            state["k"] = k
        elif cmd == "save":
            np.save(msg["path"], np.asarray(state["k"]))
            reply(ok=True)
        elif cmd == "quit":
            reply(ok=True)
            return
        else:
            reply(ok=False, error=f"unknown command {cmd!r}")


# ----------------------------------------------------------------- driver (project venv)


def venv_ready(path: Path) -> bool:
    """Whether the neural-tangents venv at ``path`` is built with the current pins."""
    marker = path / "spectral-nt-pins.txt"
    want = "\n".join([*PINS, NT_PIN]) + "\n"
    return (path / "bin" / "python").exists() and marker.exists() and marker.read_text() == want


def ensure_venv(path: Path, rebuild: bool = False) -> Path:
    """The neural-tangents venv's python, building the venv first if needed."""
    py = path / "bin" / "python"
    marker = path / "spectral-nt-pins.txt"
    want = "\n".join([*PINS, NT_PIN]) + "\n"
    if not rebuild and venv_ready(path):
        return py
    print(f"building the neural-tangents venv at {path} (one time, a few minutes) ...", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
    pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *PINS], check=True)
    subprocess.run([*pip, "--no-deps", NT_PIN], check=True)
    marker.write_text(want)
    return py


class Worker:
    """The JAX side: a subprocess under the nt venv's interpreter, spoken to in JSON lines."""

    def __init__(self, python: Path) -> None:
        env = dict(os.environ, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
        env.pop("PYTHONPATH", None)
        # the worker's stderr, shown if it dies (closed in close())
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(python), str(Path(__file__).resolve()), "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=env,
            cwd=tempfile.gettempdir(),
        )
        self.hello = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.log.seek(0)
            tail = "".join(self.log.readlines()[-20:])
            raise RuntimeError(f"the neural-tangents worker died; its last output:\n{tail}")
        msg = json.loads(line)
        if not msg.get("ok"):
            raise RuntimeError(f"neural-tangents worker: {msg.get('error')}")
        return msg

    def call(self, **msg: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, BrokenPipeError):
            self.call(cmd="quit")
        self.proc.wait(timeout=30)
        self.log.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[128, 1024, 4096])
    parser.add_argument(
        "--dtypes", nargs="+", default=["float32", "float64"], choices=["float32", "float64"]
    )
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--m", type=int, default=16, help="toy Fourier frequencies (2m inputs)")
    parser.add_argument("--w-std", type=float, default=2**0.5)
    parser.add_argument("--b-std", type=float, default=0.1)
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="alternating timed calls each at N >= 1024; N < 1024 gets "
        "repeats * min(5, 1024 // N) (small N are cheap and noisier)",
    )
    parser.add_argument(
        "--gap",
        type=float,
        default=0.1,
        help="seconds of sleep before each timed call (spinning threads go idle)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the venv")
    parser.add_argument(
        "--vmap-axes",
        choices=["0", "none"],
        default="0",
        help="neural-tangents' vmap_axes hint (0: batch axis; none: no hint)",
    )
    parser.add_argument("--quick", action="store_true", help="N in {128, 1024}, 3 repeats")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, one repeat: a run check, not a measurement (skips, exit 77, when the "
        "neural-tangents venv is not built: building it downloads packages)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.repeats = [128, 1024], 3
    if args.smoke:
        args.n, args.width, args.depth, args.m, args.repeats, args.gap = [8], 8, 2, 2, 1, 0.0
        args.dtypes = ["float32"]
        if not venv_ready(args.venv.expanduser()) or args.rebuild:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from _timing import skip

            skip(
                f"neural-tangents/jax are not installed here (no venv at {args.venv}; run "
                "without --smoke once to build it, which downloads packages)"
            )
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")

    sys.path.insert(0, str(ROOT))
    import numpy as np
    import torch

    from spectral_cli.ntk.empirical import ntk_structured
    from spectral_cli.ntk.encodings import make_encoding
    from spectral_cli.ntk.mlp import NTKMLP

    if args.threads:
        torch.set_num_threads(args.threads)
    worker = Worker(ensure_venv(args.venv.expanduser(), args.rebuild))
    h = worker.hello
    enc = make_encoding("toy", 1, m=args.m, p=1.0)
    print(
        f"empirical NTK, ReLU MLP width {args.width}, depth {args.depth}, {enc.out_features} "
        f"inputs, NTK parameterization (w_std {args.w_std:.4g}, b_std {args.b_std:g}); "
        f"symmetric K(x, x)"
    )
    print(
        f"ours: ntk_structured, torch {torch.__version__}, {torch.get_num_threads()} threads | "
        f"neural-tangents {h['nt']} STRUCTURED_DERIVATIVES (jit, vmap_axes={args.vmap_axes}), "
        f"jax/jaxlib {h['jax']}, numpy {h['numpy']} | {os.cpu_count()} CPUs"
    )
    print(
        f"times: best (median) of {args.repeats} alternating calls (x min(5, 1024 // N) below "
        f"N = 1024); ratio = nt / ours; CPU: least process CPU time"
    )
    print(
        f"{'N':>6} {'dtype':>8} {'ours s':>18} {'neural-tangents s':>20} {'ratio best':>11} "
        f"{'ratio med':>10} {'max|dK|/max|K|':>15} {'CPU ours':>8} {'CPU nt':>8} "
        f"{'CPU ratio':>8}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for dtype_name in args.dtypes:
            dtype = getattr(torch, dtype_name)
            gen = torch.Generator().manual_seed(0)
            model = NTKMLP(
                enc.out_features,
                args.width,
                args.depth,
                "ntk",
                args.w_std,
                args.b_std,
                generator=gen,
                dtype=dtype,
            )
            for n in args.n:
                x = enc(torch.rand(n, generator=gen, dtype=torch.float64)).to(dtype)
                npz = Path(tmp) / "model.npz"
                arrays = {
                    "x": x.numpy(),
                    "depth": np.array(args.depth),
                    "w_std": np.array(args.w_std),
                    "b_std": np.array(args.b_std),
                }
                for i, layer in enumerate(model.layers):
                    arrays[f"w{i}"] = layer.weight.detach().numpy()
                    arrays[f"b{i}"] = layer.bias.detach().numpy()
                np.savez(npz, **arrays)
                worker.call(
                    cmd="load", npz=str(npz), vmap_axes=None if args.vmap_axes == "none" else 0
                )
                ntk_structured(model, x)  # warm-up
                ours, theirs, cpu_ours, cpu_theirs = [], [], [], []
                for _ in range(args.repeats * min(5, max(1, 1024 // n))):
                    time.sleep(args.gap)
                    c0, t0 = time.process_time(), time.perf_counter()
                    k_ours = ntk_structured(model, x)
                    ours.append(time.perf_counter() - t0)
                    cpu_ours.append(time.process_time() - c0)
                    time.sleep(args.gap)
                    reply = worker.call(cmd="time")
                    theirs.append(reply["seconds"])
                    cpu_theirs.append(reply["cpu"])
                worker.call(cmd="save", path=str(Path(tmp) / "k.npy"))
                k_nt = torch.from_numpy(np.load(Path(tmp) / "k.npy"))
                assert k_nt.dtype == dtype and k_nt.shape == k_ours.shape
                err = float((k_ours - k_nt).abs().max() / k_nt.abs().max())
                bo, bt = min(ours), min(theirs)
                mo, mt = statistics.median(ours), statistics.median(theirs)
                co, ct = min(cpu_ours), min(cpu_theirs)
                rows.append((n, dtype_name, bo, bt, mo, mt, err))
                print(
                    f"{n:6d} {dtype_name:>8} {bo:8.4f} ({mo:7.4f}) {bt:9.4f} ({mt:8.4f}) "
                    f"{bt / bo:10.2f}x {mt / mo:9.2f}x {err:15.2e} {co:8.4f} {ct:8.4f} "
                    f"{ct / co:7.2f}x",
                    flush=True,
                )
                del k_ours, k_nt
    worker.close()
    print("summary (goal: ours >= 2x faster; float64 agreement <= 1e-12):")
    for n, dtype_name, bo, bt, mo, mt, err in rows:
        print(
            f"  N={n} {dtype_name}: ours {bo:.4f} s, neural-tangents {bt:.4f} s -> "
            f"{bt / bo:.2f}x (medians {mo:.4f} s, {mt:.4f} s -> {mt / mo:.2f}x); "
            f"agreement {err:.1e}"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        _worker()
    else:
        main()
