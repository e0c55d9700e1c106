"""certifi's ``where()`` and ``contents()``, built from the operating system's
trust store, with Mozilla's roots compiled in as the fallback."""

import os
from typing import Any, Dict

from . import _native

__all__ = ["contents", "info", "refresh", "where"]
__version__: str = _native.__version__

# Mozilla's set as released; served only when no cache folder can be written.
_PACKAGED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cacert.pem")


def where() -> str:
    """The absolute path of a complete PEM bundle for the current settings."""
    try:
        return _native.where(_PACKAGED)
    except Exception:  # never raise: requests calls this at import
        return _PACKAGED


def contents() -> str:
    """The text of the bundle that ``where()`` names."""
    with open(where(), encoding="ascii") as bundle:
        return bundle.read()


def refresh() -> None:
    """Re-read the trust store now and rewrite the bundle if it changed."""
    _native.refresh(_PACKAGED)


def info() -> Dict[str, Any]:
    """What the bundle holds, where each root came from, what was left out and why."""
    return _native.info(_PACKAGED)


# `check` lives in _check, imported on use: `import certifi_native` stays lean.
from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from ._check import Report

__all__ += ["check"]


def check(url: str, timeout: float = 10.0) -> "Report":
    """Why ``url``'s certificate does or does not verify, per CA bundle (see docs/check.md).
    Raises ``certifi_native._check.CheckError`` when no TLS connection can be made."""
    from ._check import check as run_check

    return run_check(url, timeout)
