"""Parity of an exported model with its source: test inputs, differences, the verdict.

Inputs: the first 1, 7 and (up to) 256 examples of the family's test split and random inputs of
batch 1 and 7 (:func:`~spectral_cli.export.specs.random_input`, seeded). For every output
element, with ``a`` the source's value and ``b`` the export's: ``abs = |a - b|``, ``rel = |a -
b| / |a|`` (where ``a != 0``) and ``err = |a - b| / max(1, |a|)`` -- absolute for values up to 1
in size, relative beyond. ``--tol`` bounds the largest ``err``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from pydantic import BaseModel

from spectral_cli.export.source import Loaded
from spectral_cli.export.specs import random_input

BATCHES = (1, 7)
REAL_MAX = 256


class ParityCase(BaseModel):
    input: str
    batch: int
    max_abs: float
    max_rel: float
    max_err: float


class Parity(BaseModel):
    """Largest differences over every case and output; ``passed``: ``max_err <= tol``."""

    reference: str
    candidate: str
    cases: list[ParityCase]
    max_abs: float
    max_rel: float
    max_err: float
    tol: float
    passed: bool

    def line(self) -> str:
        verdict = "ok" if self.passed else "FAILED"
        return (
            f"max abs {self.max_abs:.3g}, max rel {self.max_rel:.3g}, max err "
            f"{self.max_err:.3g} over {len(self.cases)} input batches (tol {self.tol:g}: "
            f"{verdict})"
        )


def parity_inputs(loaded: Loaded, seed: int) -> list[tuple[str, torch.Tensor]]:
    """(label, batch) pairs: the first 1, 7 and 256 test examples, then random inputs."""
    x = loaded.data().test.x
    sizes = sorted({min(b, len(x)) for b in (*BATCHES, REAL_MAX)} - {0})
    cases = [(f"test[:{n}]", x[:n]) for n in sizes]
    generator = torch.Generator().manual_seed(seed)
    return cases + [(f"random[{b}]", random_input(loaded.input, b, generator)) for b in BATCHES]


def difference(ref: Sequence[torch.Tensor], got: Sequence[torch.Tensor]) -> tuple[float, ...]:
    """(max abs, max rel, max err) over all outputs (compared in float64)."""
    worst = [0.0, 0.0, 0.0]
    for a, b in zip(ref, got, strict=True):
        a, b = a.double(), b.double()
        if a.shape != b.shape:
            raise ValueError(f"output shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
        d = (a - b).abs()
        if d.numel() == 0:
            continue
        nonzero = a != 0
        rel = float((d[nonzero] / a[nonzero].abs()).max()) if nonzero.any() else 0.0
        err = float((d / a.abs().clamp(min=1.0)).max())
        for i, v in enumerate((float(d.max()), rel, err)):
            worst[i] = max(worst[i], v if v == v else float("inf"))  # NaN counts as infinite
    return tuple(worst)


def compare(
    cases: list[tuple[str, torch.Tensor]],
    reference: Callable[[torch.Tensor], Sequence[torch.Tensor]],
    candidate: Callable[[torch.Tensor], Sequence[torch.Tensor]],
    tol: float,
    ref_name: str,
    cand_name: str,
) -> Parity:
    """Run both on every case and collect the differences."""
    rows = []
    for label, x in cases:
        max_abs, max_rel, max_err = difference(reference(x), candidate(x))
        rows.append(
            ParityCase(
                input=label,
                batch=int(x.shape[0]),
                max_abs=max_abs,
                max_rel=max_rel,
                max_err=max_err,
            )
        )
    worst = {k: max(getattr(r, k) for r in rows) for k in ("max_abs", "max_rel", "max_err")}
    return Parity(
        reference=ref_name,
        candidate=cand_name,
        cases=rows,
        tol=tol,
        passed=worst["max_err"] <= tol,
        **worst,
    )
