"""certifi's ``where()`` and ``contents()``, built from the operating system's
trust store, with Mozilla's roots compiled in as the fallback."""

import os

# Start-up (the activation hook, see _activate.py) imports this package, so
# importing it must stay cheap: no typing (nor __future__) at run time, so
# annotations naming its types are strings, and the native module loads on first use.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from typing import Any, Dict

    from . import _native
    from ._check import Report

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


__all__ = ["capath", "check", "contents", "info", "refresh", "ssl_context", "where"]

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


def info() -> "Dict[str, Any]":
    """What the bundle holds, where each root came from, what was left out and why."""
    report = _native.info(_PACKAGED)
    from . import _activate

    report["activation"] = _activate.status()
    if os.environ.get(_activate.CAPATH, "").strip().lower() in _activate.ON:
        report["notes"].append(_CAPATH_DEPRECATED)
    return report


_CAPATH_DEPRECATED = (
    "CERTIFI_NATIVE_CAPATH=1 is deprecated and goes in the next release: it puts a folder in "
    "REQUESTS_CA_BUNDLE, which tools that expect a file (botocore) cannot load. Without it, "
    "contexts that load the bundle file get the hashed folder anyway (docs/capath.md)."
)


def capath() -> str:
    """The absolute path of a folder in OpenSSL's hashed layout (``c_rehash``,
    ``openssl rehash``) holding exactly the roots of ``where()``, one PEM file
    each, named by subject hash. OpenSSL reads from it only the roots a chain
    needs, so a context made from it costs far less than one made from the
    bundle: ``requests.get(url, verify=capath())``. Where activation ran, a
    context told to load ``where()``'s file gets this folder anyway (the
    redirect, docs/capath.md); this is for processes without it.

    Never raises: where no folder can be built, this is ``where()``'s file."""
    try:
        return _native.capath(_PACKAGED)
    except Exception:
        return where()


def ssl_context() -> "ssl.SSLContext":
    """A new client ``ssl.SSLContext`` (``ssl.create_default_context``) that
    trusts the roots of ``where()``, loaded lazily from ``capath()``: cheap to
    make, for httpx, aiohttp, urllib and websockets (where activation ran,
    ``ssl.create_default_context(cafile=where())`` is as cheap: docs/capath.md)."""
    import ssl  # here, so that importing certifi_native stays cheap

    path = capath()
    if os.path.isdir(path):
        return ssl.create_default_context(capath=path)
    return ssl.create_default_context(cafile=path)


def check(url: str, timeout: float = 10.0) -> "Report":
    """Why ``url``'s certificate does or does not verify, per CA bundle (see docs/check.md).
    Raises ``certifi_native._check.CheckError`` when no TLS connection can be made."""
    from ._check import check as run_check  # on use: `import certifi_native` stays lean

    return run_check(url, timeout)
