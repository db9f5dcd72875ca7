"""Neural tangent kernels (``spectral ntk`` core): one import point for the CLI and scripts.

* empirical kernels: :mod:`spectral_cli.ntk.empirical`
* analytic infinite-width ReLU NTK/NNGP: :mod:`spectral_cli.ntk.analytic`
* float64 kernel algebra (eigh, regularized solve, regression, GD dynamics):
  :mod:`spectral_cli.ntk.linalg`
"""

from __future__ import annotations

from spectral_cli.ntk.analytic import (
    AnalyticKernels,
    analytic_relu_kernels,
    analytic_relu_ntk,
)
from spectral_cli.ntk.empirical import (
    empirical_ntk,
    ntk_autograd_loop,
    ntk_jacrev,
    ntk_structured,
)
from spectral_cli.ntk.linalg import (
    DEFAULT_DIAG_REG,
    DEFAULT_MAX_COND,
    DynamicsPrediction,
    KernelEigen,
    NearSingularKernelWarning,
    choose_ridge,
    gd_dynamics,
    kernel_eigh,
    kernel_solve,
    ntk_regression,
    residual_in_eigenbasis,
)

__all__ = [
    "DEFAULT_DIAG_REG",
    "DEFAULT_MAX_COND",
    "AnalyticKernels",
    "DynamicsPrediction",
    "KernelEigen",
    "NearSingularKernelWarning",
    "analytic_relu_kernels",
    "analytic_relu_ntk",
    "choose_ridge",
    "empirical_ntk",
    "gd_dynamics",
    "kernel_eigh",
    "kernel_solve",
    "ntk_autograd_loop",
    "ntk_jacrev",
    "ntk_regression",
    "ntk_structured",
    "residual_in_eigenbasis",
]
