"""Sphinx configuration for the imgops documentation.

Build (warnings are errors)::

    sphinx-build -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
try:  # the installed package (pip install . or -e .), with its command line
    import imgops.cli.main  # noqa: F401
except ImportError:  # a bare checkout: imgops from here, cli/ as imgops.cli
    sys.path.insert(0, str(HERE.parent))
    import imgops

    imgops.__path__.append(str(HERE.parent))

import imgops  # noqa: E402

project = "imgops"
author = "the imgops developers"
copyright = "the imgops developers"
version = release = imgops.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_click",
    "imgops_docs",  # docs/_ext/imgops_docs.py: the border-mode diagram, from the code
]

exclude_patterns = ["_build", "gallery"]
templates_path: list[str] = []

# Large-image (Dask) page: written separately; listed only when it exists.
HAS_LARGE_IMAGES = (HERE / "large_images.rst").exists()
rst_prolog = ""

# ---------------------------------------------------------------- autodoc / numpydoc
autodoc_typehints = "none"  # the numpydoc "Parameters" sections carry the types
autodoc_default_options = {"members": False}
autosummary_generate = False  # the API pages are written by hand (no generated stubs)
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# --------------------------------------------------------------------- intersphinx
# Off by default so that the build needs no network; IMGOPS_DOCS_INTERSPHINX=1 turns
# the links to NumPy, SciPy and scikit-image on.
intersphinx_mapping = {}
if os.environ.get("IMGOPS_DOCS_INTERSPHINX"):
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "scipy": ("https://docs.scipy.org/doc/scipy", None),
        "skimage": ("https://scikit-image.org/docs/stable", None),
    }

# ---------------------------------------------------------------------------- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"imgops {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_align": "left",
    "header_links_before_dropdown": 8,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"**": ["sidebar-nav-bs"]}
html_show_sourcelink = False
html_last_updated_fmt = None
