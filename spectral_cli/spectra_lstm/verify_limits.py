"""How much memory a ``spectral verify-lstm`` run needs, checked before anything is allocated.

A construction for window ``T`` has ``H = 3T - 1`` hidden units and a ``weight_hh`` of ``4H x H``
entries, built in float64 and then cast (and copied to the device): about ``2 * 8 * 4 H^2``
bytes, plus the ``T x T`` DFT tables. A generated test signal of ``N`` samples costs about
:data:`BYTES_PER_SAMPLE` bytes per sample over the run (the signal, its FFT reference, the
LSTM's spectra and errors). Both are refused above :data:`MAX_BYTES` (2 GiB) with one line that
says the estimate, the limit and the largest window that fits, instead of reaching the allocator
(the construction of ``--window 100000`` would need ~6 TB). The budget is the project's one size
rule, :data:`spectral_cli.core.limits.MAX_ELEMENTS` numbers, counted here in float64 bytes
because the construction is built in float64; it reads no free-memory figure, so its verdict is
the same on every machine.
"""

from __future__ import annotations

from spectral_cli.core.errors import BadInput
from spectral_cli.core.limits import MAX_ELEMENTS

MAX_BYTES = MAX_ELEMENTS * 8  # the core budget in float64 bytes (2 GiB)
BYTES_PER_SAMPLE = 64  # signal, FFT (complex), reference and LSTM spectra per sample, float64


def construction_bytes(window: int) -> int:
    """Estimated bytes to build the construction of window ``window`` (float64 + cast copy)."""
    H = 3 * window - 1
    return 8 * (2 * 4 * H * H + 3 * window * window)


def max_window(limit: int = MAX_BYTES) -> int:
    """The largest window whose construction fits in ``limit`` bytes."""
    lo, hi = 2, 1 << 20
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if construction_bytes(mid) <= limit else (lo, mid - 1)
    return lo


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB"


def check_construction(window: int) -> None:
    """Refuse a window whose construction would exceed :data:`MAX_BYTES` (BadInput, exit 2)."""
    need = construction_bytes(window)
    if need > MAX_BYTES:
        raise BadInput(
            f"--window {window} needs about {_gib(need)} for the construction (weight_hh is "
            f"4H x H with H = 3T-1); verify-lstm allows {_gib(MAX_BYTES)}: use --window "
            f"{max_window()} or less"
        )


def check_signal_size(windows: int, window: int) -> None:
    """Refuse a generated signal of ``windows x window`` samples above :data:`MAX_BYTES`."""
    need = windows * window * BYTES_PER_SAMPLE
    if need > MAX_BYTES:
        most = MAX_BYTES // (window * BYTES_PER_SAMPLE)
        raise BadInput(
            f"--windows {windows} of T={window} samples needs about {_gib(need)}; "
            f"verify-lstm allows {_gib(MAX_BYTES)}: use --windows {most} or less"
        )
