"""certifi-native's start-up hook, run at every interpreter start by the
import line of ``certifi_native_activate.pth``, which the wheel puts at the
site-packages root (no PEP 829 ``.start`` file: docs/activation.md says why).

A module of its own, outside the package, so that a normal start imports this
one small module and nothing else: no package, no ``ssl``, no native module.
It answers the usual start itself (nothing set yet, and the start-up record
still holds: see core/src/record.rs) and imports the package only for the rest
(``certifi_native._activate`` decides those), or once ``certifi`` or ``ssl``
is imported (``requests`` imports both).

Start-up must never raise, never print and cost little: only ``os``, ``stat``,
``sys`` and ``_thread`` (which ``site`` and importlib have loaded), a few
``stat`` calls, nothing typing.
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
# Fast mode (deprecated): REQUESTS_CA_BUNDLE names the hashed folder, not the file.
CAPATH = "CERTIFI_NATIVE_CAPATH"
ON = ("1", "true", "yes", "on")
# Holds the REQUESTS_CA_BUNDLE value activation set: how a child (or any tool)
# tells our value from one a user exported.
MARKER = "CERTIFI_NATIVE_SET_REQUESTS_CA_BUNDLE"
# Where requests defines Session, in requests and in pip's vendored copy.
REQUESTS_SESSIONS = ("requests.sessions", "pip._vendor.requests.sessions")

# What activation did in this interpreter (see _activate.status()); None until it ran.
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
    choice = auto.strip().lower()
    try:
        inherited = _take_inherited()
        if not _answered_by_record(choice, _done, inherited):
            from certifi_native import _activate

            _activate._run(choice, _done, inherited)
        if choice not in OFF:
            when_imported("ssl", _ssl_imported)
    except Exception as error:  # a broken install must not break Python
        _done["error"] = f"{type(error).__name__}: {error}"


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


def _answered_by_record(choice: str, done: "Dict[str, Any]", inherited: "Optional[str]") -> bool:
    """The usual start, without the package: full activation, no variable
    set but a parent's value of ours, and the record still holds (and, for a
    parent's value, gives the same answer). False for anything else: then
    ``_activate._run`` decides, with the same words for the same cases."""
    if choice in OFF or choice in ("env", "certifi") or os.environ.get(CURL) or os.environ.get(REQUESTS):
        return False
    if os.environ.get(CAPATH, "").strip().lower() in ON:
        return False
    bundle = _recorded_bundle()
    if bundle is None or (inherited is not None and inherited != bundle):
        return False
    os.environ[REQUESTS] = os.environ[MARKER] = bundle
    why = SET_AGAIN if inherited is not None else SET
    done["requests_ca_bundle"] = f"{why}; {REQUESTS}={bundle}"
    done["set"] = {REQUESTS: bundle, MARKER: bundle}
    done["bundle_from"] = "start-up record"
    if inherited is not None:
        done["inherited"] = inherited
    for name in REQUESTS_SESSIONS:
        when_imported(name, session_imported)
    if "certifi" not in sys.modules:
        done["certifi"] = "will point at certifi-native when imported"
    when_imported("certifi", _certifi_imported)
    return True


# What activation says it did, here and in _activate.
SET = f"set: neither {REQUESTS} nor {CURL} was set"
SET_AGAIN = f"decided again: the {REQUESTS} a parent's certifi-native set"


def session_imported(module: "ModuleType") -> None:
    """requests' ``sessions`` (or pip's copy) was imported: a ``Session.verify``
    wins over our variable again (see ``certifi_native._explicit``)."""
    from certifi_native._explicit import let_session_verify_win

    let_session_verify_win(module, _done)


def _certifi_imported(module: "ModuleType") -> None:
    from certifi_native._activate import _point_certifi

    _point_certifi(module)


def _ssl_imported(module: "ModuleType") -> None:
    from certifi_native._fast import install

    install(module)


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


# A record is a few hundred bytes; anything far larger is not one of ours.
_RECORD_LIMIT = 1 << 16


def _recorded_bundle() -> "Optional[str]":
    """The bundle the record names, if every check it lists still holds."""
    try:
        lines = _read_record(_record_path())
        return None if lines is None else _replay(lines)
    except (OSError, ValueError):
        return None


def _private(meta: "os.stat_result", kind: int) -> bool:
    """What the cache folder checks demand (core/src/cache.rs): the right kind
    (not a symbolic link), owned by us, not writable by others."""
    if stat.S_IFMT(meta.st_mode) != kind:
        return False
    return not hasattr(os, "geteuid") or (meta.st_uid == os.geteuid() and not meta.st_mode & 0o022)


def _read_record(path: str) -> "Optional[List[str]]":
    """The record's lines, read only from a private file in a private folder,
    as ``where()`` would trust them: both opened without following a symbolic
    link (the file through the folder opened, so neither can be swapped
    between check and read), non-blocking (a FIFO there cannot hang a start)."""
    if not hasattr(os, "O_NOFOLLOW"):  # Windows: per-user folders, no modes to check
        with open(path, encoding="utf-8") as file:
            return file.read(_RECORD_LIMIT).splitlines()
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    folder = os.open(os.path.dirname(path), flags | getattr(os, "O_DIRECTORY", 0))
    try:
        if not _private(os.fstat(folder), stat.S_IFDIR):
            return None
        record = os.open(os.path.basename(path), flags, dir_fd=folder)
    finally:
        os.close(folder)
    try:
        meta = os.fstat(record)
        if not _private(meta, stat.S_IFREG) or meta.st_size > _RECORD_LIMIT:
            return None
        return os.read(record, _RECORD_LIMIT).decode("utf-8").splitlines()
    finally:
        os.close(record)


# What core/src/record.rs always writes besides the CERTIFI_NATIVE_* settings
# (its OTHER_VARS): a record without all of them is not a complete one.
_ALWAYS_RECORDED = ("SSL_CERT_FILE", "SSL_CERT_DIR", "HOME", "XDG_CACHE_HOME", "TMPDIR", "LOCALAPPDATA")


def _replay(lines: "Sequence[str]") -> "Optional[str]":
    """The record's bundle if the record is complete (header, settings, path,
    the stamp's first line, the bundle's fingerprint) and each check holds."""
    if not lines or lines[0] != "certifi-native startup-record 1":
        return None
    import time

    recorded = set()
    bundle = None
    stamped = checked = False
    for line in lines[1:]:
        key, _, rest = line.partition(" ")
        if key == "env":
            name, _, value = rest.partition("=")
            recorded.add(name)
            if os.environ.get(name, "") != value:
                return None
        elif key == "path":
            bundle = rest
        elif key == "certifi-native":  # the stamp's first line: version built-at T valid-until N
            fields = rest.split(" ")
            if len(fields) != 5 or fields[1] != "built-at" or fields[3] != "valid-until":
                return None
            now = int(time.time())
            # As cache::is_fresh: not before the build (a clock gone back), not past the first expiry.
            if not int(fields[2]) <= now <= int(fields[4]):
                return None
            stamped = True
        elif key == "reg":  # a registry key behind the Windows stores
            fingerprint, _, name = rest.partition(" ")
            if _registry_fingerprint(name) != fingerprint:
                return None
        elif key == "bundle":
            if bundle is None or _fingerprint(bundle, regular_only=True) != rest:
                return None
            checked = True
        elif _fingerprint(rest) != key:  # a watched file or folder of the store
            return None
    if not (stamped and checked) or any(name not in recorded for name in _ALWAYS_RECORDED):
        return None
    return None if _unrecorded_setting(recorded) else bundle


def _unrecorded_setting(recorded: "set[str]") -> bool:
    """Whether a ``CERTIFI_NATIVE_*`` setting (``AUTO`` aside) is set that the
    record does not list. Iterating ``os.environ`` decodes every variable (a
    few thousand instructions each, at every start): the raw names (bytes on
    POSIX) are searched in C first, and decoded only if one may be ours."""
    raw = getattr(os.environ, "_data", None)
    try:
        if raw is not None and b"CERTIFI_NATIVE_" not in b"\0".join(raw):
            return False
    except TypeError:  # str names (Windows): the plain scan
        pass
    return any(n.startswith("CERTIFI_NATIVE_") and n not in (AUTO, MARKER) and n not in recorded for n in os.environ)


# --- post-import hooks --------------------------------------------------------

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
        sys.meta_path.insert(0, _PostImportFinder)
    _HOOKS.setdefault(name, []).append(callback)


def _call(callback: "Callable[[ModuleType], None]", module: "ModuleType") -> None:
    try:
        callback(module)
    except Exception as error:
        if _done is not None:
            _done.setdefault("hook_errors", []).append(
                f"{module.__name__}: {getattr(callback, '__name__', callback)}: {type(error).__name__}: {error}"
            )


def find_spec(
    name: str, path: "Optional[Sequence[str]]" = None, target: "Optional[ModuleType]" = None
) -> "Optional[ModuleSpec]":
    """As a ``sys.meta_path`` entry, this module only watches for the modules
    in ``_HOOKS``: the other finders find them, and their loaders are wrapped."""
    if name not in _HOOKS:
        return None
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        if finder is _PostImportFinder or find is None:
            continue
        spec: Optional[ModuleSpec] = find(name, path, target)
        if spec is None:
            continue
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            # Duck-typed: importlib.abc is not worth importing at start-up.
            spec.loader = _post_import_loader()(spec.loader)
        return spec
    return None


# The sys.meta_path entry is this module itself (find_spec above), and the
# loader's class is made on first use: on 3.11 a class statement here costs
# every interpreter start about as much as the whole record's replay.
_PostImportFinder = sys.modules[__name__]
_PostImportLoader: "Optional[type]" = None


def _post_import_loader() -> type:
    """The class of the loaders ``find_spec`` wraps: a module's own loader,
    which then runs the callbacks on the fresh module."""
    global _PostImportLoader
    if _PostImportLoader is not None:
        return _PostImportLoader

    class PostImportLoader:
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

    _PostImportLoader = PostImportLoader
    return PostImportLoader
