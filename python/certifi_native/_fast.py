"""The redirect (docs/capath.md): in a process where activation ran, an
``ssl.SSLContext`` told to load certifi-native's bundle file (or its text as
``cadata``) loads the hashed folder of the same roots (``capath()``) instead.
OpenSSL then reads the root or two a handshake needs instead of parsing every
root of the file up front, for requests, urllib3, httpx, pip, botocore and
whoever else loads ``certifi.where()`` or ``REQUESTS_CA_BUNDLE``, with no
code change and with the variable still naming a file.

Everything else about such a context answers as if the file had been loaded:
``get_ca_certs()`` and ``cert_store_stats()`` are computed from the file on
demand. Installed by the start-up hook once ``ssl`` is imported; off with
``CERTIFI_NATIVE_FAST=0`` (read then and at each load). Where no folder can be
built (a read-only cache, the packaged file), or anything is in doubt, the file
loads as before.

``load_verify_locations``, ``get_ca_certs`` and ``cert_store_stats`` are
methods of ``_ssl._SSLContext`` (C on CPython, cffi on PyPy); ``ssl.SSLContext`` is the Python subclass
everyone instantiates (``ssl.create_default_context``, urllib3's
``create_urllib3_context``, httpx, aiohttp, truststore's inner context), so
the redirect is three attributes set on that class.
"""

import os
import stat

import certifi_native_hook as _hook

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any, Callable, Dict, List, Optional, Tuple

    Loads = Tuple[Tuple[Any, Any], ...]

FAST = "CERTIFI_NATIVE_FAST"
OFF = ("0", "false", "no", "off")
# Set on a context that got the folder: the (cafile, cadata) it was given instead.
_SERVED = "_certifi_native_served"
# Our bundles' first line (core/src/pem.rs): a cheap test before comparing a cadata.
_BUNDLE_HEAD = "# certifi-native "

# ssl.SSLContext and PROTOCOL_TLS_CLIENT (for scratch contexts), and the
# class's own methods, kept when the redirect is installed.
_scratch_kind: "Tuple[Any, Any]"
_load: "Callable[..., None]"
_ca_certs: "Callable[..., List[Any]]"
_stats: "Callable[[Any], Dict[str, int]]"


def enabled() -> bool:
    return os.environ.get(FAST, "").strip().lower() not in OFF


def install(ssl_module: "ModuleType") -> None:
    """Puts the redirect on ``ssl_module.SSLContext``, once. Never raises;
    what happened is in activation's status (``fast``)."""
    global _scratch_kind, _load, _ca_certs, _stats
    try:
        if not enabled():
            _say(f"off: {FAST}={os.environ.get(FAST)}")
            return
        context = ssl_module.SSLContext
        if context.__dict__.get("load_verify_locations") is _load_verify_locations:
            return
        _load, _ca_certs, _stats = context.load_verify_locations, context.get_ca_certs, context.cert_store_stats
        _scratch_kind = (context, ssl_module.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations = _load_verify_locations
        context.get_ca_certs = _get_ca_certs
        context.cert_store_stats = _cert_store_stats
        _say(f"on: contexts told to load certifi-native's bundle get its hashed folder ({FAST}=0 turns it off)")
    except Exception as error:
        _say(f"not installed: {type(error).__name__}: {error}")


def _say(what: str) -> None:
    if _hook._done is not None:
        _hook._done["fast"] = what


def _load_verify_locations(self: "Any", cafile: "Any" = None, capath: "Any" = None, cadata: "Any" = None) -> None:
    folder = _redirect(cafile, capath, cadata)
    if folder is not None:
        try:
            served = vars(self).setdefault(_SERVED, [])
            _load(self, None, folder, None)
        except Exception:  # a context without __dict__, or the folder refused: the file
            folder = None
        else:
            served.append((cafile, cadata))
            return
    _load(self, cafile, capath, cadata)


def _get_ca_certs(self: "Any", binary_form: bool = False) -> "List[Any]":
    as_if = _as_if_loaded(self)
    return _ca_certs(self if as_if is None else as_if, binary_form)


def _cert_store_stats(self: "Any") -> "Dict[str, int]":
    stats = _stats(self)
    as_if = _as_if_loaded(self)
    if as_if is None:
        return stats
    answer = _stats(as_if)
    # What the scratch context cannot see: certificates that are not CAs, and
    # CRLs, loaded into this one besides the bundle.
    answer["x509"] += stats["x509"] - stats["x509_ca"]
    answer["crl"] += stats["crl"]
    return answer


# --- which loads are ours ------------------------------------------------------

# Path as given -> (its file's identity when judged, the folder or None).
_FOLDERS: "Dict[str, Tuple[Tuple[int, ...], Optional[str]]]" = {}


def _redirect(cafile: "Any", capath: "Any", cadata: "Any") -> "Optional[str]":
    """The folder to load instead, when the load is exactly one bundle that
    certifi-native serves (a file, or its text); None when in any doubt."""
    if capath is not None or (cafile is None) == (cadata is None) or not enabled():
        return None
    try:
        return _folder_for_file(cafile) if cafile is not None else _folder_for_text(cadata)
    except Exception:
        return None


def _folder_for_file(cafile: "Any") -> "Optional[str]":
    path = os.fsdecode(os.fspath(cafile))
    meta = os.stat(path)
    if not stat.S_ISREG(meta.st_mode):  # a FIFO, a device: never a bundle of ours
        return None
    identity = (meta.st_dev, meta.st_ino, meta.st_size, meta.st_mtime_ns, meta.st_ctime_ns)
    known = _FOLDERS.get(path)
    if known is None or known[0] != identity or (known[1] is not None and not os.path.isdir(known[1])):
        known = _FOLDERS[path] = (identity, _served_folder(path))
    return known[1]


def _served_folder(path: str) -> "Optional[str]":
    """``capath()`` if ``path`` is the bundle ``where()`` serves now (the same
    real file) and its folder could be built."""
    # Other files (pip's own cacert.pem, which pip's vendored requests loads
    # at import; the OS's file) are told apart by their first line, without
    # loading the native module for where(): a process that loaded it holds
    # _native.pyd open on Windows, and pip could not upgrade us from it.
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        head = os.read(descriptor, len(_BUNDLE_HEAD))
    finally:
        os.close(descriptor)
    if head != _BUNDLE_HEAD.encode():
        return None
    import certifi_native

    if os.path.realpath(certifi_native.where()) != os.path.realpath(path):
        return None
    folder = certifi_native.capath()
    return folder if os.path.isdir(folder) else None


def _folder_for_text(cadata: "Any") -> "Optional[str]":
    if not isinstance(cadata, str) or not cadata.startswith(_BUNDLE_HEAD):
        return None
    import certifi_native

    served = certifi_native.where()
    folder = _folder_for_file(served)
    if folder is None:
        return None
    with open(served, encoding="ascii") as bundle:
        return folder if bundle.read() == cadata else None


# --- answering as if the file had been loaded ------------------------------------

# The loads a context was redirected for -> (the files' identities, a scratch
# context holding exactly those loads, the DER of its CA certificates).
_SCRATCH: "Dict[Loads, Tuple[Tuple[Any, ...], Any, frozenset[bytes]]]" = {}


def _as_if_loaded(context: "Any") -> "Optional[Any]":
    """A scratch context holding what ``context`` would hold had it loaded the
    files itself: the same loads, plus the CA certificates it holds besides
    (loaded otherwise, or read from the folder during handshakes). None when
    ``context`` was not redirected, or in doubt (then its own answers stand)."""
    try:
        loads: Loads = tuple(vars(context).get(_SERVED, ()))
        if not loads:
            return None
        identities = tuple(_identity(cafile) for cafile, _ in loads)
        known = _SCRATCH.get(loads)
        if known is None or known[0] != identities:
            scratch = _replayed(loads)
            ders = frozenset(_ca_certs(scratch, True))
            known = _SCRATCH[loads] = (identities, scratch, ders)
        besides = [der for der in _ca_certs(context, True) if der not in known[2]]
        if not besides:
            return known[1]
        scratch = _replayed(loads)
        _load(scratch, None, None, b"".join(besides))
        return scratch
    except Exception:
        return None


def _replayed(loads: "Loads") -> "Any":
    # ssl.SSLContext, not _ssl._SSLContext: PyPy's cannot be made directly.
    kind, protocol = _scratch_kind
    scratch = kind(protocol)
    for cafile, cadata in loads:
        _load(scratch, cafile, None, cadata)
    return scratch


def _identity(cafile: "Any") -> "Tuple[int, ...]":
    if cafile is None:
        return ()
    meta = os.stat(cafile)
    return (meta.st_dev, meta.st_ino, meta.st_size, meta.st_mtime_ns, meta.st_ctime_ns)
