"""certifi's ``where()`` and ``contents()``, built from the operating system's
trust store, with Mozilla's roots compiled in as the fallback."""

# Start-up (the activation hook, see _activate.py) imports this package, so
# importing it must stay cheap: no typing (nor __future__) at run time, so
# annotations naming its types are strings, and the native module loads on first use.
# The namespace shows the API alone: ``__dir__`` lists it, helpers are private
# and modules are imported inside the functions that need them.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from typing import Any, Dict, List, Optional

    from . import _native
    from ._check import Report
    from ._check.report import CheckError as CheckError

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
            return _version()
        if name == "CheckError":  # on use: _check imports ssl
            from ._check.report import CheckError

            return CheckError
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


del TYPE_CHECKING

__all__ = ["CheckError", "build", "capath", "check", "contents", "info", "refresh", "ssl_context", "where"]


def __dir__() -> "List[str]":
    return sorted([*__all__, *(name for name in globals() if name.startswith("__")), "__version__"])


def _packaged_path() -> str:
    import os

    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "cacert.pem")


# Mozilla's set as released; served only when no cache folder can be written.
_PACKAGED = _packaged_path()


def _version() -> str:
    """Ours: from the native module, or from the installed metadata when it cannot load."""
    try:
        return _native.__version__
    except ImportError:
        import importlib.metadata

        try:
            return importlib.metadata.version("certifi-native")
        except importlib.metadata.PackageNotFoundError:
            return "unknown"


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


def build(cache_dir: "Optional[str]" = None) -> str:
    """Build the bundle, its stamp, its hashed folder and the start-up record
    for the current settings now, and return the bundle's path: in ``cache_dir``
    alone if given (created, or opened up, readable by all: for a read-only
    container's run-time user), else where ``where()`` would. Raises ``OSError``
    with the reasons when no bundle can be written there (see docs/cache.md)."""
    return _native.build(cache_dir)


def info() -> "Dict[str, Any]":
    """What the bundle holds, where each root came from, what was left out and why."""
    try:
        report = _native.info(_PACKAGED)
    except ImportError as error:  # a broken install: exactly when someone asks
        report = _info_without_native(error)
    import os

    from . import _activate

    report["activation"] = _activate.status()
    auto = report["activation"].get("auto")
    if auto and auto.strip().lower() not in (*_activate.ON, *_activate.OFF, _activate.ENV_ONLY, _activate.CERTIFI_ONLY):
        report["notes"].append(
            f'{_activate.AUTO}="{auto}" is not one of 1, env, certifi, 0; activation acts as with 1'
        )
    if os.environ.get(_activate.CAPATH, "").strip().lower() in _activate.ON:
        report["notes"].append(_CAPATH_DEPRECATED)
    return report


_CAPATH_DEPRECATED = (
    "CERTIFI_NATIVE_CAPATH=1 is deprecated and goes in the next release: it puts a folder in "
    "REQUESTS_CA_BUNDLE, which tools that expect a file (botocore) cannot load. Without it, "
    "contexts that load the bundle file get the hashed folder anyway (docs/capath.md)."
)


def _info_without_native(error: ImportError) -> "Dict[str, Any]":
    """``info()``'s keys when the native module cannot be loaded: what is wrong,
    and what ``where()`` serves meanwhile (the packaged Mozilla file)."""
    import os

    problem = (
        f"the native module certifi_native._native cannot be loaded ({type(error).__name__}: {error}): "
        "where() serves the packaged Mozilla file; reinstall certifi-native from the wheel or sdist "
        "it came from (pip install --force-reinstall FILE)"
    )
    with open(_PACKAGED, encoding="ascii") as packaged:
        roots = packaged.read().count("-----BEGIN CERTIFICATE-----")
    return {
        "version": _version(),
        "mozilla_set_version": "unknown",
        "mode": os.environ.get("CERTIFI_NATIVE_MODE") or "system",
        "roots": roots,
        "mozilla_fallback": True,
        "sources": [],
        "dropped": [],
        "errors": [{"source": "native", "reason": problem}],
        "notes": [],
        "repairs": [],
        "native_module": problem,
        "cache": {
            "path": _PACKAGED,
            "served_from": "packaged",
            "capath": None,
            "capath_built": False,
            "degraded": True,
            "degraded_reason": problem,
            "refused": [],
        },
    }


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

    import os

    path = capath()
    if os.path.isdir(path):
        return ssl.create_default_context(capath=path)
    return ssl.create_default_context(cafile=path)


def check(url: str, timeout: float = 10.0, client: str = "requests") -> "Report":
    """Why ``url``'s certificate does or does not verify for ``client``
    (``"requests"``, ``"httpx"``, ``"urllib"`` or ``"ssl"``) in this
    environment, and per CA bundle (see docs/check.md). ``timeout`` bounds the
    whole check. Raises ``certifi_native.CheckError`` when no TLS connection
    can be made."""
    from ._check import check as run_check  # on use: `import certifi_native` stays lean

    return run_check(url, timeout, client)
