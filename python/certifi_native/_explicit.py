"""Telling the user's settings from ours, off the start-up path (loaded on use).

Explicit settings beat the ``REQUESTS_CA_BUNDLE`` activation set.

requests lets ``REQUESTS_CA_BUNDLE`` override ``Session.verify``
(``Session.merge_environment_settings``), and pip applies ``--cert``,
``PIP_CERT`` and ``cert =`` in pip.conf as ``Session.verify``. While the
variable holds the value activation set (it equals the marker variable), a
``Session.verify`` that is a path or ``False`` wins again, as it would without
the variable. A per-request ``verify=`` already wins; a value the user set
keeps requests' own precedence. Loaded by the start-up hook only when requests
(or pip's vendored copy) is imported.
"""

import os
import stat
import sys

from ._activate import CURL, MARKER, REQUESTS, _native

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any, Dict, Optional

WINS = f": a Session.verify that is a path or False wins over the {REQUESTS} activation set"


def let_session_verify_win(module: "ModuleType", done: "Optional[Dict[str, Any]]") -> None:
    """Wraps ``module.Session.merge_environment_settings`` (``module`` is
    requests' ``sessions``, or pip's vendored one); notes it in ``done``."""
    session = module.Session
    original = session.merge_environment_settings
    if getattr(original, "_certifi_native", False):  # already wrapped
        return

    def merge_environment_settings(
        self: "Any", url: "Any", proxies: "Any", stream: "Any", verify: "Any", cert: "Any"
    ) -> "Any":
        merged = original(self, url, proxies, stream, verify, cert)
        try:
            chosen = self.verify
            explicit = chosen is False or isinstance(chosen, (str, bytes, os.PathLike))
            if verify is None and explicit and self.trust_env and variable_is_ours():
                merged["verify"] = os.environ.get(CURL) or chosen  # requests' order, less ours
        except Exception:  # never break a request because of us
            pass
        return merged

    merge_environment_settings._certifi_native = True  # type: ignore[attr-defined]
    merge_environment_settings.__wrapped__ = original  # type: ignore[attr-defined]
    merge_environment_settings.__doc__ = original.__doc__
    session.merge_environment_settings = merge_environment_settings
    if done is not None:
        version = getattr(sys.modules.get(module.__name__.rpartition(".")[0]), "__version__", "?")
        patched = f"{module.__name__} {version}"
        earlier = done.get("session_verify")
        done["session_verify"] = f"{earlier[: -len(WINS)]}, {patched}{WINS}" if earlier else f"patched {patched}{WINS}"


def variable_is_ours() -> bool:
    """Whether ``REQUESTS_CA_BUNDLE`` holds the value activation set."""
    value = os.environ.get(REQUESTS)
    return bool(value) and value == os.environ.get(MARKER)


def distrusted_folder(path: str) -> "Optional[str]":
    """Why a file named like a bundle of ours must not be trusted: its folder
    fails the owner checks ``where()`` makes (a temp cleaner removed it, and
    another user made it again). None when it passes, or is not ours."""
    if not hasattr(os, "geteuid"):
        return None
    folder = os.path.dirname(os.path.abspath(path))
    try:
        meta = os.lstat(folder)
    except OSError as error:
        why: "Optional[str]" = f"cannot inspect {folder}: {error.strerror}"
    else:
        me = os.geteuid()
        if not stat.S_ISDIR(meta.st_mode):
            why = f"{folder} is not a folder"
        elif meta.st_uid != me:
            why = f"{folder} is owned by uid {meta.st_uid}, not by uid {me}"
        elif meta.st_mode & 0o022:
            why = f"other users can write to {folder} (mode {stat.S_IMODE(meta.st_mode):o})"
        else:
            why = None
    return why if why is not None and _native().is_bundle_path(path) else None
