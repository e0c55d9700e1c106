"""``certifi-native check URL``: capture the chain a server sends, verify it
against each CA bundle in use, and say in plain words why one fails; the
verdict is that of the bundle the chosen client uses in this environment.

The oracle is a real TLS handshake per bundle with ``ssl.create_default_context``
(the same OpenSSL and flags that urllib3, hence requests, uses on this Python),
so a verdict here is the verdict the user's client gets. See docs/check.md.
"""

from __future__ import annotations

import math
import ssl
import sys
from typing import Any, Dict, Optional, Tuple

from .bundles import STRICT_BY_DEFAULT, describe, gather, judge
from .clients import CLIENTS, RULES, add_row, mark_readers, resolve, row_for
from .connect import Deadline, capture, parse_target
from .diagnose import diagnose
from .report import EXIT_CODES, SCHEMA, BundleResult, CheckError, Client, Failure, Report

__all__ = ["CLIENTS", "EXIT_CODES", "CheckError", "Report", "check", "error_dict"]


def check(url: str, timeout: float = 10.0, client: str = "requests") -> Report:
    """Connects to ``url``, captures the chain the server sends and verifies it
    against every bundle in use; the verdict is that of the bundle ``client``
    uses in this environment. ``timeout`` bounds the whole check. Raises
    ``CheckError`` when no TLS connection can be made."""
    if client not in CLIENTS:
        raise ValueError(f"unknown client {client!r}: expected one of {', '.join(CLIENTS)}")
    if not (math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a positive, finite number of seconds, not {timeout!r}")
    deadline = Deadline(timeout)
    target = parse_target(url)
    sent, chain_complete = capture(target, deadline)
    chain = describe("".join(ssl.DER_cert_to_PEM_cert(der) for der in sent))
    bundles, notes = gather()
    source, path, set_by = resolve(client)
    row = row_for(source, path, bundles) or add_row(source, path, bundles)
    mark_readers(bundles)
    verdicts: Dict[str, Tuple[Optional[Failure], Optional[Failure]]] = {}
    results = []
    for bundle in bundles:
        key = bundle.identity()
        if key not in verdicts:
            verdicts[key] = judge(target, bundle, deadline)
        error, strict_error = verdicts[key]
        results.append((bundle, error, strict_error))
    outcomes = [
        BundleResult(
            b.name, b.label, b.path, b.version, len(b.certs), error is None, error, strict_error,
            list(b.used_by), b.reference,
        )
        for b, error, strict_error in results
    ]
    verified = next(o.verified for o in outcomes if o.name == row.name)
    chosen = Client(client, source, path, set_by, row.name, verified, RULES[client])
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
        client=chosen,
        bundles=outcomes,
        diagnoses=diagnose(results, chain, chain_complete, target.host),
        notes=notes,
        ok=verified,
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
