"""certifi's ``where()`` and ``contents()``, built from the operating system's
trust store, with Mozilla's roots compiled in as the fallback."""

from __future__ import annotations

import os

# Start-up (the activation hook, see _activate.py) imports this package, so
# importing it must stay cheap: no typing at run time, and the native module
# loaded on first use only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict

    from . import _native

    __version__: str
else:

    class _NativeOnDemand:
        """Stands in for ``_native`` until first used; importing the submodule
        then rebinds the package attribute ``_native`` to the real module."""

        def __getattr__(self, name: str) -> object:
            import importlib  # not `from . import`: it would find this stand-in

            return getattr(importlib.import_module(f"{__name__}._native"), name)

    _native = _NativeOnDemand()

    def __getattr__(name: str) -> object:
        if name == "__version__":
            return _native.__version__
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["contents", "info", "refresh", "where"]

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
    report = _native.info(_PACKAGED)
    from . import _activate

    report["activation"] = _activate.status()
    return report
