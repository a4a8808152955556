"""Small Sphinx helpers for the imgops docs.

``.. imgops-border-modes::``
    The border-mode diagram (``d c b a | a b c d | d c b a`` ...), taken from the one
    text the docstrings use for their ``mode`` parameter, so the two never drift apart.

The ``--help`` texts of the command line are plain text, not reStructuredText: before
sphinx-click renders a command's description, ``*`` and ``|`` (as in
``|response| / gain``, ``4*sqrt(2)``) are escaped so they print as written.

The toctree entry ``large_images`` of ``index.rst`` is dropped while
``docs/large_images.rst`` does not exist, so the build stays warning-free either way.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective


def _mode_text() -> str:
    """The shared ``mode`` parameter text of the docstrings."""
    from imgops import filters

    text = getattr(filters, "_MODE_DOC", None)
    if text is None:
        from imgops import _core

        text = _core.MODE_DOC
    return text


def mode_diagram() -> str:
    """The indented block after ``::`` in the shared ``mode`` text, dedented."""
    text = _mode_text()
    if "::" not in text:
        raise ValueError("the shared mode text has no '::' diagram")
    block = text.split("::", 1)[1]
    lines = [ln for ln in block.splitlines() if ln.strip()]
    return textwrap.dedent("\n".join(lines))


class BorderModes(SphinxDirective):
    has_content = False

    def run(self):
        diagram = mode_diagram()
        node = nodes.literal_block(diagram, diagram)
        node["language"] = "none"
        return [node]


def _drop_missing_pages(app, docname, source):
    if docname != "index":
        return
    if not (Path(app.srcdir) / "large_images.rst").exists():
        source[0] = "\n".join(ln for ln in source[0].splitlines()
                              if ln.strip() != "large_images") + "\n"


def _escape_help(app, ctx, lines):
    """Make a plain-text ``--help`` description print literally in reStructuredText."""
    for i, line in enumerate(lines):
        if line.startswith("| "):  # a Click "\\b" paragraph, already a line block
            continue
        lines[i] = line.replace("\\", "\\\\").replace("*", "\\*").replace("|", "\\|")


def setup(app):
    app.setup_extension("sphinx_click")
    app.connect("sphinx-click-process-description", _escape_help)
    app.add_directive("imgops-border-modes", BorderModes)
    app.connect("source-read", _drop_missing_pages)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
