"""The bundles a client may be using, the certificates each holds, and the
verdict of a real TLS handshake with each."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import os
import socket
import ssl
import sys
from typing import List, Optional, Tuple

from .. import _native, info
from .connect import Target, handshake
from .report import Certificate, CheckError, Failure

# Python 3.13 added VERIFY_X509_STRICT to create_default_context() (CPython
# gh-107361); urllib3 2.4+ does the same in create_urllib3_context().
STRICT_BY_DEFAULT = sys.version_info >= (3, 13)

# OpenSSL's X509_V_ERR_* codes (stable across OpenSSL versions).
_MISSING_ISSUER = {2, 19, 20, 21}
_SELF_SIGNED_LEAF = 18
_NOT_YET_VALID = 9
_EXPIRED = 10
_NAME_MISMATCH = {62, 64}

# The CA-file variables a Python client may be using, as requests reads them.
BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


def iso(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(pem: str) -> List[Certificate]:
    """Every readable certificate of ``pem`` (unreadable blocks are skipped)."""
    out = []
    for facts in _native.describe_certs(pem):
        if "error" in facts:
            continue
        out.append(
            Certificate(
                subject=facts["subject"],
                issuer=facts["issuer"],
                sha256=facts["sha256"],
                not_before=iso(facts["not_before"]),
                not_after=iso(facts["not_after"]),
                ca=facts["ca"],
                basic_constraints_critical=facts["basic_constraints_critical"],
                subject_key_id=facts["subject_key_id"],
                authority_key_id=facts["authority_key_id"],
                has_authority_key_id=facts["has_authority_key_id"],
                dns_names=facts["dns_names"],
                ip_addresses=facts["ip_addresses"],
                self_signed=facts["subject"] == facts["issuer"]
                and facts["authority_key_id"] in (None, facts["subject_key_id"]),
            )
        )
    return out


def issues(issuer: Certificate, cert: Certificate) -> bool:
    """Whether ``issuer`` may have signed ``cert``: same name, and same key id when both say."""
    if issuer.subject != cert.issuer:
        return False
    return not (cert.authority_key_id and issuer.subject_key_id) or cert.authority_key_id == issuer.subject_key_id


def _same_ca(a: Certificate, b: Certificate) -> bool:
    """Same name and key: OpenSSL accepts either one as the other (cross-signed copies)."""
    if a.sha256 == b.sha256:
        return True
    return a.subject == b.subject and a.subject_key_id is not None and a.subject_key_id == b.subject_key_id


@dataclasses.dataclass
class Bundle:
    name: str
    label: str
    path: Optional[str]
    version: Optional[str]
    pem: str  # what the trust comes from, for lookups
    cafile: Optional[str] = None
    capath: Optional[str] = None
    cadata: Optional[str] = None
    unreadable: Optional[str] = None
    certs: List[Certificate] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        self.certs = describe(self.pem)

    def holds(self, cert: Certificate) -> bool:
        return any(_same_ca(cert, mine) for mine in self.certs)

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cafile, capath=self.capath, cadata=self.cadata)

    def identity(self) -> str:
        """Bundles with the same identity verify alike: one handshake serves them all."""
        if self.unreadable or self.capath:
            return f"{self.path}: {self.unreadable}"
        return hashlib.sha256(self.pem.encode()).hexdigest()


def _file_bundle(name: str, label: str, path: str, version: Optional[str] = None) -> Bundle:
    if os.path.isdir(path):
        texts = []
        for entry in sorted(os.listdir(path)):
            try:
                with open(os.path.join(path, entry), encoding="ascii", errors="replace") as file:
                    texts.append(file.read())
            except OSError:
                continue
        return Bundle(name, label, path, version, "".join(texts), capath=path)
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            text = file.read()
    except OSError as err:
        return Bundle(name, label, path, version, "", cafile=path, unreadable=f"cannot read {path}: {err.strerror}")
    return Bundle(name, label, path, version, text, cafile=path)


def gather() -> List[Bundle]:
    """certifi-native's bundle, the OS store, Mozilla's set, the installed
    certifi, and the files the CA variables name: every bundle a client may use."""
    current = info()
    mode = current["mode"] + (" with the Mozilla fallback" if current["mozilla_fallback"] else "")
    path = current["cache"]["path"]
    out = [_file_bundle("certifi-native", f"certifi-native ({mode} mode)", path, current["version"])]
    system = _native.source_bundle("system")
    out.append(Bundle("system", "the OS store", None, None, system, cadata=system))
    mozilla = _native.source_bundle("mozilla")
    version = _native.MOZILLA_SET_VERSION
    label = f"Mozilla's set (webpki-root-certs {version})"
    out.append(Bundle("mozilla", label, None, version, mozilla, cadata=mozilla))
    certifi = _certifi()
    if certifi is not None:
        certifi_path, certifi_version = certifi
        out.append(_file_bundle("certifi", f"certifi {certifi_version}", certifi_path, certifi_version))
    for variable in BUNDLE_VARIABLES:
        value = os.environ.get(variable)
        if value and _same_file(value, path):  # e.g. set by activation: one bundle, not two
            out[0].label += f", named by {variable} too"
        elif value:
            out.append(_file_bundle(variable, f"{variable} ({value})", value))
    return out


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _certifi() -> Optional[Tuple[str, str]]:
    """The installed certifi package's own bundle and version, if there is one
    (its own file: activation may point ``certifi.where()`` at ours)."""
    try:
        import certifi  # type: ignore[import-not-found,unused-ignore]
    except Exception:
        return None
    try:
        own = os.path.join(os.path.dirname(certifi.__file__), "cacert.pem")
        path = own if os.path.isfile(own) else str(certifi.where())
    except Exception:
        return None
    try:  # the distribution's version, as pip shows it (2017.4.17, where __version__ says 2017.04.17)
        import importlib.metadata

        return path, importlib.metadata.version("certifi")
    except Exception:
        return path, str(getattr(certifi, "__version__", "unknown version"))


def _verify(target: Target, bundle: Bundle, strict: bool, timeout: float) -> Optional[Failure]:
    """None if ``bundle`` verifies the server (chain and host name), else why not."""
    if bundle.unreadable:
        return Failure("unreadable_bundle", None, bundle.unreadable)
    try:
        context = bundle.context()
    except (OSError, ValueError) as err:
        return Failure("unreadable_bundle", None, f"OpenSSL cannot load it: {err}")
    if strict:
        context.verify_flags |= ssl.VERIFY_X509_STRICT
    else:
        context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    try:
        with handshake(target, context, timeout):
            return None
    except ssl.SSLCertVerificationError as err:
        return Failure(_kind(err.verify_code), err.verify_code, err.verify_message)
    except CheckError:
        raise
    except socket.timeout:
        raise CheckError("timeout", f"timed out in a TLS handshake with {target.host} port {target.port}") from None
    except OSError as err:
        return Failure("other", None, f"the handshake failed: {err}")


def _kind(code: int) -> str:
    if code in _MISSING_ISSUER:
        return "missing_issuer"
    if code == _SELF_SIGNED_LEAF:
        return "self_signed_leaf"
    if code in (_EXPIRED, _NOT_YET_VALID):
        return "validity"
    if code in _NAME_MISMATCH:
        return "hostname_mismatch"
    return "other"


def judge(target: Target, bundle: Bundle, timeout: float) -> Tuple[Optional[Failure], Optional[Failure]]:
    """(the failure with this Python's default flags, the rejection that
    VERIFY_X509_STRICT alone decides, on this Python or on 3.13+)."""
    error = _verify(target, bundle, STRICT_BY_DEFAULT, timeout)
    if error is None and not STRICT_BY_DEFAULT:
        return None, _verify(target, bundle, True, timeout)
    if error is not None and STRICT_BY_DEFAULT and error.code is not None:
        if _verify(target, bundle, False, timeout) is None:
            return error, error
    return error, None
