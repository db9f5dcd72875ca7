"""Benchmark: vectorized harmony measures vs the seed's per-vector loop code (issue 4).

Run from the repository root: ``python benchmarks/harmony.py [--batch 1000] [--n 64]``.

Baseline: the seed's ``HAELoss.harmony_loss`` (literal transcription in
tests/harmony/test_harmony_core.py), one latent vector at a time, Python loop over active pairs.
It is timed on a subset of ``--loop-vectors`` vectors (best of ``--loop-repeats`` passes after a
warm-up pass) and extrapolated per vector to the whole batch
(its cost per vector depends on the number of active entries, about N/2 for Gaussian latents, so
the subset is drawn from the same distribution). The batched side is
``harmony_scores(z, variant="seed")``, the same numbers computed for all vectors at once (checked
to agree), and, for reference, the default ``fixed`` variant. Both sides run in this process,
float32, on CPU with torch's current thread count.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "harmony")]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _timing import add_smoke_flag, best_time  # noqa: E402
from test_harmony_core import HAELoss  # noqa: E402

from spectral_cli.harmony.measures import harmony_scores  # noqa: E402


def end_to_end(array: np.ndarray, variant: str) -> list[dict[str, float]]:
    """numpy vectors in, one plain dict per vector out (what a CLI would print)."""
    scores = harmony_scores(torch.from_numpy(array), variant)  # type: ignore[arg-type]
    columns = torch.stack(scores, dim=-1).tolist()
    return [dict(zip(scores._fields, row, strict=True)) for row in columns]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--loop-vectors", type=int, default=10)
    parser.add_argument("--loop-repeats", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    if args.smoke:
        args.batch, args.n, args.loop_vectors, args.loop_repeats, args.repeats = 20, 16, 2, 1, 1

    gen = torch.Generator().manual_seed(0)
    z = torch.randn(args.batch, args.n, generator=gen)
    subset = z[: args.loop_vectors]
    seed_loss = HAELoss()

    with torch.no_grad():
        looped = torch.stack([seed_loss.harmony_loss(v) for v in subset])
        loop_per_vector = best_time(
            lambda: [seed_loss.harmony_loss(v) for v in subset], args.loop_repeats
        ) / len(subset)
        batched = harmony_scores(z, "seed").harmony
        torch.testing.assert_close(batched[: len(subset)], looped, rtol=1e-5, atol=1e-5)
        t_seed = best_time(lambda: harmony_scores(z, "seed"), args.repeats)
        t_fixed = best_time(lambda: harmony_scores(z, "fixed"), args.repeats)
    array = z.numpy()
    e2e = {v: best_time(lambda v=v: end_to_end(array, v), args.repeats) for v in ("seed", "fixed")}

    loop_total = loop_per_vector * args.batch
    active = (subset > 1e-6).sum(-1).float().mean().item()
    print(
        f"harmony benchmark: batch {args.batch}, N {args.n}, float32, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(
        f"  seed loop (literal):   {loop_per_vector * 1e3:9.3f} ms/vector "
        f"(timed on {len(subset)} vectors, mean {active:.1f} active), "
        f"extrapolated {loop_total:8.3f} s for {args.batch}"
    )
    print(f"  batched, variant=seed: {t_seed * 1e3:9.3f} ms for {args.batch}")
    print(f"  batched, variant=fixed:{t_fixed * 1e3:9.3f} ms for {args.batch}")
    print(f"  ratio loop / batched (seed variant): {loop_total / t_seed:,.0f}x (goal >= 1000x)")
    print(f"  ratio loop / batched (fixed variant): {loop_total / t_fixed:,.0f}x")
    for variant, seconds in e2e.items():
        print(
            f"  end to end (numpy -> scores -> dicts), {variant}: {seconds * 1e3:.2f} ms "
            f"for {args.batch} vectors of length {args.n}"
        )


if __name__ == "__main__":
    main()
