"""Automatic activation, run at interpreter start-up by the hook files the wheel
puts at the site-packages root (``certifi_native_activate.pth``, and
``certifi_native_activate.start`` for Python 3.15+, PEP 829).

Unless ``CERTIFI_NATIVE_AUTO=0``:

- unless ``CERTIFI_NATIVE_AUTO=certifi``: if neither ``REQUESTS_CA_BUNDLE``
  nor ``CURL_CA_BUNDLE`` is set, set ``REQUESTS_CA_BUNDLE`` to ``where()``,
  marked as ours (``MARKER``; children inherit both, and decide a marked value
  again with their own settings); a user's value is kept, unless it names a
  bundle of ours that is gone or in a folder that fails the cache checks.
  While the value is ours, requests' ``Session.verify`` wins (``_explicit``);
- unless ``CERTIFI_NATIVE_AUTO=env``, point certifi's ``where()`` and
  ``contents()`` at ours when certifi is imported, now or later.

Start-up must never raise, never print and cost little: only ``os``, ``sys``,
``stat`` and ``_thread`` (which ``site`` and importlib have loaded), and the
native module only when the start-up record (see core/src/record.rs) cannot
answer.
"""

import _thread
import os
import stat
import sys

# Annotations naming typing's types are strings: importing typing, or even
# __future__, would cost every interpreter start more than the hook's own work.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any, Callable, Dict, List, Optional, Sequence

AUTO = "CERTIFI_NATIVE_AUTO"
REQUESTS = "REQUESTS_CA_BUNDLE"
CURL = "CURL_CA_BUNDLE"
OFF = ("0", "false", "no", "off")
# Fast mode: REQUESTS_CA_BUNDLE names the hashed folder (capath()), not the file.
CAPATH = "CERTIFI_NATIVE_CAPATH"
ON = ("1", "true", "yes", "on")
ENV_ONLY = "env"
# certifi only: requests' Session.verify keeps working (the variable overrides it).
CERTIFI_ONLY = "certifi"
# Holds the REQUESTS_CA_BUNDLE value activation set: how a child (or any tool)
# tells our value from one a user exported.
MARKER = "CERTIFI_NATIVE_SET_REQUESTS_CA_BUNDLE"
# Where requests defines Session, in requests and in pip's vendored copy.
REQUESTS_SESSIONS = ("requests.sessions", "pip._vendor.requests.sessions")

# What activation did in this interpreter (see status()); None until it ran.
_done: "Optional[Dict[str, Any]]" = None
# Taken, never released, by the one activate() call that runs.
_CLAIM = _thread.allocate_lock()


def activate() -> None:
    """The start-up hook. Never raises; what happened is in ``status()``."""
    global _done
    # Both hook files, a second call, or another thread at once (no GIL on
    # free-threaded builds): the first to take the claim runs, once.
    if _done is not None or not _CLAIM.acquire(False):
        return
    auto = os.environ.get(AUTO, "")
    _done = {"ran": True, "auto": auto, "bundle_from": None, "error": None}
    try:
        _run(auto.strip().lower(), _done)
    except Exception as error:  # a broken install must not break Python
        _done["error"] = f"{type(error).__name__}: {error}"


def status() -> "Dict[str, Any]":
    """For ``info()``: whether activation ran in this interpreter, what it set,
    what it left alone, and why."""
    if _done is None:
        return {
            "ran": False,
            "why": "the start-up hook did not run in this interpreter "
            "(python -S, an editable install, or the hook file is missing)",
        }
    return dict(_done)


def _run(auto: str, done: "Dict[str, Any]") -> None:
    inherited = _take_inherited()
    if auto in OFF:
        done["requests_ca_bundle"] = done["certifi"] = f"left alone: {AUTO}={done['auto']}"
    elif auto == CERTIFI_ONLY:
        done["requests_ca_bundle"] = f"left alone: {AUTO}={done['auto']} points certifi only"
    else:
        _set_variable(done, inherited)
        for name in REQUESTS_SESSIONS:
            when_imported(name, _let_session_verify_win)
    if inherited is not None:
        done["inherited"] = inherited
        if "set" not in done:
            done["requests_ca_bundle"] = f"removed: the {REQUESTS} a parent's certifi-native set; {done['requests_ca_bundle']}"
    if auto in OFF:
        return
    if auto == ENV_ONLY:
        done["certifi"] = f"left alone: {AUTO}={done['auto']} sets the variable only"
        return
    if "certifi" not in sys.modules:
        done["certifi"] = "will point at certifi-native when imported"
    when_imported("certifi", _point_certifi)


def _take_inherited() -> "Optional[str]":
    """Removes a REQUESTS_CA_BUNDLE that certifi-native set in a parent (it
    equals the marker), to be decided again here; returns it. A marker that
    does not match is stale (the variable was changed since): dropped."""
    marker = os.environ.get(MARKER)
    if marker is None:
        return None
    del os.environ[MARKER]
    if os.environ.get(REQUESTS) != marker:
        return None
    del os.environ[REQUESTS]
    return marker


def _set_variable(done: "Dict[str, Any]", inherited: "Optional[str]") -> None:
    requests, curl = os.environ.get(REQUESTS), os.environ.get(CURL)
    if requests:
        distrust = _distrusted_folder(requests)
        if distrust is not None:
            why = f"replaced: {REQUESTS} named a certifi-native bundle not to be trusted ({distrust})"
        elif os.path.exists(requests):  # a file, or a folder (requests takes both)
            done["requests_ca_bundle"] = f"kept: {REQUESTS} was already set (by you, or a parent without certifi-native)"
            return
        elif not _native().is_bundle_path(requests):
            done["requests_ca_bundle"] = f"kept: {REQUESTS} names a missing file that is not ours"
            return
        else:
            why = f"repaired: {REQUESTS} named a certifi-native bundle that no longer exists"
    elif curl:
        done["requests_ca_bundle"] = f"left alone: {CURL} is set, and requests reads it"
        return
    elif inherited is not None:
        distrust = _distrusted_folder(inherited)
        why = f"decided again: the {REQUESTS} a parent's certifi-native set" + (distrust and f" is not to be trusted ({distrust})" or "")
    else:
        why = f"set: neither {REQUESTS} nor {CURL} was set"
    bundle = _variable_value(done)
    os.environ[REQUESTS] = os.environ[MARKER] = bundle
    done["requests_ca_bundle"] = f"{why}; {REQUESTS}={bundle}"
    done["set"] = {REQUESTS: bundle, MARKER: bundle}


def _distrusted_folder(path: str) -> "Optional[str]":
    """Why an existing file named like a bundle of ours is not to be trusted
    (its folder fails the cache-folder checks, core/src/cache.rs), or None.
    Costs one ``lstat``: the native module is asked only when that lstat
    already shows a folder that is not plainly ours."""
    name = os.path.basename(path)
    if not (name.startswith("cacert-") and name.endswith(".pem")) or not hasattr(os, "geteuid"):
        return None
    try:
        meta = os.lstat(os.path.dirname(os.path.abspath(path)))
        if stat.S_ISDIR(meta.st_mode) and meta.st_uid == os.geteuid() and not meta.st_mode & 0o022:
            return None
    except OSError:
        return None  # no folder: a missing bundle, repaired or not as before
    problem: "Optional[str]" = _native().bundle_folder_problem(path)
    return problem


def _native() -> "Any":
    from . import _native

    return _native


def _variable_value(done: "Dict[str, Any]") -> str:
    """What REQUESTS_CA_BUNDLE gets: the bundle file, or in fast mode the
    hashed folder (checked first: the record names bundle files only)."""
    if os.environ.get(CAPATH, "").strip().lower() in ON:
        from . import capath

        done["bundle_from"] = f"capath(): {CAPATH}={os.environ[CAPATH]}"
        return capath()
    bundle = _recorded_bundle()
    done["bundle_from"] = "native module" if bundle is None else "start-up record"
    return _startup_where() if bundle is None else bundle


def _startup_where() -> str:
    try:
        from . import _PACKAGED

        return str(_native().startup_where(_PACKAGED))
    except Exception:
        from . import where

        return where()


# --- the start-up record: replaying the checks the Rust side wrote down ----


def _record_path() -> str:
    """Where the Rust side usually keeps bundles (dirs::cache_dir). Only a
    guess: a wrong one costs a miss, never a wrong answer."""
    folder = os.environ.get("CERTIFI_NATIVE_CACHE_DIR")
    if not folder:
        if sys.platform == "win32":
            base = os.environ.get("LOCALAPPDATA", "")
        elif sys.platform == "darwin":
            base = os.path.expanduser("~/Library/Caches")
        else:
            base = os.environ.get("XDG_CACHE_HOME", "")
            base = base if os.path.isabs(base) else os.path.expanduser("~/.cache")
        folder = os.path.join(base, "certifi-native")
    return os.path.join(folder, "startup-record")


def _fingerprint(path: str, regular_only: bool = False) -> str:
    """As core/src/cache.rs writes it: ``dev:ino:ctime:len:mtime_ns`` or ``missing``."""
    try:
        meta = os.lstat(path) if regular_only else os.stat(path)
    except OSError:
        return "missing"
    if regular_only and not stat.S_ISREG(meta.st_mode):
        return "missing"
    if sys.platform == "win32":  # cache.rs has no inode or ctime there
        return f"-:{meta.st_size}:{meta.st_mtime_ns}"
    ctime_s, ctime_ns = divmod(meta.st_ctime_ns, 1_000_000_000)
    return f"{meta.st_dev}:{meta.st_ino}:{ctime_s}.{ctime_ns:09}:{meta.st_size}:{meta.st_mtime_ns}"


def _registry_fingerprint(key: str) -> str:
    """As core/src/registry.rs writes it: ``subkeys:values:last_write`` (a
    FILETIME) of an ``HKLM\\...`` or ``HKCU\\...`` key, or ``missing``."""
    try:
        # Not `import winreg`: typeshed declares it for win32 only, and mypy
        # checks this file on Linux too (where a test supplies a stand-in).
        winreg = __import__("winreg")
        hive, _, name = key.partition("\\")
        root = {"HKLM": winreg.HKEY_LOCAL_MACHINE, "HKCU": winreg.HKEY_CURRENT_USER}[hive]
        with winreg.OpenKey(root, name) as handle:
            subkeys, values, last_write = winreg.QueryInfoKey(handle)
    except (ImportError, KeyError, OSError):
        return "missing"
    return f"{subkeys}:{values}:{last_write}"


def _recorded_bundle() -> "Optional[str]":
    """The bundle the record names, if every check it lists still holds."""
    try:
        path = _record_path()
        with open(path, encoding="utf-8") as file:
            if hasattr(os, "geteuid"):  # trust only our own, private file
                meta = os.fstat(file.fileno())
                if meta.st_uid != os.geteuid() or meta.st_mode & 0o022:
                    return None
            lines = file.read().splitlines()
        return _replay(lines)
    except (OSError, ValueError):
        return None


def _replay(lines: "Sequence[str]") -> "Optional[str]":
    if not lines or lines[0] != "certifi-native startup-record 1":
        return None
    import time

    recorded = set()
    bundle = None
    for line in lines[1:]:
        key, _, rest = line.partition(" ")
        if key == "env":
            name, _, value = rest.partition("=")
            recorded.add(name)
            if os.environ.get(name, "") != value:
                return None
        elif key == "path":
            bundle = rest
        elif key == "certifi-native":  # the stamp's first line: first expiry
            if int(time.time()) > int(rest.rsplit(" ", 1)[-1]):  # as cache::is_fresh
                return None
        elif key == "reg":  # a registry key behind the Windows stores
            fingerprint, _, name = rest.partition(" ")
            if _registry_fingerprint(name) != fingerprint:
                return None
        elif key == "bundle":
            if bundle is None or _fingerprint(bundle, regular_only=True) != rest:
                return None
        elif _fingerprint(rest) != key:  # a watched file or folder of the store
            return None
    settings = (n for n in os.environ if n.startswith("CERTIFI_NATIVE_") and n != AUTO)
    return None if any(n not in recorded for n in settings) else bundle


# --- post-import hooks --------------------------------------------------------


def _let_session_verify_win(module: "ModuleType") -> None:
    """See ``_explicit``: loaded only when requests is, to keep start-up lean."""
    from ._explicit import let_session_verify_win

    let_session_verify_win(module, _done)


def _point_certifi(module: "ModuleType") -> None:
    """Makes certifi's ``where()`` and ``contents()`` ours."""
    try:
        from . import contents, where

        for target in (module, sys.modules.get("certifi.core")):
            if target is not None:
                target.where = where  # type: ignore[attr-defined]
                target.contents = contents  # type: ignore[attr-defined]
        done = _done if _done is not None else {}
        version = getattr(module, "__version__", "?")
        done["certifi"] = f"pointed at certifi-native: certifi {version} at {getattr(module, '__file__', '?')}"
    except Exception as error:
        if _done is not None:
            _done["certifi"] = f"not pointed: {type(error).__name__}: {error}"


# What to run on a module once it is imported: module name -> callbacks.
_HOOKS: "Dict[str, List[Callable[[ModuleType], None]]]" = {}


def when_imported(name: str, callback: "Callable[[ModuleType], None]") -> None:
    """Runs ``callback(module)`` once module ``name`` is imported: now if it
    already is, else right after its own code ran. Imports nothing early. A
    callback that raises is recorded in ``status()`` (it runs inside someone's
    ``import``, which must not fail because of us)."""
    module = sys.modules.get(name)
    if module is not None:
        _call(callback, module)
        return
    if not _HOOKS:
        sys.meta_path.insert(0, _PostImportFinder())
    _HOOKS.setdefault(name, []).append(callback)


def _call(callback: "Callable[[ModuleType], None]", module: "ModuleType") -> None:
    try:
        callback(module)
    except Exception as error:
        if _done is not None:
            _done.setdefault("hook_errors", []).append(
                f"{module.__name__}: {getattr(callback, '__name__', callback)}: {type(error).__name__}: {error}"
            )


class _PostImportLoader:
    """A module's own loader, which then runs the callbacks on the fresh module."""

    def __init__(self, loader: "Any") -> None:
        self._loader = loader

    def __getattr__(self, name: str) -> "Any":  # resources, source, file name...
        return getattr(self._loader, name)

    def create_module(self, spec: "ModuleSpec") -> "Optional[ModuleType]":
        module: Optional[ModuleType] = self._loader.create_module(spec)
        return module

    def exec_module(self, module: "ModuleType") -> None:
        self._loader.exec_module(module)
        for callback in _HOOKS.pop(module.__name__, ()):
            _call(callback, module)


class _PostImportFinder:
    """A ``sys.meta_path`` entry that only watches for the modules in
    ``_HOOKS``: the other finders find them, and their loaders are wrapped."""

    def find_spec(
        self, name: str, path: "Optional[Sequence[str]]" = None, target: "Optional[ModuleType]" = None
    ) -> "Optional[ModuleSpec]":
        if name not in _HOOKS:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec: Optional[ModuleSpec] = find(name, path, target)
            if spec is None:
                continue
            if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                # Duck-typed: importlib.abc is not worth importing at start-up.
                spec.loader = _PostImportLoader(spec.loader)  # type: ignore[assignment]
            return spec
        return None
