"""`python -m deploy.simulator` is `qm simulate` (how `qm run --demo` starts it in the background)."""
import sys

from deploy.cli import app

if __name__ == "__main__":
    app(["simulate", *sys.argv[1:]])
