"""Which bundle each client uses in this environment, by that client's own
rules (read from their source; see docs/check.md), and which rows of the
table each one reads."""

from __future__ import annotations

import os
from typing import Dict, List, Optional, Tuple

from .. import _native
from .bundles import Bundle, certifi_own, defaults_bundle, same_file, file_bundle

CLIENTS = ("requests", "httpx", "urllib", "ssl")

# Per-call arguments (verify=..., context=...) aside: what each client reads.
RULES = {
    # requests.Session.merge_environment_settings, then requests.utils.DEFAULT_CA_BUNDLE_PATH
    "requests": "REQUESTS_CA_BUNDLE, then CURL_CA_BUNDLE, then certifi.where()",
    # httpx._config.create_ssl_context (trust_env=True)
    "httpx": "SSL_CERT_FILE, then SSL_CERT_DIR, then certifi.where()",
    # urlopen() without a context: ssl.create_default_context(), OpenSSL's default paths
    "urllib": "OpenSSL's default paths: SSL_CERT_FILE or its built-in file, with SSL_CERT_DIR or its built-in folder",
    "ssl": "OpenSSL's default paths: SSL_CERT_FILE or its built-in file, with SSL_CERT_DIR or its built-in folder",
}
_VARIABLES = {"requests": ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"), "httpx": ("SSL_CERT_FILE", "SSL_CERT_DIR")}
CERTIFI_WHERE = "certifi.where()"
DEFAULTS = "OpenSSL's default paths"


def _certifi_where() -> Optional[str]:
    """``certifi.where()`` as requests and httpx see it here: imported in this
    process, so activation's pointing (or its absence) applies."""
    try:
        import certifi  # type: ignore[import-not-found,unused-ignore]

        return str(certifi.where())
    except Exception:
        return None


def set_by(variable: str, value: str) -> str:
    from .. import _activate

    said = str(_activate.status().get("requests_ca_bundle", ""))
    if variable == "REQUESTS_CA_BUNDLE" and said.startswith(("set:", "repaired:")):
        return "certifi-native's activation"
    if _native.is_bundle_path(value):
        return "certifi-native's activation in a parent process"
    return "you or a parent process"


def resolve(client: str) -> Tuple[str, Optional[str], Optional[str]]:
    """(what names the bundle, its path, who set the variable) for ``client``."""
    for variable in _VARIABLES.get(client, ()):
        value = os.environ.get(variable)
        if value:  # both clients skip an empty value
            return variable, value, set_by(variable, value)
    if client in _VARIABLES:
        return CERTIFI_WHERE, _certifi_where(), None
    return DEFAULTS, None, None


def row_for(source: str, path: Optional[str], bundles: List[Bundle]) -> Optional[Bundle]:
    """The row of ``bundles`` that is this bundle (a variable's own row, or the
    row it was merged into because it names the same file)."""
    for bundle in bundles:
        if source == bundle.name or (source == DEFAULTS and bundle.name == "openssl"):
            return bundle
    if source == CERTIFI_WHERE:
        own = certifi_own()
        if path is not None and own is not None and same_file(path, own[0]):
            return next((b for b in bundles if b.name == "certifi"), None)
    for bundle in bundles:
        if path is not None and bundle.path is not None and not bundle.reference and same_file(path, bundle.path):
            return bundle
    return None


def add_row(source: str, path: Optional[str], bundles: List[Bundle]) -> Bundle:
    """The row the chosen client needs when the table has none: OpenSSL's
    defaults, or a certifi.where() that is neither certifi's file nor ours."""
    if source == DEFAULTS:
        row = defaults_bundle()
    elif path is None:
        row = Bundle(CERTIFI_WHERE, CERTIFI_WHERE, None, None, "", unreadable="certifi is not installed here")
    else:
        row = file_bundle(CERTIFI_WHERE, f"{CERTIFI_WHERE} ({path})", path)
    bundles.append(row)
    return row


def mark_readers(bundles: List[Bundle]) -> Dict[str, Tuple[str, Optional[str], Optional[str]]]:
    """Sets each row's ``used_by``; returns every client's resolution."""
    resolutions = {client: resolve(client) for client in CLIENTS}
    for client, (source, path, _) in resolutions.items():
        if source == DEFAULTS:  # OpenSSL reads the file and the folder(s)
            read = [b for b in bundles if b.name in ("openssl", "SSL_CERT_FILE", "SSL_CERT_DIR")]
            read += [b for b in bundles if "named by SSL_CERT_FILE" in b.label]
        else:
            row = row_for(source, path, bundles)
            read = [] if row is None else [row]
        for bundle in read:
            if client not in bundle.used_by:
                bundle.used_by.append(client)
    return resolutions
