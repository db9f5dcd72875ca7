"""The documentation: docs/cli.md is what Typer generates from the app, and no link is broken."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _generator():
    path = DOCS / "make_cli_reference.py"
    spec = importlib.util.spec_from_file_location("make_cli_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_up_to_date(tmp_path: Path) -> None:
    generator = _generator()
    import typer

    if typer.__version__ != generator.TYPER_VERSION:
        pytest.skip(
            f"docs/cli.md was generated with typer {generator.TYPER_VERSION}, this is "
            f"{typer.__version__}; regenerate with: {generator.COMMAND}"
        )
    fresh = tmp_path / "cli.md"
    generator.generate(fresh)
    committed = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert fresh.read_text(encoding="utf-8") == committed, (
        f"docs/cli.md is out of date with the app; regenerate it with: {generator.COMMAND}"
    )


_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _targets(text: str) -> list[str]:
    """Relative link and image targets of Markdown text, without #anchors; code is skipped."""
    text = _INLINE_CODE.sub("", _FENCE.sub("", text))
    links = []
    for target in _LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("#"):
            continue  # http:, https:, mailto: ... and anchors within the page
        links.append(target.split("#", 1)[0])
    return links


def _relative_links(page: Path) -> list[str]:
    return _targets(page.read_text(encoding="utf-8"))


PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_relative_links_point_to_existing_files(page: Path) -> None:
    broken = []
    for link in _relative_links(page):
        target = (page.parent / link).resolve()
        if not target.exists():
            broken.append(link)
    assert not broken, f"{page.relative_to(ROOT)} links to missing files: {broken}"


def test_link_checker_sees_links() -> None:
    # the checker itself: relative links and images are found, code, URLs and anchors are not
    assert "docs/cli.md" in _relative_links(ROOT / "README.md")
    sample = "see [a](x/y.md#part) and ![b](c.png) `[c](no.md)` [d](https://e.org) [f](#g)\n"
    sample += "```\n[h](in-a-fence.md)\n```\n"
    assert _targets(sample) == ["x/y.md", "c.png"]
