"""From OpenSSL's verify codes, the captured chain and what each bundle holds
to diagnoses in plain words, each with its fix."""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Dict, List, Optional, Tuple

from .bundles import BUNDLE_VARIABLES, Bundle, iso, issues
from .report import Certificate, Diagnosis, Failure


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


def _root_of(chain: List[Certificate], bundles: List[Bundle]) -> Optional[Certificate]:
    """The certificate the top of the sent chain leads to: itself if self-signed,
    else its issuer as found in any bundle."""
    if not chain:
        return None
    top = chain[-1]
    if top.self_signed:
        return top
    for bundle in bundles:
        for cert in bundle.certs:
            if issues(cert, top):
                return cert
    return None


def _certifi_advice() -> str:
    """How to have certifi's callers use certifi-native's bundle here, which is
    installed (this runs from it) but does not point certifi at its bundle."""
    from .. import _activate

    done = _activate.status()
    if not done["ran"]:
        return (
            "certifi-native's start-up hook did not run in this interpreter (python -S, or an editable "
            "install): install certifi-native from its wheel so it points certifi at its bundle, or pass "
            "verify=certifi_native.where()"
        )
    return (
        f"let certifi-native point certifi at its bundle: unset {_activate.AUTO} "
        f"(it is {done['auto']!r} here), or pass verify=certifi_native.where()"
    )


_ADD_TO_STORE = (
    "add it to the OS store (Debian/Ubuntu: copy it to /usr/local/share/ca-certificates/NAME.crt "
    "and run update-ca-certificates)"
)


def _fix_for_missing(bundle: Bundle, found_in: List[str]) -> str:
    if bundle.name in ("certifi-native", "system"):
        text = _ADD_TO_STORE + ", or name its PEM file in CERTIFI_NATIVE_EXTRA_CA_CERTS"
        if bundle.name == "certifi-native" and "mozilla" in found_in:
            text += ", or set CERTIFI_NATIVE_MODE=merged to add Mozilla's set"
        return text
    if bundle.name == "certifi" and not bundle.used_by:
        return ""  # no client here reads certifi's own file: nothing to fix
    if bundle.name == "certifi" and "mozilla" in found_in:
        return f"certifi {bundle.version} predates this root: upgrade certifi, or " + _certifi_advice()
    if bundle.name == "certifi":
        return "certifi holds only Mozilla's roots: " + _certifi_advice()
    if bundle.name == "mozilla":
        return "Mozilla's set does not include it (a private or company CA): trust it through the OS store"
    return _fix_variable(bundle, found_in)


def _fix_variable(bundle: Bundle, found_in: List[str]) -> str:
    if bundle.name == "openssl":
        return _ADD_TO_STORE + ", or pass the client a context from certifi_native.ssl_context()"
    if bundle.name not in BUNDLE_VARIABLES:
        return f"add it to {bundle.path}"
    if "certifi-native" in found_in:
        then = (
            "its activation then sets REQUESTS_CA_BUNDLE to it"
            if bundle.name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
            else "httpx then uses certifi.where(), which certifi-native's activation points at it"
        )
        unset = f"unset {bundle.name}: certifi-native's bundle holds this root ({then})"
        return f"{unset}; or add the root to {bundle.path}"
    return f"add it to {bundle.path}, or unset {bundle.name}"


def _finding(
    bundle: Bundle,
    failure: Failure,
    strict_error: Optional[Failure],
    chain: List[Certificate],
    chain_complete: bool,
    bundles: List[Bundle],
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
            f"fix {bundle.path}, or unset {bundle.name}" if bundle.name in BUNDLE_VARIABLES else "see the message",
        )
    if failure.kind == "missing_issuer" and chain:
        return _missing_finding(bundle, chain, chain_complete, bundles)
    if failure.kind == "self_signed_leaf" and leaf:
        return _Finding(
            "self_signed_leaf",
            leaf,
            f"The server's certificate {leaf.subject} (SHA-256 {leaf.sha256}) is self-signed: "
            "no CA vouches for it, so " + "{bundles} cannot verify it.",
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
    bundle: Bundle, chain: List[Certificate], chain_complete: bool, bundles: List[Bundle]
) -> _Finding:
    top = chain[-1]
    root = _root_of(chain, bundles)
    holders = [b for b in bundles if root is not None and b.holds(root)]
    found_in = [b.name for b in holders]
    if root is not None and root.self_signed:
        holding = ", ".join(b.label for b in holders)
        where = f" It is in: {holding}." if holders else " None of the bundles checked holds it."
        return _Finding(
            "root_not_in_bundle" if found_in else "unknown_root",
            root,
            f"The root CA {root.subject} (SHA-256 {root.sha256}) is not in " + "{bundles}." + where,
            _fix_for_missing(bundle, found_in),
            found_in,
        )
    if not chain_complete:  # what the server sends beyond its own certificate is unknown
        return _Finding(
            "unknown_issuer",
            None,
            f"The issuer {top.issuer} of the server's certificate is not in " + "{bundles}. Python "
            f"{sys.version_info[0]}.{sys.version_info[1]} shows only the server's own certificate, so a "
            "missing intermediate cannot be told from an unknown root.",
            "run the check with Python 3.10 or later to see the whole chain",
            found_in,
            missing_subject=top.issuer,
        )
    if root is not None:
        return _Finding(
            "incomplete_chain",
            root,
            f"The server does not send the intermediate certificate {root.subject}; "
            f"only {', '.join(b.label for b in holders)} holds it.",
            "configure the server to send its full chain (leaf, then intermediates)",
            found_in,
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


def _validity_finding(bundle: Bundle, failure: Failure, chain: List[Certificate]) -> _Finding:
    now = iso(time.time())  # the ISO forms compare as the dates do
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


def _strict_finding(bundle: Bundle, strict_error: Failure, chain: List[Certificate]) -> _Finding:
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


def diagnose(
    results: List[Tuple[Bundle, Optional[Failure], Optional[Failure]]],
    chain: List[Certificate],
    chain_complete: bool,
    host: str,
) -> List[Diagnosis]:
    """One diagnosis per (kind, certificate, strict or not), naming every
    bundle it hits; its severity is that of the bundles a client reads
    ("note" when it hits none of them)."""
    bundles = [bundle for bundle, _, _ in results]
    found: Dict[Tuple[str, bool, str], Diagnosis] = {}
    # Per diagnosis: the fixes for bundles some client reads, and the others.
    fixes: Dict[Tuple[str, bool, str], Tuple[List[str], List[str]]] = {}
    for bundle, error, strict_error in results:
        failure = error or strict_error
        if failure is None:
            continue
        finding = _finding(bundle, failure, strict_error, chain, chain_complete, bundles, host)
        cert = finding.certificate
        subject = cert.subject if cert else finding.missing_subject
        key = (finding.kind, error is None, subject or finding.message)
        for_read, for_others = fixes.setdefault(key, ([], []))
        into = for_read if bundle.used_by else for_others
        if finding.fix and finding.fix not in into:
            into.append(finding.fix)
        if key in found:
            found[key].bundles.append(bundle.name)
            continue
        found[key] = Diagnosis(
            kind=finding.kind,
            severity="error" if error is not None else "warning",
            bundles=[bundle.name],
            subject=subject,
            sha256=cert.sha256 if cert else None,
            certificate=cert,
            found_in=finding.found_in,
            message=finding.message,
            fix=[],
        )
    labels = {bundle.name: bundle.label for bundle in bundles}
    for key, diagnosis in found.items():
        diagnosis.message = diagnosis.message.replace("{bundles}", ", ".join(labels[n] for n in diagnosis.bundles))
        for_read, for_others = fixes[key]
        # The fixes that matter are those for what a client reads; a note keeps the others.
        diagnosis.fix = for_read or for_others
        if not for_read and not any(b.used_by for b in bundles if b.name in diagnosis.bundles):
            diagnosis.severity = "note"
    return sorted(found.values(), key=lambda d: d.severity == "note")
