"""The bundles a client may be using, the certificates each holds, and the
verdict of a real TLS handshake with each."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import os
import socket
import ssl
import stat
import sys
from typing import BinaryIO, List, Optional, Tuple

from .. import _native, info
from .connect import Deadline, Target, handshake
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

# The CA variables a Python client may be using: requests reads the first
# two, httpx and OpenSSL (hence urllib and ssl) the last two.
BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


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
    # True for OpenSSL's default paths: the context is create_default_context() itself.
    defaults: bool = False
    certs: List[Certificate] = dataclasses.field(default_factory=list)
    # Filled by check(): which clients read it here; system and mozilla are references.
    used_by: List[str] = dataclasses.field(default_factory=list)
    reference: bool = False

    def __post_init__(self) -> None:
        self.certs = describe(self.pem)

    def holds(self, cert: Certificate) -> bool:
        return any(_same_ca(cert, mine) for mine in self.certs)

    def context(self) -> ssl.SSLContext:
        if self.defaults:
            return ssl.create_default_context()
        return ssl.create_default_context(cafile=self.cafile, capath=self.capath, cadata=self.cadata)

    def identity(self) -> str:
        """Bundles with the same identity verify alike: one handshake serves them all."""
        if self.unreadable or self.capath or self.defaults:
            return f"{self.name}: {self.path}: {self.unreadable}"
        return hashlib.sha256(self.pem.encode()).hexdigest()


# The most of one bundle file check reads: far above any real bundle (certifi's
# is 300 KB), far below what would exhaust memory.
MAX_BUNDLE_BYTES = 32 * 1024 * 1024


class Unreadable(Exception):
    """A file or folder check will not hand to OpenSSL, and why."""


def read_regular(path: str) -> str:
    """The text of ``path`` if it is a regular file of bounded size. Opened
    without blocking (a FIFO would wait for a writer forever), checked before
    and after the open."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise Unreadable(f"{path} is not a regular file ({_kind_of(path)}): not read")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as err:
        raise Unreadable(f"cannot read {path}: {err.strerror or err}") from None
    with os.fdopen(fd, "rb") as file:
        meta = os.fstat(file.fileno())
        if not stat.S_ISREG(meta.st_mode):  # swapped between the checks
            raise Unreadable(f"{path} is not a regular file ({_kind_of(path)}): not read")
        data = _read_bounded(file, meta.st_size)
    if len(data) > MAX_BUNDLE_BYTES:
        limit = MAX_BUNDLE_BYTES // (1024 * 1024)
        raise Unreadable(f"{path} is larger than {limit} MiB: not a CA bundle, not read")
    return data.decode("ascii", errors="replace")


def _read_bounded(file: BinaryIO, size: int) -> bytes:
    """At most MAX_BUNDLE_BYTES + 1 bytes of ``file``, asking for its size
    first: one read of the bound would allocate 32 MiB per file on PyPy."""
    data = b""
    want = size + 1  # one byte more tells that it grew
    while len(data) <= MAX_BUNDLE_BYTES:
        chunk = file.read(min(want, MAX_BUNDLE_BYTES + 1 - len(data)))
        if not chunk:
            break
        data += chunk
        want = 1 << 20
    return data


def _kind_of(path: str) -> str:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "gone"
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    )
    return next((name for test, name in kinds if test(mode)), "not a file")


def read_folders(value: str) -> str:
    """The certificates of the regular files in ``value`` (folders separated as
    OpenSSL separates SSL_CERT_DIR's). An entry that is not a regular file
    (a FIFO...) makes it unreadable: OpenSSL would block opening it."""
    texts = []
    for folder in filter(None, value.split(os.pathsep)):
        try:
            entries = sorted(os.listdir(folder))
        except FileNotFoundError:
            continue  # OpenSSL looks in the others
        except OSError as err:
            raise Unreadable(f"cannot read the folder {folder}: {err.strerror or err}") from None
        for entry in entries:
            path = os.path.join(folder, entry)
            if os.path.isdir(path):
                continue
            if os.path.exists(path):  # not a dangling link, which OpenSSL skips too
                texts.append(read_regular(path))
    return "".join(texts)


def file_bundle(name: str, label: str, path: str, version: Optional[str] = None) -> Bundle:
    folders = path.split(os.pathsep) if name == "SSL_CERT_DIR" else [path]  # OpenSSL's list
    try:
        if any(os.path.isdir(folder) for folder in folders):
            return Bundle(name, label, path, version, read_folders(path), capath=path)
        return Bundle(name, label, path, version, read_regular(path), cafile=path)
    except Unreadable as why:
        return Bundle(name, label, path, version, "", cafile=path, unreadable=str(why))


def defaults_bundle() -> Bundle:
    """OpenSSL's default verify paths, as ``ssl.create_default_context()`` loads
    them: ``SSL_CERT_FILE`` or the built-in file, and ``SSL_CERT_DIR`` or the built-in folder."""
    paths = ssl.get_default_verify_paths()
    file = os.environ.get(paths.openssl_cafile_env) or paths.openssl_cafile
    folder = os.environ.get(paths.openssl_capath_env) or paths.openssl_capath
    label = f"OpenSSL's default paths (file {file}, folder {folder})"
    try:
        texts = [read_regular(file) if os.path.exists(file) else ""]
        texts.append(read_folders(folder))
    except Unreadable as why:
        return Bundle("openssl", label, file, None, "", unreadable=str(why))
    bundle = Bundle("openssl", label, file, None, "".join(texts), defaults=True)
    # Debian's file and folder hold the same roots: count each once.
    bundle.certs = list({cert.sha256: cert for cert in bundle.certs}.values())
    return bundle


def gather() -> Tuple[List[Bundle], List[str]]:
    """certifi-native's bundle, the OS store, Mozilla's set, the installed
    certifi, and the files the CA variables name: every bundle a client may
    use; and notes on the variables (one that points back at a bundle...)."""
    current = info()
    mode = current["mode"] + (" with the Mozilla fallback" if current["mozilla_fallback"] else "")
    path = current["cache"]["path"]
    out = [file_bundle("certifi-native", f"certifi-native ({mode} mode)", path, current["version"])]
    system = _native.source_bundle("system")
    out.append(Bundle("system", "the OS store", None, None, system, cadata=system, reference=True))
    mozilla = _native.source_bundle("mozilla")
    version = _native.MOZILLA_SET_VERSION
    label = f"Mozilla's set (webpki-root-certs {version})"
    out.append(Bundle("mozilla", label, None, version, mozilla, cadata=mozilla, reference=True))
    certifi = certifi_own()
    if certifi is not None:
        certifi_path, certifi_version = certifi
        out.append(file_bundle("certifi", f"certifi {certifi_version}", certifi_path, certifi_version))
    for variable in BUNDLE_VARIABLES:
        value = os.environ.get(variable)
        if value and same_file(value, path):  # e.g. set by activation: one bundle, not two
            out[0].label += f", named by {variable} too"
        elif value:
            out.append(file_bundle(variable, f"{variable} ({value})", value))
    return out, _pointing_back(path, certifi)


def _pointing_back(ours: str, certifi: Optional[Tuple[str, str]]) -> List[str]:
    """Notes for a store variable naming a bundle rather than the OS store
    (``SSL_CERT_FILE=$(python -m certifi)``): certifi-native then reads that bundle as the OS store."""
    notes = []
    for variable in ("SSL_CERT_FILE",):
        value = os.environ.get(variable)
        if not value:
            continue
        if same_file(value, ours) or _native.is_bundle_path(value):
            notes.append(
                f"{variable} names certifi-native's own bundle ({value}; `{variable}=$(python -m certifi)` does this "
                f"while certifi-native is active): certifi-native reads {variable} as the OS store, so it re-reads "
                f"its own output and misses what the OS store gains later; unset {variable}"
            )
        elif certifi is not None and same_file(value, certifi[0]):
            notes.append(
                f"{variable} names certifi's own cacert.pem ({value}, certifi {certifi[1]}: Mozilla's set of that "
                f"release): certifi-native reads {variable} as the OS store, so the roots your OS trusts are not "
                f"in its bundle; unset {variable}, or point it at the OS store's file"
            )
    return notes


def same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def certifi_own() -> Optional[Tuple[str, str]]:
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


def _verify(target: Target, bundle: Bundle, strict: bool, deadline: Deadline) -> Optional[Failure]:
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
        with handshake(target, context, deadline):
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


def judge(target: Target, bundle: Bundle, deadline: Deadline) -> Tuple[Optional[Failure], Optional[Failure]]:
    """(the failure with this Python's default flags, the rejection that
    VERIFY_X509_STRICT alone decides, on this Python or on 3.13+)."""
    error = _verify(target, bundle, STRICT_BY_DEFAULT, deadline)
    if error is None and not STRICT_BY_DEFAULT:
        return None, _verify(target, bundle, True, deadline)
    if error is not None and STRICT_BY_DEFAULT and error.code is not None:
        if _verify(target, bundle, False, deadline) is None:
            return error, error
    return error, None
