"""The 8x8 handwritten digits (UCI "Optical Recognition of Handwritten Digits", test part).

``digits.csv.gz`` next to this module is byte-for-byte the file scikit-learn ships as
``sklearn/datasets/data/digits.csv.gz`` (scikit-learn 1.9.1, BSD-3-Clause; data by E. Alpaydin and
C. Kaynak, UCI ML repository, CC BY 4.0): 1,797 rows of 64 pixel counts in 0..16 followed by the
label 0..9. We bundle the 57 KB file instead of depending on scikit-learn (a ~10 MB install) for
one table; it is validated (SHA-256, shape, value ranges) on every load.

There is no official train/test split: we hold out a fixed, stratification-free 20 % test split
(360 images) drawn with seed 0, independent of the run seed and of ``data.split_seed``.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import cache
from pathlib import Path

import numpy as np

from spectral_cli.core.errors import BadInput

DIGITS_FILE = Path(__file__).with_name("digits.csv.gz")
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
N_DIGITS, N_TEST, TEST_SEED = 1797, 360, 0


@cache
def load_digits() -> dict[str, np.ndarray]:
    """``x`` (1437, 64) / ``x_test`` (360, 64) float32 pixel counts and int64 labels."""
    try:
        raw = DIGITS_FILE.read_bytes()
    except OSError as exc:
        raise BadInput(
            f"bundled digits data {DIGITS_FILE} is missing ({exc}); reinstall spectral-cli"
        ) from None
    if hashlib.sha256(raw).hexdigest() != DIGITS_SHA256:
        raise BadInput(
            f"bundled digits data {DIGITS_FILE} is corrupt (SHA-256 mismatch); reinstall"
        )
    table = np.loadtxt(
        gzip.decompress(raw).decode("ascii").splitlines(), delimiter=",", dtype=np.float64
    )
    assert table.shape == (N_DIGITS, 65) and table[:, :64].min() >= 0 and table[:, :64].max() <= 16
    x, y = table[:, :64].astype(np.float32), table[:, 64].astype(np.int64)
    perm = np.random.default_rng(TEST_SEED).permutation(N_DIGITS)
    test, train = np.sort(perm[:N_TEST]), np.sort(perm[N_TEST:])
    return {"x": x[train], "y": y[train], "x_test": x[test], "y_test": y[test]}
