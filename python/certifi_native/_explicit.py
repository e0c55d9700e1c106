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
import sys

from ._activate import CURL, MARKER, REQUESTS

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
