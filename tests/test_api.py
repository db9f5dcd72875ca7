"""The public Python API: lazy (no torch on ``import spectral_cli``) and documented by example."""

from __future__ import annotations

import doctest
import subprocess
import sys

import pytest

import spectral_cli

API = [
    "HarmonicEmbedding",
    "HarmonicLayer",
    "NTKMLP",
    "empirical_ntk",
    "analytic_ntk",
    "harmony_scores",
]


def test_import_is_lazy_and_every_name_resolves() -> None:
    code = (
        "import sys, spectral_cli\n"
        "assert 'torch' not in sys.modules, 'import spectral_cli imported torch'\n"
        f"names = {API!r}\n"
        "assert set(names) <= set(dir(spectral_cli)) and set(names) <= set(spectral_cli.__all__)\n"
        "from spectral_cli import " + ", ".join(API) + "\n"
        "assert 'torch' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'bogus'"):
        spectral_cli.bogus  # noqa: B018


@pytest.mark.parametrize("name", API)
def test_docstring_example_runs(name: str) -> None:
    obj = getattr(spectral_cli, name)
    tests = doctest.DocTestFinder(recurse=False).find(obj, name, globs={})
    examples = sum(len(t.examples) for t in tests)
    assert examples >= 2, f"{name} has no docstring example"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for t in tests:
        runner.run(t)
    assert runner.summarize(verbose=False).failed == 0
