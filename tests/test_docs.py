"""The README and the documentation: the README stays short, keeps the two quick-start
commands, and points only at files the repository holds; the docs build with warnings
as errors."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

QUICK_START = (
    "pip install . && imgops denoise examples/noisy out/",  # checked by running it
    'pip install ".[test]" && pytest -q',  # CI runs exactly this (.ci/run)
)
MAX_LINES = 160

# [text](target): the target up to a space (a title) or the closing parenthesis
_MD_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
# a path into the repository named in prose or a code span: docs/..., imgops/..., ...
_REPO_PATH = re.compile(r"^(?:docs|imgops|cli|tests|examples|benchmarks|tools|\.ci)/"
                        r"[\w./-]*$")
_BARE_DOCS = re.compile(r"(?<![\w/.-])docs/[\w/.-]+\.(?:rst|py|txt)\b")
_OUTPUTS = ("docs/_build",)  # paths the README's commands write, not files it points at


def relative_links(text: str) -> set[str]:
    """The repository paths a Markdown text points at: relative link targets (without
    their #fragment), code spans that are repository paths, and bare ``docs/...``
    file names in the prose."""
    links = set()
    for target in _MD_LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue  # http:, https:, mailto:, or an anchor in the README itself
        links.add(target.split("#", 1)[0])
    for span in _CODE_SPAN.findall(text):
        if _REPO_PATH.match(span):
            links.add(span)
    links.update(_BARE_DOCS.findall(text))
    return {link for link in links if link and not link.startswith(_OUTPUTS)}


def _exists(root: pathlib.Path, link: str) -> bool:
    """A file or folder, or a module named without its suffix (`imgops/_dask`)."""
    return (root / link).exists() or (root / f"{link.rstrip('/')}.py").exists()


def missing(text: str, root: pathlib.Path = ROOT) -> list[str]:
    return sorted(link for link in relative_links(text) if not _exists(root, link))


def test_link_finder_sees_each_kind_of_reference():
    text = ("See [the docs](docs/index.rst#intro), [a site](https://example.org), "
            "[top](#quick-start), `imgops/_cpu/simd.py`, `imgops.gaussian` and "
            "docs/cli.rst; build into `docs/_build/html`.")
    assert relative_links(text) == {"docs/index.rst", "imgops/_cpu/simd.py",
                                    "docs/cli.rst"}
    assert missing("[gone](docs/no_such_page.rst), docs/nor_this.rst, `imgops/_ops`") == [
        "docs/no_such_page.rst", "docs/nor_this.rst"]


def test_readme_links_resolve():
    text = README.read_text(encoding="utf-8")
    links = relative_links(text)
    assert "docs/index.rst" in links and "docs/benchmarks.rst" in links
    assert missing(text) == []


def test_readme_is_short_and_keeps_the_quick_start_commands():
    text = README.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) < MAX_LINES, f"README.md has {len(lines)} lines"
    fenced = re.findall(r"```bash\n(.*?)```", text, re.S)
    commands = {line.strip() for block in fenced for line in block.splitlines()}
    for command in QUICK_START:
        assert command in commands, command


def test_docs_build_with_warnings_as_errors(tmp_path):
    for module in ("sphinx", "numpydoc", "sphinx_click", "pydata_sphinx_theme"):
        pytest.importorskip(module)
    r = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q",
                        "-b", "html", str(ROOT / "docs"), str(tmp_path / "html")],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert (tmp_path / "html" / "design.html").exists()
    assert (tmp_path / "html" / "benchmarks.html").exists()
