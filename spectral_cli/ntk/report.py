"""Outputs of ``spectral ntk``: ``report.json`` (its model, and :func:`dynamics_section`, the GD
run against the NTK prediction) and the two safetensors files.

* ``ntk.safetensors`` (family ``ntk-kernel``): ``features_train`` [n, D] (gamma(x), what the MLP
  sees), ``x_train`` [n, d], ``y_train`` ([n] for one target, [n, k] for k), ``K_train`` [n, n],
  ``eigvals`` [n] (descending), ``eigvecs`` [n, n] (columns, same order); with test data
  ``features_test``, ``x_test``, ``y_test``, ``K_test`` [n', n] (= K(x_test, x_train)) and
  ``pred_test`` (NTK regression). All float64.
* ``model.safetensors`` (family ``ntk-mlp``, written whenever a network exists, i.e. every
  empirical run and analytic runs that train): the MLP **at initialization** -- the network whose
  empirical kernel is ``K_train`` -- as ``layers.N.weight`` / ``layers.N.bias`` plus the mapping's
  buffers ``encoding.a`` [M] and ``encoding.B`` [M, d] (absent for ``none``). ``spectral.config``
  holds parameterization, w_std, b_std, depth, width, encoding, activation, p, m, scale, dtype
  (``m``: the number of frequencies used, resolved from the encoding's default when ``--m`` is not
  given; report ``config.m_source`` says which).
  ``trained.safetensors`` (same family, ``spectral.state = trained``) holds the weights after
  ``--train-steps``.

``report.json`` ``timing``: exclusive seconds per phase -- ``setup`` (mappings, features and
MLPs at initialization), ``kernels`` (every NTK evaluation),
``eigendecomposition``, ``regression``, ``dynamics`` (GD of the run), ``sweep`` (GD of the sweep
values), ``plots``, ``io`` (config, checkpoint and kernel files; not the report's own write),
``other`` and ``total`` (wall). ``kernel_evaluations`` lists each kernel computed (mapping and
what: ``train``, ``test``, ``eig``, ``profile``); none appears twice.

JSON cannot hold infinity: ``p = inf`` (and an infinite condition number) is written as the
string ``"Infinity"`` (``float("Infinity")`` reads it back).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from pydantic import ConfigDict, Field
from torch import Tensor, nn

from spectral_cli.core.checkpoint import model_metadata, save_tensors
from spectral_cli.core.report import Report
from spectral_cli.ntk.charts import width_text
from spectral_cli.ntk.experiment import Dynamics, decay_rates, predicted_rates, rel_gap

LOSS_CONVENTION = (
    "L = 1/2 sum_i (f(x_i) - y_i)^2 (sum over training points), plain GD "
    "theta <- theta - lr grad L; a mean loss 1/(2n) sum needs lr*n, MSELoss lr*n/2"
)


MODEL_FAMILY = "ntk-mlp"
KERNEL_FAMILY = "ntk-kernel"


class NTKReport(Report):
    """``spectral ntk`` report (``config``: the contract fields plus the run's sections)."""

    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="strings")

    command: str = "ntk"
    kernel: str
    task: dict[str, Any]
    spectrum: dict[str, Any]
    regression: dict[str, Any]
    dynamics: dict[str, Any] | None = None
    sweep: list[dict[str, Any]] | None = None
    files: dict[str, str] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    wall_seconds: float = 0.0
    timing: dict[str, float] = Field(default_factory=dict)
    kernel_evaluations: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        c = self.config
        enc = c["encoding"] + (f" p={c['p']:g}" if c["encoding"] == "toy" else "")
        enc += f" m={c['m']}" if c["encoding"] in ("toy", "posenc", "gauss") else ""
        line = (
            f"ntk ({self.kernel}, {enc}, depth {c['depth']}, "
            f"{width_text(self.kernel, c['width'])}): "
            f"lambda_max {self.spectrum['eigvals'][0]:.4g}, "
            f"cond {self.spectrum['condition_number']:.3g}"
        )
        if self.regression.get("test_mse") is not None:
            line += f", NTK test MSE {self.regression['test_mse']:.4g}"
        if self.dynamics:
            d = self.dynamics
            line += (
                f"; GD {d['steps']} steps: network test MSE {d['test_mse_network']:.4g} "
                f"(NTK {d['test_mse_ntk']:.4g}), max rel. gap {d['max_rel_gap_train']:.2g}"
            )
        if self.sweep:
            best = min(self.sweep, key=lambda r: r["test_mse_ntk"])
            line += (
                f"; sweep {self.config['sweep']['param']}: best NTK at "
                f"{best['value']:g} ({best['test_mse_ntk']:.4g})"
            )
        return line


def encoding_tensors(enc: nn.Module) -> dict[str, Tensor]:
    """``encoding.a`` / ``encoding.B`` (empty for the identity mapping)."""
    return {f"encoding.{k}": v for k, v in enc.state_dict().items() if v is not None}


def save_model(
    path: Path, net: nn.Module, enc: nn.Module, contract: dict[str, Any], state: str, **extra: Any
) -> None:
    """Write the MLP (+ mapping buffers) with the contract metadata."""
    tensors = {k: v for k, v in net.state_dict().items() if k.startswith("layers.")}
    tensors.update(encoding_tensors(enc))
    save_tensors(path, tensors, model_metadata(MODEL_FAMILY, contract, state=state, **extra))


def save_kernel(path: Path, tensors: dict[str, Tensor | None], contract: dict[str, Any]) -> None:
    """Write ``ntk.safetensors`` (``None`` entries are skipped), float64."""
    import torch

    flat = {k: v.to(torch.float64) for k, v in tensors.items() if v is not None}
    save_tensors(path, flat, model_metadata(KERNEL_FAMILY, contract))


def dynamics_section(
    dyn: Dynamics,
    y_tr: torch.Tensor,
    y_te: torch.Tensor | None,
    eigvals: torch.Tensor,
    lr: float,
    steps: int,
) -> dict[str, Any]:
    """The report's ``dynamics`` section: the network's GD run against the NTK's prediction
    (losses, gaps, and per eigen-direction the predicted and measured decay rates)."""
    rec = dyn.record
    out: dict[str, Any] = {
        "steps": rec.steps[-1],
        "requested_steps": steps,
        "lr": lr,
        "loss_convention": LOSS_CONVENTION,
        "record_steps": rec.steps,
        "target_signal": 0,
    }
    out["train_mse_curve_network"] = ((rec.train - y_tr) ** 2).mean(-1).tolist()
    out["train_mse_curve_ntk"] = ((dyn.ntk_train - y_tr) ** 2).mean(-1).tolist()
    out["rel_gap_train"] = rel_gap(rec.train, dyn.ntk_train)
    out["max_rel_gap_train"] = max(out["rel_gap_train"])
    out["train_mse_network"] = out["train_mse_curve_network"][-1]
    out["train_mse_ntk"] = out["train_mse_curve_ntk"][-1]
    if rec.test is not None and dyn.ntk_test is not None and y_te is not None:
        out["test_mse_curve_network"] = ((rec.test - y_te) ** 2).mean(-1).tolist()
        out["test_mse_curve_ntk"] = ((dyn.ntk_test - y_te) ** 2).mean(-1).tolist()
        out["rel_gap_test"] = rel_gap(rec.test, dyn.ntk_test)
        out["max_rel_gap_test"] = max(out["rel_gap_test"])
        out["test_mse_network"] = out["test_mse_curve_network"][-1]
        out["test_mse_ntk"] = out["test_mse_curve_ntk"][-1]
    else:
        out["test_mse_network"] = out["train_mse_network"]
        out["test_mse_ntk"] = out["train_mse_ntk"]
    cont, disc = predicted_rates(eigvals, lr)
    meas_net = decay_rates(dyn.residual_net, rec.steps)
    meas_ntk = decay_rates(dyn.residual_ntk, rec.steps)
    out["eigen_rates"] = [
        {
            "i": i + 1,
            "eigval": float(eigvals[i]),
            "rate_lr_lambda": cont[i],
            "rate_discrete": disc[i],
            "measured_network": meas_net[i],
            "measured_ntk": meas_ntk[i],
        }
        for i in range(eigvals.numel())
    ]
    return out
