"""Where zclab's project files are: the one table of paths every module uses.

The package runs from anywhere (``pip install .``: simulate, sweep, params, the
API). The notebooks, the study, its findings and the published record live in the
source checkout beside the package; :func:`checkout` returns its root, or says that
zclab is not running from one.

    >>> PROJECT_ROOT.joinpath("zclab") == PACKAGE_DIR
    True
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
#: The source checkout's root, when zclab runs from one (an editable install)
PROJECT_ROOT = PACKAGE_DIR.parent
DATA_DIR = PROJECT_ROOT / "data"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
RUNS_DIR = PROJECT_ROOT / "runs"
FIGURES_DIR = PROJECT_ROOT / "figures"
DOCS_DIR = PROJECT_ROOT / "docs"


class NotACheckout(RuntimeError):
    """What was asked needs zclab's source checkout, and zclab is installed without one."""


def in_checkout() -> bool:
    """Whether zclab runs from its source checkout (the notebooks beside the package)."""
    return (PROJECT_ROOT / "pyproject.toml").is_file() and NOTEBOOKS_DIR.is_dir()


def checkout(what: str) -> Path:
    """The checkout's root, or NotACheckout saying that ``what`` needs one."""
    if not in_checkout():
        raise NotACheckout(f"{what} needs zclab's source checkout (git clone it, then "
                           f"pip install -e \".[dev]\" there): this zclab is installed in {PACKAGE_DIR.parent}")
    return PROJECT_ROOT
