"""The documented install (README "From Python / PyTorch"): pip install --no-build-isolation
--no-index of python/ into a fresh venv (Debian's setuptools, offline) bundles libmilnce.so, and
the README's Python example then runs there as written, from another folder, with neither
PYTHONPATH nor MILNCE_LIBRARY set."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import BIN, SRC, run

pytest.importorskip("torch")


def readme_example():
    text = open(os.path.join(SRC, "README.md"), encoding="utf-8").read()
    sec = text.split("## From Python / PyTorch", 1)[1]
    return re.search(r"```python\n(.*?)```", sec, re.S).group(1)


def test_pip_install_and_readme_example(corpus, small_config, tmp_path):
    try:
        import venv  # noqa: F401
        import ensurepip  # noqa: F401
    except ImportError as e:
        pytest.skip(f"python3-venv missing ({e})")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MILNCE_LIBRARY")}
    src = tmp_path / "python"
    shutil.copytree(os.path.join(SRC, "python"), src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    venv_dir = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--system-site-packages", venv_dir, env=env)
    pip_env = dict(env, MILNCE_LIBRARY=os.environ["MILNCE_LIBRARY"])  # bundled at build time
    run(venv_dir / "bin" / "pip", "install", "--no-build-isolation", "--no-index", src, env=pip_env, cwd=tmp_path)

    ckpt = tmp_path / "run"
    run(BIN, "train", "--config", small_config, "--set", f"data.shards={corpus['shards']}", "--set",
        f"train.out_dir={ckpt}", "--set", "train.max_steps=1", "--set", "data.size=48")
    code = readme_example()
    code, n = re.subn(r'^shards, checkpoint = .*$', f"shards, checkpoint = {corpus['shards']!r}, {str(ckpt)!r}",
                      code, flags=re.M)
    assert n == 1, "the README example no longer names `shards, checkpoint`"
    assert len(code.strip().splitlines()) <= 12
    work = tmp_path / "elsewhere"
    work.mkdir()
    r = subprocess.run([str(venv_dir / "bin" / "python"), "-c", code], cwd=work, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout.splitlines()
    assert out[-2] == "(1, 16)" and out[-1] == "(8, 16)", r.stdout
    r = subprocess.run([str(venv_dir / "bin" / "python"), "-c", "import milnce._lib as l; print(l.path)"],
                       cwd=work, env=env, capture_output=True, text=True)
    assert "site-packages/milnce/libmilnce.so" in r.stdout, r.stdout + r.stderr
