"""Builds the milnce Python package (pyproject.toml holds the metadata).

Offline on Debian: `python3 -m pip install --no-build-isolation ./python` (Debian's setuptools,
no download). libmilnce.so is bundled into the package when found at build time: the path in
MILNCE_LIBRARY, else ../build/libmilnce.so (an in-tree build); without it the package looks for
the library at run time (MILNCE_LIBRARY, ldconfig: see milnce/_lib.py)."""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def library():
    for p in (os.environ.get("MILNCE_LIBRARY"), os.path.join(HERE, "..", "build", "libmilnce.so")):
        if p and os.path.exists(p):
            return os.path.realpath(p)
    return None


class BuildPy(build_py):
    def run(self):
        super().run()
        lib = library()
        if lib:
            dst = os.path.join(self.build_lib, "milnce", "libmilnce.so")
            shutil.copyfile(lib, dst)
            print(f"milnce: bundled {lib}")
        else:
            print("milnce: no libmilnce.so found to bundle; the package will look for it at run time")


setup(cmdclass={"build_py": BuildPy})
