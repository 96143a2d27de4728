"""The Python binding installs with pip from the source tree (offline,
setuptools from the system) and the installed package imports and works."""
import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOURCE = os.path.join(ROOT, "bindings", "python")

CHECK = """
import sys
import numpy as np
import mudsc
assert mudsc.__file__.startswith(sys.argv[1]), mudsc.__file__
m = mudsc.Model.from_numpy({"x": np.arange(4.0)})
assert m.info("x").data == m["x"].ctypes.data
g = mudsc.Graph.vit(12, 1, 3, 24)
assert g.point("blocks.0.attn").site == "blocks.0.attn.proj:input"
print(mudsc.version())
"""


def pip_setup(tmp_path):
    """A copy of the package source to build and the environment of the runs;
    skips without pip.  pip and setuptools write build/ and *.egg-info into
    the folder they build, and the source tree must stay clean."""
    if importlib.util.find_spec("pip") is None:
        pytest.skip(f"pip is not installed for {sys.executable} (Debian package python3-pip)")
    src = tmp_path / "src"
    shutil.copytree(SOURCE, src, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                               "__pycache__"))
    env = dict(os.environ, PYTHONNOUSERSITE="1", PIP_NO_INPUT="1")
    env.pop("PYTHONPATH", None)
    if "MUDSC_LIBRARY" in env:  # the runs below change folder
        env["MUDSC_LIBRARY"] = os.path.abspath(env["MUDSC_LIBRARY"])
    return src, env


def test_pip_install_into_a_target_folder(tmp_path):
    src, env = pip_setup(tmp_path)
    target = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-index",
         "--no-deps", "--no-cache-dir", "--disable-pip-version-check", "--target", str(target),
         str(src)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for module in ("__init__", "_lib", "_handle", "errors", "model", "graph", "accum", "matcher",
                   "merge", "runtime", "torch"):
        assert (target / "mudsc" / f"{module}.py").is_file(), module
    assert list(target.glob("mudsc-0.2.0.dist-info"))
    env["PYTHONPATH"] = str(target)
    run = subprocess.run([sys.executable, "-c", CHECK, str(target)], capture_output=True,
                         text=True, env=env, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() == "0.2.0"


def test_pip_install_into_a_venv_with_system_site_packages(tmp_path):
    """The README's line for pip, refused system-wide by Debian's python
    (PEP 668, externally-managed-environment): a venv that sees the system's
    packages (numpy, pip, setuptools; --without-pip needs no ensurepip)."""
    src, env = pip_setup(tmp_path)
    venv = tmp_path / "venv"
    made = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages",
                           "--without-pip", str(venv)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert made.returncode == 0, made.stdout + made.stderr
    python = str(venv / "bin" / "python")
    proc = subprocess.run(
        [python, "-m", "pip", "install", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--no-cache-dir", "./src"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = subprocess.run([python, "-c", CHECK, str(venv)], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
