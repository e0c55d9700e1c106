"""The report of a check: what the server sent, each bundle's verdict, the
diagnoses, and its text; the error when no TLS connection can be made."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional

SCHEMA = 2
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
    "tls_error": 10,
}


class CheckError(Exception):
    """No TLS connection could be made (``certifi_native.CheckError``):
    ``kind`` is a key of ``EXIT_CODES``, ``exit_code`` its value, ``message``
    one line for people."""

    kind: str
    message: str
    exit_code: int

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
    # The clients (of CLIENTS) that read this bundle in this environment; empty
    # for a file no client reads and for the references (system, mozilla).
    used_by: List[str]
    reference: bool


@dataclasses.dataclass
class Client:
    """The bundle the chosen client uses in this environment, and how that was decided."""

    name: str  # one of CLIENTS
    source: str  # what named it: "REQUESTS_CA_BUNDLE", "certifi.where()", "OpenSSL's default paths"...
    path: Optional[str]
    set_by: Optional[str]  # who set the variable, when a variable named it
    bundle: str  # the name of its row in ``bundles``
    verified: bool
    rule: str  # the client's precedence, in words


@dataclasses.dataclass
class Diagnosis:
    kind: str
    # "error": a bundle some client reads fails on this Python; "warning": it
    # passes here, fails on 3.13+; "note": only bundles no client reads fail.
    severity: str
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
    client: Client
    bundles: List[BundleResult]
    diagnoses: List[Diagnosis]
    notes: List[str]
    ok: bool  # the client's bundle verifies

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.ok else EXIT_NOT_VERIFIED

    def as_dict(self) -> Dict[str, Any]:
        out = dataclasses.asdict(self)
        out["exit_code"] = self.exit_code
        out["error"] = None
        return out

    def __str__(self) -> str:
        return render_text(self)


def _used_by(bundle: BundleResult) -> str:
    if bundle.reference:
        return "for comparison"
    return ", ".join(bundle.used_by) if bundle.used_by else "no client here reads it"


def client_bundle(client: Client) -> str:
    """``REQUESTS_CA_BUNDLE=/path (set by you or a parent process)``, ``certifi.where() (/path)``..."""
    if client.path and client.source.isupper():  # a variable
        return f"{client.source}={client.path}" + (f" (set by {client.set_by})" if client.set_by else "")
    return client.source + (f" ({client.path})" if client.path else "")


def render_text(report: Report) -> str:
    via = f" via the proxy {report.proxy}" if report.proxy else ""
    lines = [
        f"certifi-native check {report.url}{via}",
        f"  Python {report.python}, {report.openssl}, VERIFY_X509_STRICT "
        + ("on" if report.strict_by_default else "off (on from Python 3.13)"),
        f"  Client: {report.client.name} ({report.client.rule}): here {client_bundle(report.client)}",
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
    lines += ["", "Bundles [who reads each here]:"]
    for bundle in report.bundles:
        verdict = "ok  " if bundle.verified else "FAIL"
        why = f"; OpenSSL: {bundle.error.message}" if bundle.error else ""
        if bundle.verified and bundle.strict_error:
            why = f"; Python 3.13+ would reject: {bundle.strict_error.message}"
        where = f" in {bundle.path}" if bundle.path else ""
        lines.append(f"  {verdict} {bundle.label} [{_used_by(bundle)}]: {bundle.roots} roots{where}{why}")
    if report.diagnoses:
        lines += ["", "Diagnosis:"]
    for diagnosis in report.diagnoses:
        lines.append(f"  {diagnosis.severity.upper()} [{diagnosis.kind}] {diagnosis.message}")
        lines.extend(f"    fix: {fix}" for fix in diagnosis.fix)
    if report.notes:
        lines += ["", "Notes:"]
        lines.extend(f"  {note}" for note in report.notes)
    lines += ["", result_line(report)]
    return "\n".join(lines)


def result_line(report: Report) -> str:
    client = report.client
    if report.ok:
        return f"Result: {client.name} here verifies this server, with {client_bundle(client)}."
    causes = [d.kind for d in report.diagnoses if client.bundle in d.bundles]
    why = f": see [{'], ['.join(causes)}] above" if causes else ""
    return f"Result: {client.name} here does NOT verify this server, with {client_bundle(client)}{why}."
