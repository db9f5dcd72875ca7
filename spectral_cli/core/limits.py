"""The one size rule: how many numbers a model, an array or an input may hold.

Every command checks sizes that come from a config, a checkpoint's metadata or a file header
against :data:`MAX_ELEMENTS` *before* it allocates anything, so a setting like
``model.n_layers=100000``, a checkpoint whose ``spectral.config`` claims a million layers or a
7 MB ``.npz`` that decompresses to 10^9 zeros ends as one ``error:`` line with exit 2, not as a
minutes-long allocation, an out-of-memory kill or a ``MemoryError`` (exit 3).

* :func:`check_elements`: one count (an array from its header, a data set a setting asks for,
  a sweep's length) against the budget, the message naming the setting.
* :func:`model_elements` / :func:`check_model`: a model's parameters and buffers, counted by
  building it on PyTorch's ``meta`` device (shapes only, no memory). A builder that computes with
  tensor values (the spectra-lstm construction) cannot run there; such a family's sizes are
  bounded by its schema alone (``model.window <= 128``) and the count is skipped.

The same budget bounds ``spectral ntk`` (8-byte numbers: :data:`MAX_BYTES`) and is exported for
commands that check a length themselves (``verify-lstm --window``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spectral_cli.core.errors import BadInput

#: the most numbers one model (parameters and buffers), one array or one input may hold:
#: 2^28 = 268,435,456 (1 GiB in float32, 2 GiB in float64); the project's models hold < 10^6
MAX_ELEMENTS = 2**28
#: the same budget in bytes of float64 numbers (what ``spectral ntk`` computes in)
MAX_BYTES = MAX_ELEMENTS * 8
#: the most layers a model may stack (each is a Python object: a million of them take minutes
#: to build even on the meta device, before any count could refuse them)
MAX_LAYERS = 256
#: the most repetitions one setting may ask for (epochs, steps, signals): far beyond any run,
#: small enough that no counter or progress bar overflows
MAX_COUNT = 10**9


def check_elements(count: int, what: str, fix: str) -> None:
    """Refuse ``count`` numbers beyond :data:`MAX_ELEMENTS`: ``what`` says whose numbers (the
    setting or file), ``fix`` how to get under the limit."""
    if count > MAX_ELEMENTS:
        raise BadInput(
            f"{what} would hold {count:,} numbers; the limit is {MAX_ELEMENTS:,} "
            f"(2^28, spectral_cli.core.limits): {fix}"
        )


def check_count(count: int, what: str) -> None:
    """Refuse a repetition count beyond :data:`MAX_COUNT` (``what`` names the setting)."""
    if count > MAX_COUNT:
        raise BadInput(f"{what} is {count:,}; the limit is {MAX_COUNT:,}: choose a smaller value")


def model_elements(build: Callable[[], Any]) -> int | None:
    """Parameters plus buffers of the module ``build()`` makes, counted on the ``meta`` device
    (no memory); ``None`` when the builder needs real tensor values."""
    import torch

    try:  # the CPU generator is forked: counting never changes what a seed draws
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            model = build()
    except (RuntimeError, NotImplementedError):
        return None  # e.g. Tensor.item() on a meta tensor: the builder computes with values
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() for t in tensors)


def check_model(build: Callable[[], Any], what: str, fix: str) -> int | None:
    """Count the model ``build()`` makes on the ``meta`` device and refuse it beyond
    :data:`MAX_ELEMENTS`; returns the count (``None``: not countable, see the module doc)."""
    count = model_elements(build)
    if count is not None:
        check_elements(count, what, fix)
    return count


def check_members(family: Any, cfg: Any, info: Any) -> None:
    """Count every model a run of ``family`` with ``cfg`` builds (``--baseline``/``--compare``
    members too) for data ``info`` and refuse one beyond the budget, before anything is built."""
    for member in family.members(cfg):

        def build(member: Any = member) -> Any:
            return family.build(member.cfg, info)

        check_model(
            build, f"the {member.name} model of these settings", "choose smaller sizes (model.*)"
        )
