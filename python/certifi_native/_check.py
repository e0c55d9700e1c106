"""``certifi-native check URL``: capture the chain a server sends, verify it
against each CA bundle in use, and say in plain words why one fails.

The oracle is a real TLS handshake per bundle with ``ssl.create_default_context``
(the same OpenSSL and flags that urllib3, hence requests, uses on this Python),
so a verdict here is the verdict the user's client gets. See docs/check.md.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import http.client
import os
import socket
import ssl
import sys
import time
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import _native, info

SCHEMA = 1
EXIT_OK = 0
EXIT_NOT_VERIFIED = 1
# 2 is the usage error of the command line.
EXIT_CODES = {
    "bad_url": 3,
    "host_not_found": 4,
    "unreachable": 5,
    "refused": 6,
    "timeout": 7,
    "not_tls": 8,
    "proxy_error": 9,
}

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
_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


class CheckError(Exception):
    """No TLS connection could be made; ``kind`` is a key of ``EXIT_CODES``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.exit_code = EXIT_CODES[kind]


@dataclasses.dataclass
class Certificate:
    subject: str
    issuer: str
    sha256: str
    not_before: str
    not_after: str
    ca: Optional[bool]
    basic_constraints_critical: Optional[bool]
    subject_key_id: Optional[str]
    authority_key_id: Optional[str]
    has_authority_key_id: bool
    dns_names: List[str]
    ip_addresses: List[str]
    self_signed: bool

    @property
    def names(self) -> List[str]:
        return self.dns_names + self.ip_addresses


@dataclasses.dataclass
class Failure:
    """Why one bundle did not verify: OpenSSL's code and words, and our kind."""

    kind: str
    code: Optional[int]
    message: str


@dataclasses.dataclass
class BundleResult:
    name: str
    label: str
    path: Optional[str]
    version: Optional[str]
    roots: int
    verified: bool
    error: Optional[Failure]
    # Set when VERIFY_X509_STRICT alone decides: the rejection under it.
    strict_error: Optional[Failure]


@dataclasses.dataclass
class Diagnosis:
    kind: str
    severity: str  # "error" (a bundle fails on this Python) or "warning"
    bundles: List[str]
    # The certificate at fault, by name; its SHA-256 and facts when it is at hand
    # (a missing intermediate or an unknown root is known only by name).
    subject: Optional[str]
    sha256: Optional[str]
    certificate: Optional[Certificate]
    found_in: List[str]
    message: str
    fix: List[str]


@dataclasses.dataclass
class _Finding:
    """What one bundle's failure means; ``{bundles}`` in the message names the bundles it hits."""

    kind: str
    certificate: Optional[Certificate]
    message: str
    fix: str
    found_in: List[str] = dataclasses.field(default_factory=list)
    # Set instead of ``certificate`` when the certificate is known only by name.
    missing_subject: Optional[str] = None


@dataclasses.dataclass
class Report:
    schema: int
    url: str
    host: str
    port: int
    proxy: Optional[str]
    python: str
    openssl: str
    strict_by_default: bool
    # False where this Python exposes only the server's own certificate.
    chain_complete: bool
    chain: List[Certificate]
    bundles: List[BundleResult]
    diagnoses: List[Diagnosis]
    ok: bool

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.ok else EXIT_NOT_VERIFIED

    def as_dict(self) -> Dict[str, Any]:
        out = dataclasses.asdict(self)
        out["exit_code"] = self.exit_code
        out["error"] = None
        return out

    def __str__(self) -> str:
        return _text(self)


# --- where to connect -------------------------------------------------------


@dataclasses.dataclass
class _Target:
    url: str
    host: str
    port: int
    proxy: Optional[Tuple[str, int, Optional[str]]]  # host, port, Basic credentials

    @property
    def proxy_url(self) -> Optional[str]:
        return None if self.proxy is None else f"http://{self.proxy[0]}:{self.proxy[1]}"


def _target(url: str) -> _Target:
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError as err:
        raise CheckError("bad_url", f"bad URL {url!r}: {err}") from None
    if parts.scheme.lower() != "https":
        raise CheckError("bad_url", f"bad URL {url!r}: check needs an https:// URL")
    if not parts.hostname:
        raise CheckError("bad_url", f"bad URL {url!r}: no host name")
    if port == 0:
        raise CheckError("bad_url", f"bad URL {url!r}: port 0")
    host = parts.hostname
    return _Target(url, host, 443 if port is None else port, _proxy_for(host))


def _proxy_for(host: str) -> Optional[Tuple[str, int, Optional[str]]]:
    """The HTTP proxy https_proxy/HTTPS_PROXY names for ``host`` (no_proxy honoured)."""
    proxy = urllib.request.getproxies_environment().get("https")
    # With a proxy variable set, proxy_bypass() reads no_proxy (not the OS settings).
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    parts = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
    try:
        port = parts.port or 80
    except ValueError as err:
        raise CheckError("bad_url", f"bad proxy URL {proxy!r}: {err}") from None
    if parts.scheme.lower() != "http" or not parts.hostname:
        raise CheckError("bad_url", f"bad proxy URL {proxy!r}: only http:// proxies are supported")
    credentials = None
    if parts.username is not None:
        pair = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        credentials = base64.b64encode(pair.encode()).decode("ascii")
    return parts.hostname, port, credentials


# --- connecting -------------------------------------------------------------


def _connection_error(err: OSError, what: str) -> CheckError:
    if isinstance(err, socket.gaierror):
        return CheckError("host_not_found", f"cannot resolve {what}: {err.strerror}")
    if isinstance(err, ConnectionRefusedError):
        return CheckError("refused", f"connection refused by {what}: nothing listens on that port")
    if isinstance(err, socket.timeout):
        return CheckError("timeout", f"timed out connecting to {what}")
    return CheckError("unreachable", f"cannot reach {what}: {err.strerror or err}")


def _open(target: _Target, timeout: float) -> socket.socket:
    """A TCP connection to the target, through the proxy's CONNECT tunnel if one is set."""
    if target.proxy is None:
        try:
            return socket.create_connection((target.host, target.port), timeout)
        except OSError as err:
            raise _connection_error(err, f"{target.host} port {target.port}") from None
    proxy_host, proxy_port, credentials = target.proxy
    try:
        sock = socket.create_connection((proxy_host, proxy_port), timeout)
    except OSError as err:
        raise _connection_error(err, f"the proxy {target.proxy_url}") from None
    try:
        _tunnel(sock, target, credentials)
    except BaseException:
        sock.close()
        raise
    return sock


def _tunnel(sock: socket.socket, target: _Target, credentials: Optional[str]) -> None:
    host = target.host.encode("idna").decode("ascii")
    authority = f"[{host}]:{target.port}" if ":" in host else f"{host}:{target.port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if credentials:
        lines.append(f"Proxy-Authorization: Basic {credentials}")
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
        # The proxy sends nothing after its answer until the TLS client speaks.
        response = http.client.HTTPResponse(sock, method="CONNECT")
        response.begin()
    except socket.timeout:
        raise CheckError("timeout", f"timed out waiting for the proxy {target.proxy_url}") from None
    except (OSError, http.client.HTTPException) as err:
        raise CheckError("proxy_error", f"the proxy {target.proxy_url} failed: {err!r}") from None
    if response.status != 200:
        raise CheckError(
            "proxy_error",
            f"the proxy {target.proxy_url} refused CONNECT {authority}: {response.status} {response.reason}",
        )


def _handshake(target: _Target, context: ssl.SSLContext, timeout: float) -> ssl.SSLSocket:
    sock = _open(target, timeout)
    try:
        return context.wrap_socket(sock, server_hostname=target.host)
    except BaseException:
        sock.close()
        raise


def _capture(target: _Target, timeout: float) -> Tuple[List[bytes], bool]:
    """The certificates the server sends (DER, leaf first), verified or not,
    and whether that is the whole chain (False: only the leaf could be read)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    where = f"{target.host} port {target.port}"
    try:
        with _handshake(target, context, timeout) as tls:
            return _sent_chain(tls)
    except CheckError:
        raise
    except socket.timeout:
        raise CheckError("timeout", f"timed out waiting for a TLS handshake from {where}") from None
    except (ssl.SSLError, ConnectionError) as err:
        reason = getattr(err, "reason", None) or err.strerror or err
        raise CheckError(
            "not_tls", f"no TLS handshake with {where} ({reason}): is it an https port?"
        ) from None
    except OSError as err:
        raise _connection_error(err, where) from None


def _sent_chain(tls: ssl.SSLSocket) -> Tuple[List[bytes], bool]:
    public: Optional[Callable[[], Any]] = getattr(tls, "get_unverified_chain", None)
    if public is not None:  # Python 3.13+: DER bytes
        return list(public() or []), True
    private: Optional[Callable[[], Any]] = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)
    if private is not None:  # Python 3.10-3.12: _ssl.Certificate objects
        import _ssl

        return [cert.public_bytes(_ssl.ENCODING_DER) for cert in private() or []], True
    leaf = tls.getpeercert(binary_form=True)  # Python 3.9: the leaf alone
    return ([leaf] if leaf else []), False


# --- certificates -----------------------------------------------------------


def _iso(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _describe(pem: str) -> List[Certificate]:
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
                not_before=_iso(facts["not_before"]),
                not_after=_iso(facts["not_after"]),
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


def _issues(issuer: Certificate, cert: Certificate) -> bool:
    """Whether ``issuer`` may have signed ``cert``: same name, and same key id when both say."""
    if issuer.subject != cert.issuer:
        return False
    return not (cert.authority_key_id and issuer.subject_key_id) or cert.authority_key_id == issuer.subject_key_id


def _same_ca(a: Certificate, b: Certificate) -> bool:
    """Same name and key: OpenSSL accepts either one as the other (cross-signed copies)."""
    if a.sha256 == b.sha256:
        return True
    return a.subject == b.subject and a.subject_key_id is not None and a.subject_key_id == b.subject_key_id


# --- bundles ----------------------------------------------------------------


@dataclasses.dataclass
class _Bundle:
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
        self.certs = _describe(self.pem)

    def holds(self, cert: Certificate) -> bool:
        return any(_same_ca(cert, mine) for mine in self.certs)

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cafile, capath=self.capath, cadata=self.cadata)

    def identity(self) -> str:
        """Bundles with the same identity verify alike: one handshake serves them all."""
        if self.unreadable or self.capath:
            return f"{self.path}: {self.unreadable}"
        return hashlib.sha256(self.pem.encode()).hexdigest()


def _file_bundle(name: str, label: str, path: str, version: Optional[str] = None) -> _Bundle:
    if os.path.isdir(path):
        texts = []
        for entry in sorted(os.listdir(path)):
            try:
                with open(os.path.join(path, entry), encoding="ascii", errors="replace") as file:
                    texts.append(file.read())
            except OSError:
                continue
        return _Bundle(name, label, path, version, "".join(texts), capath=path)
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            text = file.read()
    except OSError as err:
        return _Bundle(name, label, path, version, "", cafile=path, unreadable=f"cannot read {path}: {err.strerror}")
    return _Bundle(name, label, path, version, text, cafile=path)


def _bundles() -> List[_Bundle]:
    """certifi-native's bundle, the OS store, Mozilla's set, the installed
    certifi, and the files the CA variables name: every bundle a client may use."""
    current = info()
    mode = current["mode"] + (" with the Mozilla fallback" if current["mozilla_fallback"] else "")
    path = current["cache"]["path"]
    out = [_file_bundle("certifi-native", f"certifi-native ({mode} mode)", path, current["version"])]
    system = _native.source_bundle("system")
    out.append(_Bundle("system", "the OS store", None, None, system, cadata=system))
    mozilla = _native.source_bundle("mozilla")
    version = _native.MOZILLA_SET_VERSION
    label = f"Mozilla's set (webpki-root-certs {version})"
    out.append(_Bundle("mozilla", label, None, version, mozilla, cadata=mozilla))
    certifi = _certifi()
    if certifi is not None:
        path, version = certifi
        out.append(_file_bundle("certifi", f"certifi {version}", path, version))
    for variable in _BUNDLE_VARIABLES:
        value = os.environ.get(variable)
        if value:
            out.append(_file_bundle(variable, f"{variable} ({value})", value))
    return out


def _certifi() -> Optional[Tuple[str, str]]:
    """The installed certifi package's bundle and version, if there is one."""
    try:
        import certifi  # type: ignore[import-not-found,unused-ignore]
    except Exception:
        return None
    try:
        path = str(certifi.where())
    except Exception:
        return None
    try:  # the distribution's version, as pip shows it (2017.4.17, where __version__ says 2017.04.17)
        import importlib.metadata

        return path, importlib.metadata.version("certifi")
    except Exception:
        return path, str(getattr(certifi, "__version__", "unknown version"))


# --- verifying --------------------------------------------------------------


def _verify(target: _Target, bundle: _Bundle, strict: bool, timeout: float) -> Optional[Failure]:
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
        with _handshake(target, context, timeout):
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


def _judge(target: _Target, bundle: _Bundle, timeout: float) -> Tuple[Optional[Failure], Optional[Failure]]:
    """(the failure with this Python's default flags, the rejection that
    VERIFY_X509_STRICT alone decides, on this Python or on 3.13+)."""
    error = _verify(target, bundle, STRICT_BY_DEFAULT, timeout)
    if error is None and not STRICT_BY_DEFAULT:
        return None, _verify(target, bundle, True, timeout)
    if error is not None and STRICT_BY_DEFAULT and error.code is not None:
        if _verify(target, bundle, False, timeout) is None:
            return error, error
    return error, None


# --- diagnosing -------------------------------------------------------------


def _root_of(chain: List[Certificate], bundles: List[_Bundle]) -> Optional[Certificate]:
    """The certificate the top of the sent chain leads to: itself if self-signed,
    else its issuer as found in any bundle."""
    if not chain:
        return None
    top = chain[-1]
    if top.self_signed:
        return top
    for bundle in bundles:
        for cert in bundle.certs:
            if _issues(cert, top):
                return cert
    return None


def _fix_for_missing(bundle: _Bundle, found_in: List[str]) -> str:
    if bundle.name in ("certifi-native", "system"):
        text = (
            "add it to the OS store (Debian/Ubuntu: copy it to /usr/local/share/ca-certificates/NAME.crt "
            "and run update-ca-certificates), or name its PEM file in CERTIFI_NATIVE_EXTRA_CA_CERTS"
        )
        if bundle.name == "certifi-native" and "mozilla" in found_in:
            text += ", or set CERTIFI_NATIVE_MODE=merged to add Mozilla's set"
        return text
    if bundle.name == "certifi" and "mozilla" in found_in:
        return f"certifi {bundle.version} predates this root: upgrade certifi, or use certifi-native"
    if bundle.name == "certifi":
        return (
            "certifi holds only Mozilla's roots: use certifi-native (it reads the OS store), "
            "or point REQUESTS_CA_BUNDLE at a bundle that holds this root"
        )
    if bundle.name == "mozilla":
        return "Mozilla's set does not include it (a private or company CA): trust it through the OS store"
    return f"add it to {bundle.path}, or unset {bundle.name}"


def _finding(
    bundle: _Bundle,
    failure: Failure,
    strict_error: Optional[Failure],
    chain: List[Certificate],
    chain_complete: bool,
    bundles: List[_Bundle],
    host: str,
) -> _Finding:
    leaf = chain[0] if chain else None
    if strict_error is not None:
        return _strict_finding(bundle, strict_error, chain)
    if failure.kind == "unreadable_bundle":
        return _Finding(
            "unreadable_bundle",
            None,
            "{bundles}: " + failure.message,
            f"fix {bundle.path}, or unset {bundle.name}" if bundle.name in _BUNDLE_VARIABLES else "see the message",
        )
    if failure.kind == "missing_issuer" and chain:
        return _missing_finding(bundle, chain, chain_complete, bundles)
    if failure.kind == "self_signed_leaf" and leaf:
        return _Finding(
            "self_signed_leaf",
            leaf,
            f"The server's certificate {leaf.subject} (SHA-256 {leaf.sha256}) is self-signed: "
            "no CA vouches for it, so no bundle verifies it.",
            "have the server use a certificate from a CA you trust; or, if you trust this one server, "
            "give its certificate to your client alone (REQUESTS_CA_BUNDLE=server.pem or verify='server.pem')",
        )
    if failure.kind == "validity":
        return _validity_finding(bundle, failure, chain)
    if failure.kind == "hostname_mismatch" and leaf:
        names = ", ".join(leaf.names) or "no names (it has no subjectAltName)"
        return _Finding(
            "hostname_mismatch",
            leaf,
            f"The server's certificate {leaf.subject} covers {names}; not {host}.",
            f"connect with a name the certificate covers, or have it reissued with {host} in its subjectAltName",
        )
    return _Finding("other", None, "With {bundles}, OpenSSL says: " + failure.message, "see OpenSSL's words")


def _missing_finding(
    bundle: _Bundle, chain: List[Certificate], chain_complete: bool, bundles: List[_Bundle]
) -> _Finding:
    top = chain[-1]
    root = _root_of(chain, bundles)
    if root is not None:
        holders = [b for b in bundles if b.holds(root)]
        found_in = [b.name for b in holders]
        if root.self_signed:
            holding = ", ".join(b.label for b in holders)
            where = f" It is in: {holding}." if holders else " None of the bundles checked holds it."
            return _Finding(
                "root_not_in_bundle" if found_in else "unknown_root",
                root,
                f"The root CA {root.subject} (SHA-256 {root.sha256}) is not in " + "{bundles}." + where,
                _fix_for_missing(bundle, found_in),
                found_in,
            )
        return _Finding(
            "incomplete_chain",
            root,
            f"The server does not send the intermediate certificate {root.subject}; "
            f"only {', '.join(b.label for b in holders)} holds it.",
            "configure the server to send its full chain (leaf, then intermediates)",
            found_in,
        )
    if not chain_complete:
        return _Finding(
            "unknown_issuer",
            None,
            f"The issuer {top.issuer} of the server's certificate is in none of the bundles. Python "
            f"{sys.version_info[0]}.{sys.version_info[1]} shows only the server's own certificate, so a "
            "missing intermediate cannot be told from an unknown root.",
            "run the check with Python 3.10 or later to see the whole chain",
            missing_subject=top.issuer,
        )
    if top.ca:
        return _Finding(
            "unknown_root",
            None,
            f"The root CA {top.issuer}, issuer of {top.subject} (the last certificate the server sends), "
            "is not in {bundles}. None of the bundles checked holds it.",
            _fix_for_missing(bundle, []),
            missing_subject=top.issuer,
        )
    return _Finding(
        "incomplete_chain",
        None,
        f"The server sends only its own certificate, and its issuer {top.issuer} is in none of the bundles: "
        "most likely the server leaves out this intermediate certificate. (If it is instead a private root "
        "that signs server certificates directly, add it to the OS store or to CERTIFI_NATIVE_EXTRA_CA_CERTS.)",
        "configure the server to send its full chain (leaf, then intermediates; e.g. fullchain.pem)",
        missing_subject=top.issuer,
    )


def _validity_finding(bundle: _Bundle, failure: Failure, chain: List[Certificate]) -> _Finding:
    now = _iso(time.time())  # the ISO forms compare as the dates do
    root = _root_of(chain, [bundle])
    candidates = chain + ([root] if root is not None and root not in chain else [])
    for index, cert in enumerate(candidates):
        expired, early = cert.not_after < now, cert.not_before > now
        if not (expired or early):
            continue
        role = "server's certificate" if index == 0 else "root CA" if cert.self_signed else "intermediate certificate"
        when = f"expired on {cert.not_after}" if expired else f"is not valid before {cert.not_before}"
        if index == 0:
            fix = "renew the server's certificate" if expired else "check the clocks of the server and of this machine"
        elif index < len(chain):
            fix = "have the server send a current intermediate certificate"
        else:
            fix = f"{bundle.label} holds an outdated copy of this root: update that bundle"
        return _Finding(
            "expired" if expired else "not_yet_valid",
            cert,
            f"The {role} {cert.subject} {when} (valid {cert.not_before} to {cert.not_after}).",
            fix,
        )
    return _Finding("other", None, "With {bundles}, OpenSSL says: " + failure.message, "check this machine's clock")


def _strict_flaw(cert: Certificate) -> str:
    """What VERIFY_X509_STRICT holds against ``cert`` ('' if nothing we can name)."""
    if cert.ca and cert.basic_constraints_critical is False:
        return "its basicConstraints extension is not marked critical"
    if not cert.has_authority_key_id and not cert.self_signed:
        return "it has no authorityKeyIdentifier"
    if cert.ca and cert.subject_key_id is None:
        return "it has no subjectKeyIdentifier"
    return ""


def _strict_finding(bundle: _Bundle, strict_error: Failure, chain: List[Certificate]) -> _Finding:
    root = _root_of(chain, [bundle])
    candidates = chain + ([root] if root is not None and root not in chain else [])
    named = next((cert for cert in reversed(candidates) if _strict_flaw(cert)), None)
    what = f"{named.subject} (SHA-256 {named.sha256}): {_strict_flaw(named)}" if named else "a certificate of the chain"
    return _Finding(
        "strict_rejected",
        named,
        f"Python 3.13's strict X.509 checks (ssl.VERIFY_X509_STRICT) reject {what}. OpenSSL says: "
        f"{strict_error.message}. Without those checks the server verifies with " + "{bundles}.",
        "reissue the CA with a critical basicConstraints and with authority and subject key identifiers; "
        "meanwhile a client may clear ssl.VERIFY_X509_STRICT from its context's verify_flags",
    )


def _diagnose(
    results: List[Tuple[_Bundle, Optional[Failure], Optional[Failure]]],
    chain: List[Certificate],
    chain_complete: bool,
    host: str,
) -> List[Diagnosis]:
    """One diagnosis per (kind, severity, certificate), naming every bundle it hits."""
    bundles = [bundle for bundle, _, _ in results]
    found: Dict[Tuple[str, str, str], Diagnosis] = {}
    for bundle, error, strict_error in results:
        failure = error or strict_error
        if failure is None:
            continue
        finding = _finding(bundle, failure, strict_error, chain, chain_complete, bundles, host)
        severity = "error" if error is not None else "warning"
        cert = finding.certificate
        subject = cert.subject if cert else finding.missing_subject
        key = (finding.kind, severity, subject or finding.message)
        if key in found:
            found[key].bundles.append(bundle.name)
            if finding.fix not in found[key].fix:
                found[key].fix.append(finding.fix)
            continue
        found[key] = Diagnosis(
            kind=finding.kind,
            severity=severity,
            bundles=[bundle.name],
            subject=subject,
            sha256=cert.sha256 if cert else None,
            certificate=cert,
            found_in=finding.found_in,
            message=finding.message,
            fix=[finding.fix],
        )
    labels = {bundle.name: bundle.label for bundle in bundles}
    for diagnosis in found.values():
        diagnosis.message = diagnosis.message.replace("{bundles}", ", ".join(labels[n] for n in diagnosis.bundles))
    return list(found.values())


# --- the whole check --------------------------------------------------------


def check(url: str, timeout: float = 10.0) -> Report:
    """Connects to ``url``, captures the chain the server sends and verifies it
    against every bundle in use. Raises ``CheckError`` when no TLS connection
    can be made."""
    target = _target(url)
    sent, chain_complete = _capture(target, timeout)
    chain = _describe("".join(ssl.DER_cert_to_PEM_cert(der) for der in sent))
    bundles = _bundles()
    verdicts: Dict[str, Tuple[Optional[Failure], Optional[Failure]]] = {}
    results = []
    for bundle in bundles:
        key = bundle.identity()
        if key not in verdicts:
            verdicts[key] = _judge(target, bundle, timeout)
        error, strict_error = verdicts[key]
        results.append((bundle, error, strict_error))
    outcomes = [
        BundleResult(b.name, b.label, b.path, b.version, len(b.certs), error is None, error, strict_error)
        for b, error, strict_error in results
    ]
    return Report(
        schema=SCHEMA,
        url=url,
        host=target.host,
        port=target.port,
        proxy=target.proxy_url,
        python=sys.version.split()[0],
        openssl=ssl.OPENSSL_VERSION,
        strict_by_default=STRICT_BY_DEFAULT,
        chain_complete=chain_complete,
        chain=chain,
        bundles=outcomes,
        diagnoses=_diagnose(results, chain, chain_complete, target.host),
        ok=outcomes[0].verified,
    )


def error_dict(url: str, err: CheckError) -> Dict[str, Any]:
    """The JSON of a check that could not connect (same top-level keys as a report)."""
    return {
        "schema": SCHEMA,
        "url": url,
        "ok": False,
        "exit_code": err.exit_code,
        "error": {"kind": err.kind, "message": err.message},
    }


# --- text -------------------------------------------------------------------


def _text(report: Report) -> str:
    via = f" via the proxy {report.proxy}" if report.proxy else ""
    lines = [
        f"certifi-native check {report.url}{via}",
        f"  Python {report.python}, {report.openssl}, VERIFY_X509_STRICT "
        + ("on" if report.strict_by_default else "off (on from Python 3.13)"),
        "",
        f"The server sends {len(report.chain)} certificate(s)"
        + ("" if report.chain_complete else " (this Python shows only the first)")
        + ":",
    ]
    for index, cert in enumerate(report.chain):
        names = f"; names: {', '.join(cert.names)}" if cert.names else ""
        lines.append(f"  [{index}] {cert.subject}")
        lines.append(f"      issued by {cert.issuer}")
        lines.append(f"      valid {cert.not_before} to {cert.not_after}{names}")
        lines.append(f"      SHA-256 {cert.sha256}")
    lines += ["", "Bundles:"]
    for bundle in report.bundles:
        verdict = "ok  " if bundle.verified else "FAIL"
        why = f"; OpenSSL: {bundle.error.message}" if bundle.error else ""
        if bundle.verified and bundle.strict_error:
            why = f"; Python 3.13+ would reject: {bundle.strict_error.message}"
        where = f" in {bundle.path}" if bundle.path else ""
        lines.append(f"  {verdict} {bundle.label}: {bundle.roots} roots{where}{why}")
    if report.diagnoses:
        lines += ["", "Diagnosis:"]
    for diagnosis in report.diagnoses:
        lines.append(f"  {diagnosis.severity.upper()} [{diagnosis.kind}] {diagnosis.message}")
        lines.extend(f"    fix: {fix}" for fix in diagnosis.fix)
    lines.append("")
    if report.ok:
        lines.append("Result: certifi-native's bundle verifies this server.")
    else:
        lines.append("Result: certifi-native's bundle does NOT verify this server.")
    return "\n".join(lines)
