"""The repository's structure: the import rule, no cycles, no private names across
modules, the documentation builds, and nothing points at documents it does not hold."""

from __future__ import annotations

import ast
import pathlib
import shutil
import subprocess
import sys

import pytest

import imgops
from imgops import _ops

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "imgops"


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts)
        yield name.removesuffix(".__init__"), path


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def test_import_rule_holds():
    """The layers, forbidden and independence contracts in pyproject.toml."""
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed")
    r = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def test_no_import_cycles_counting_imports_inside_functions():
    graph = {}
    for name, path in _modules():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
                if base.startswith("imgops"):
                    for a in node.names:  # a submodule, else a name of the module itself
                        sub = f"{base}.{a.name}"
                        deps.add(sub if _is_module(sub) else base)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("imgops"))
        graph[name] = deps
    known = set(graph)
    graph = {m: {d for d in deps if d in known and d != m} for m, deps in graph.items()}
    state, stack = {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for d in graph[m]:
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(d):]
                                                                     + [d]))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m)


def test_no_private_name_is_imported_across_modules():
    bad = []
    for name, path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (
                    node.module or "").startswith("imgops")):
                bad += [f"{name}: from {'.' * node.level}{node.module or ''} import {a.name}"
                        for a in node.names
                        if a.name.startswith("_") and not a.name.startswith("__")
                        and not _is_private_module(node, a.name)]
    assert not bad, bad


def _is_private_module(node, alias: str) -> bool:
    """``from . import _cpu``: importing a private module is how packages are layered."""
    return node.module is None or (PACKAGE / alias).exists() or (PACKAGE / f"{alias}.py"
                                                                 ).exists()


def test_nothing_names_documents_the_repository_does_not_hold():
    out = subprocess.run(["git", "grep", "-l", "-e", "SPEC" + ".md", "-e", "../" + "shared",
                          "--", "."], cwd=ROOT, capture_output=True, text=True)
    if out.returncode not in (0, 1):
        pytest.skip("not a git checkout")
    assert out.stdout == ""


def test_every_public_operation_has_a_record_or_composes_records():
    # backends and bilinear_kernel compute no image; the noise model's estimator is
    # host-side NumPy (no kernels to dispatch: NumPy arrays only, for now)
    public = {n for n in imgops.__all__ if callable(getattr(imgops, n)) and n not in {
        "backends", "bilinear_kernel", "estimate_noise_model", "NoiseModel"}}
    records = set(_ops.OPS) | set(_ops.COMPOSITES)
    assert public <= records, public - records
    for name in imgops.nn.__all__:
        assert f"nn.{name}" in _ops.OPS
    for op in _ops.OPS.values():
        assert op.cpu is not None and op.reference


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    r = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b",
                        "html", str(ROOT / "docs"), str(tmp_path / "html")],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
