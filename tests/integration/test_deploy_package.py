"""A non-editable install (the container's `pip install .`) carries every file the code reads:
migrations, reference data, the big screen's static files, whatever their names."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "services", "deploy")
# Files for building and running containers, not read by the code at run time.
NOT_SHIPPED = ("deploy/Dockerfile", "deploy/docker/", "deploy/prometheus/")


def source_files() -> list[str]:
    """The project's files in the package folders, tracked or new, minus what git ignores."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *PACKAGES],
        cwd=ROOT, capture_output=True, text=True,
    )
    if listed.returncode == 0 and listed.stdout.strip():
        names = listed.stdout.splitlines()
    else:  # not a git checkout (e.g. an unpacked sdist)
        names = [str(p.relative_to(ROOT)) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*") if p.is_file()]
    return sorted(n for n in names if (ROOT / n).is_file() and "__pycache__" not in n and not n.endswith(".pyc"))


def test_build_carries_every_data_file_of_the_packages(tmp_path):
    src, out = tmp_path / "src", tmp_path / "build"
    files = source_files()
    for name in [*files, "pyproject.toml", "README.md"]:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    # build_py is the step of `pip install .` / `pip wheel .` that decides which files go in.
    built = subprocess.run(
        [sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py", "--build-lib", str(out)],
        cwd=src, capture_output=True, text=True, timeout=120,
    )
    assert built.returncode == 0, built.stderr
    shipped = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    data = [n for n in files if not n.endswith(".py")]
    assert any(n.endswith(".sql") for n in data) and any(n.startswith("shared/data/") for n in data)
    assert any("/screen/static/" in n for n in data)
    missing = [n for n in files if n not in shipped and not n.startswith(NOT_SHIPPED)]
    assert not missing, f"`pip install .` would leave out: {missing}"
