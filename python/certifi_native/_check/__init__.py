"""``certifi-native check URL``: capture the chain a server sends, verify it
against each CA bundle in use, and say in plain words why one fails.

The oracle is a real TLS handshake per bundle with ``ssl.create_default_context``
(the same OpenSSL and flags that urllib3, hence requests, uses on this Python),
so a verdict here is the verdict the user's client gets. See docs/check.md.
"""

from __future__ import annotations

import ssl
import sys
from typing import Any, Dict, Optional, Tuple

from .bundles import STRICT_BY_DEFAULT, describe, gather, judge
from .connect import capture, parse_target
from .diagnose import diagnose
from .report import EXIT_CODES, SCHEMA, BundleResult, CheckError, Failure, Report

__all__ = ["EXIT_CODES", "CheckError", "Report", "check", "error_dict"]


def check(url: str, timeout: float = 10.0) -> Report:
    """Connects to ``url``, captures the chain the server sends and verifies it
    against every bundle in use. Raises ``CheckError`` when no TLS connection
    can be made."""
    target = parse_target(url)
    sent, chain_complete = capture(target, timeout)
    chain = describe("".join(ssl.DER_cert_to_PEM_cert(der) for der in sent))
    bundles = gather()
    verdicts: Dict[str, Tuple[Optional[Failure], Optional[Failure]]] = {}
    results = []
    for bundle in bundles:
        key = bundle.identity()
        if key not in verdicts:
            verdicts[key] = judge(target, bundle, timeout)
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
        diagnoses=diagnose(results, chain, chain_complete, target.host),
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
