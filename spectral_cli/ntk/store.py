"""Every kernel of one ``spectral ntk`` run computed once.

A run needs the kernel of its own mapping several times: for the regression and dynamics, in the
spectrum plot (one curve per mapping, its own among them), for the kernel profile, and again in a
sweep whose values include the run's own ``p`` or ``scale``. :class:`KernelStore` hands out
*variants* (a mapping with its MLP at initialization) and computes each kernel of a variant at
most once: ``K_train``, ``K(x_test, x_train)``, the eigendecomposition and the profile row.

Only the run's own variant is kept by the store for the whole run; the others (the other
mappings of the spectrum plot, the other sweep values) are used in one place each and freed
with it, so their n x n kernels are not held longer than needed. ``computed`` lists every
kernel evaluation as ``(variant key, what)``: a duplicate in it is a kernel computed twice (the
tests check there is none).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from spectral_cli.core.phases import PhaseTimer
from spectral_cli.ntk.config import NTKRunConfig, resolved_m
from spectral_cli.ntk.encodings import FourierEncoding
from spectral_cli.ntk.experiment import build_encoding, build_network, cross_kernel
from spectral_cli.ntk.kernels import KernelEigen, kernel_eigh
from spectral_cli.ntk.tasks import RegressionTask

VariantKey = tuple[str, int | None, float, float]


@dataclass
class Variant:
    """One mapping gamma and the run's MLP on its features (built on first use), with the
    kernels computed for it so far (freed with the variant, except the run's own)."""

    key: VariantKey
    encoding: FourierEncoding
    f_train: Tensor
    f_test: Tensor | None
    _store: KernelStore
    _net: nn.Module | None = None
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def network(self) -> nn.Module:
        """The MLP at initialization (run seed); callers train a copy, never this one."""
        if self._net is None:
            s = self._store
            with s.timer("setup"):
                self._net = build_network(s.cfg.model, self.f_train.shape[1], s.cfg.seed, s.device)
        return self._net

    def _once(self, what: str, compute: Callable[[], Any]) -> Any:
        if what in self._cache:
            return self._cache[what]
        value = self._cache[what] = compute()
        self._store.computed.append((self.key, what))
        return value

    def _kernel(self, a: Tensor, b: Tensor | None) -> Tensor:
        s = self._store
        net = None if s.cfg.kernel == "analytic" else self.network
        with s.timer("kernels"):
            return cross_kernel(s.cfg, net, a, b)

    def k_train(self) -> Tensor:
        """``K(x_train, x_train)`` [n, n], float64 on CPU."""
        return self._once("train", lambda: self._kernel(self.f_train, None))

    def k_test(self) -> Tensor | None:
        """``K(x_test, x_train)`` [n', n] (None without test inputs)."""
        if self.f_test is None:
            return None
        f_te = self.f_test
        return self._once("test", lambda: self._kernel(f_te, self.f_train))

    def eig(self) -> KernelEigen:
        """Eigendecomposition of ``K_train`` (descending)."""

        def compute() -> KernelEigen:
            k = self.k_train()
            with self._store.timer("eigendecomposition"):
                return kernel_eigh(k)

        return self._once("eig", compute)

    def profile(self, x_grid: Tensor) -> tuple[Tensor, Tensor]:
        """``(x - x_c, K(x, x_c))`` over a 1-D grid, ``x_c`` the grid point nearest its middle."""
        c = x_grid[x_grid.shape[0] // 2 : x_grid.shape[0] // 2 + 1]
        row = self._once("profile", lambda: self._kernel(self.encoding(x_grid), self.encoding(c)))
        return (x_grid - c)[:, 0], row[:, 0]


class KernelStore:
    """The variants of one run: its own mapping, other mappings, sweep values."""

    def __init__(
        self,
        cfg: NTKRunConfig,
        task: RegressionTask,
        device: torch.device,
        timer: PhaseTimer | None = None,
    ) -> None:
        self.cfg, self.task, self.device = cfg, task, device
        self.timer = timer or PhaseTimer(device)
        self.computed: list[tuple[VariantKey, str]] = []
        self.own_key = self.key()
        self._own: Variant | None = None

    def key(
        self, encoding: str | None = None, p: float | None = None, scale: float | None = None
    ) -> VariantKey:
        """What determines a variant's kernels besides the run's fixed MLP config and seed."""
        m = self.cfg.model
        name = encoding or m.encoding
        return (
            name,
            resolved_m(m, name, self.task.n_grid),
            float(m.p if p is None else p),
            float(m.scale if scale is None else scale),
        )

    def variant(
        self, encoding: str | None = None, p: float | None = None, scale: float | None = None
    ) -> Variant:
        """The run's own variant (kept) or a fresh one for other settings."""
        key = self.key(encoding, p, scale)
        if key == self.own_key and self._own is not None:
            return self._own
        t = self.task
        with self.timer("setup"):
            enc = build_encoding(
                self.cfg.model,
                t.in_features,
                self.cfg.seed,
                n_grid=t.n_grid,
                encoding=encoding,
                p=p,
                scale=scale,
            )
            f_te = None if t.x_test is None else enc(t.x_test)
            made = Variant(key=key, encoding=enc, f_train=enc(t.x_train), f_test=f_te, _store=self)
        if key == self.own_key:
            self._own = made
        return made
