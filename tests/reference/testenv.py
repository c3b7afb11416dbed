"""What the reference scripts need from their environment, said in one place.

need("numpy", "torch") before importing them: a module that is missing means the script cannot run
here, which it reports as a CTest skip (exit 77, SKIP_RETURN_CODE) naming the Debian package; under
CI=true, where scripts/setup.sh installed everything, it is a failure instead. data_dir() is the
folder of the real test files (tests/data, or MILNCE_TESTDATA)."""
import importlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def skip(reason, hardware=False):
    if not hardware and os.environ.get("CI") == "true":
        print("FAIL (CI=true: every tool is installed there): cannot run: " + reason, flush=True)
        sys.exit(1)
    print("SKIP: " + reason, flush=True)
    sys.exit(77)


def need(*modules):
    for m in modules:
        try:
            importlib.import_module(m)
        except ImportError as e:
            skip("%s cannot import %s (%s; Debian package python3-%s, scripts/setup.sh installs it)"
                 % (sys.executable, m, e, m))


def data_dir():
    return os.environ.get("MILNCE_TESTDATA") or os.path.join(HERE, "..", "data")
