"""The report of a check: what the server sent, each bundle's verdict, the
diagnoses, and its text; the error when no TLS connection can be made."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional

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
        return render_text(self)


def render_text(report: Report) -> str:
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
