"""Automatic activation for the starts the hook module (``certifi_native_hook``,
which the hook files at the site-packages root run) cannot answer alone.

Unless ``CERTIFI_NATIVE_AUTO=0``:

- unless ``CERTIFI_NATIVE_AUTO=certifi``: if neither ``REQUESTS_CA_BUNDLE``
  nor ``CURL_CA_BUNDLE`` is set, set ``REQUESTS_CA_BUNDLE`` to ``where()``,
  marked as ours (``MARKER``; children inherit both, and decide a marked value
  again with their own settings); a user's value is kept, unless it names a
  bundle of ours that is gone or in a folder that fails the cache checks.
  While the value is ours, requests' ``Session.verify`` wins (``_explicit``);
- unless ``CERTIFI_NATIVE_AUTO=env``, point certifi's ``where()`` and
  ``contents()`` at ours when certifi is imported, now or later.

Start-up must never raise, never print and cost little: only ``os``, ``sys``
and ``stat`` (which ``site`` has loaded), and the native module only when the
start-up record (see core/src/record.rs) cannot answer.
"""

import os
import stat
import sys

# Annotations naming typing's types are strings: importing typing, or even
# __future__, would cost every interpreter start more than the hook's own work.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any, Dict, Optional

# The hook module answers the usual start itself and holds the record's replay
# and the post-import hooks; imported back here under their old names.
import certifi_native_hook as _hook
from certifi_native_hook import (  # re-exported: others use these names from here
    AUTO as AUTO,
    CAPATH as CAPATH,
    CURL as CURL,
    MARKER as MARKER,
    OFF as OFF,
    ON as ON,
    REQUESTS as REQUESTS,
    REQUESTS_SESSIONS as REQUESTS_SESSIONS,
    SET as SET,
    SET_AGAIN as SET_AGAIN,
    _fingerprint as _fingerprint,
    _record_path as _record_path,
    _recorded_bundle as _recorded_bundle,
    _registry_fingerprint as _registry_fingerprint,
    _replay as _replay,
    activate as activate,
    session_imported as session_imported,
    when_imported as when_imported,
)

ENV_ONLY = "env"
# certifi only: requests' Session.verify keeps working (the variable overrides it).
CERTIFI_ONLY = "certifi"


def status() -> "Dict[str, Any]":
    """For ``info()``: whether activation ran in this interpreter, what it set,
    what it left alone, and why."""
    if _hook._done is None:
        why = "the start-up hook did not run in this interpreter (python -S, an editable install, or the hook file is missing)"
        if sys.version_info >= (3, 18):  # PEP 829: .pth import lines are ignored from 3.18
            why += "; Python 3.18+ ignores .pth import lines and this release has no .start file: upgrade certifi-native"
        return {"ran": False, "why": why}
    return dict(_hook._done)


def _run(auto: str, done: "Dict[str, Any]", inherited: "Optional[str]") -> None:
    """``inherited``: a parent's value of ours, taken out of the environment (see the hook)."""
    if auto in OFF:
        done["requests_ca_bundle"] = done["certifi"] = f"left alone: {AUTO}={done['auto']}"
    elif auto == CERTIFI_ONLY:
        done["requests_ca_bundle"] = f"left alone: {AUTO}={done['auto']} points certifi only"
    else:
        _set_variable(done, inherited)
        for name in REQUESTS_SESSIONS:
            when_imported(name, session_imported)
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
        why = SET_AGAIN + (distrust and f" is not to be trusted ({distrust})" or "")
    else:
        why = SET
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


# --- certifi -------------------------------------------------------------------


def _point_certifi(module: "ModuleType") -> None:
    """Makes certifi's ``where()`` and ``contents()`` ours, carrying what was
    appended to certifi's own file (``_certifi_appended``)."""
    done = _hook._done if _hook._done is not None else {}
    try:
        from . import contents, where

        for target in (module, sys.modules.get("certifi.core")):
            if target is not None:
                target.where = where  # type: ignore[attr-defined]
                target.contents = contents  # type: ignore[attr-defined]
        version = getattr(module, "__version__", "?")
        done["certifi"] = f"pointed at certifi-native: certifi {version} at {getattr(module, '__file__', '?')}"
    except Exception as error:
        done["certifi"] = f"not pointed: {type(error).__name__}: {error}"
        return
    try:
        from . import _PACKAGED, _certifi_appended

        carried = _certifi_appended.carry(module, where(), _PACKAGED)
    except Exception as error:
        carried = f"what was appended to certifi's cacert.pem could not be carried: {type(error).__name__}: {error}"
    if carried is not None:
        done["certifi_appended"] = carried
