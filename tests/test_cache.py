"""The on-disk kernel cache when imgops is installed where nobody may write (a system or
container install): Numba then caches in the user's cache folder, and a second process
loads what the first compiled."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import imgops

# Run in a fresh process: count the compilations, then report the cache's place. As root
# permissions do not stop writes, so the in-tree location's write test is made to fail
# for the read-only copy, as it fails for anyone else.
CHILD = r"""
import json, os, sys, time
from numba.core import caching, event
ro = os.environ["RO_ROOT"]
if os.geteuid() == 0:
    def ensure(self, _orig=caching.InTreeCacheLocator.ensure_cache_path):
        if self.get_cache_path().startswith(ro):
            raise PermissionError(13, "read-only install", self.get_cache_path())
        return _orig(self)
    caching.InTreeCacheLocator.ensure_cache_path = ensure
compiled = []
class Count(event.Listener):
    def on_start(self, ev):
        compiled.append(ev.data["dispatcher"].py_func.__qualname__)
    def on_end(self, ev):
        pass
event.register("numba:compile", Count())
import numpy as np
import imgops
assert imgops.__file__.startswith(ro), imgops.__file__
imgops.gaussian(np.arange(64, dtype=np.float32).reshape(8, 8), 1.0)
from imgops._cpu import cache
print(json.dumps({"compiled": compiled, "status": cache.status()}))
"""


def _child(env, cwd):
    r = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                       text=True, timeout=600, cwd=cwd)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_cache_works_from_a_read_only_install(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(Path(imgops.__file__).parent, site / "imgops",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for p in [site, *site.rglob("*")]:  # read-only, folders included
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    xdg = tmp_path / "xdg"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(PYTHONPATH=str(site), XDG_CACHE_HOME=str(xdg), RO_ROOT=str(site),
               PYTHONDONTWRITEBYTECODE="1")
    try:
        first = _child(env, tmp_path)  # not the checkout's folder: the copy is imported
        second = _child(env, tmp_path)
    finally:
        for p in [site, *site.rglob("*")]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    assert first["compiled"], "the first process compiles"
    where = first["status"]["dir"]
    assert where.startswith(str(xdg / "numba")), where  # the user's cache folder
    assert not list(site.rglob("*.nbi")), "nothing written into the install"
    assert first["status"]["kernels"] > 0
    assert second["compiled"] == [], second["compiled"]  # loaded, not compiled
    assert second["status"] == first["status"]
