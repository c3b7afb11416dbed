#!/usr/bin/env python3
"""Runs one tests/python/test_*.py file with pytest for CTest: exit 0 pass, 1 fail, 77 skip
(pytest, numpy or the built libmilnce.so missing, the reason printed)."""
import os
import sys


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(77)


try:
    import numpy  # noqa: F401
    import pytest
except ImportError as e:
    skip(f"{e} (Debian: apt-get install python3-pytest python3-numpy; scripts/setup.sh does)")
lib = os.environ.get("MILNCE_LIBRARY")
if not lib or not os.path.exists(lib):
    skip(f"MILNCE_LIBRARY={lib!r}: the shared library is not built (run through ctest)")
rc = pytest.main([sys.argv[1], "-q", "-p", "no:cacheprovider", "-rs"] + sys.argv[2:])
# 5 = nothing collected: a broken test file, not a pass.
sys.exit(0 if rc == 0 else 1)
