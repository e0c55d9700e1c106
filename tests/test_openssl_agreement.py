"""No certificate OpenSSL would refuse reaches a bundle: the Rust judging
(core/src/x509.rs) against OpenSSL itself, on the host's store, Mozilla's set
and certificates whose bytes are edited one field at a time. One certificate
OpenSSL cannot decode makes it refuse the whole bundle file."""

from __future__ import annotations

import datetime
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    HOST_STORE,
    build_cert,
    bundle_ders,
    colon_sha256,
    clean_env,
    openssl_roots,
    pem_ders,
    probe,
    self_signed_ca,
    write_pem,
    x509_name,
)
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

MARK = b"QQQQ"


def template() -> bytes:
    """A self-signed CA whose subject CN is the PrintableString QQQQ, serial
    0x80 (encoded 02 02 00 80), so single fields can be edited in place."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, MARK.decode(), _ASN1Type.PrintableString)])
    cert = build_cert(
        subject,
        key,
        (x509_name("certifi-native agreement issuer"), key),
        serial=0x80,
        valid_from=datetime.timedelta(days=-1),
        valid_until=datetime.timedelta(days=30),
    )
    return cert.public_bytes(serialization.Encoding.DER)


def edit(der: bytes, old: bytes, new: bytes) -> bytes:
    assert len(old) == len(new) and der.count(old) == 1, (old, new)
    return der.replace(old, new)


def variants() -> dict[str, bytes]:
    """Each name edits one field of the template, keeping every length."""
    base = template()
    value = b"\x13\x04" + MARK
    out = {"unchanged": base}
    for tag in range(0x00, 0x1F):
        out[f"CN value tag {tag:#04x}"] = edit(base, value, bytes([tag, 4]) + MARK)
    out.update(
        {
            "CN value tag 0x30 (SEQUENCE)": edit(base, value, b"\x30\x04" + MARK),
            "CN value tag 0x31 (SET)": edit(base, value, b"\x31\x04" + MARK),
            "CN value context-tagged": edit(base, value, b"\x80\x04" + MARK),
            "CN UTF8String, invalid UTF-8": edit(base, value, b"\x0c\x04\xff\xfe\xfd\xfc"),
            "CN UTF8String, a surrogate": edit(base, value, b"\x0c\x04\xed\xa0\x80Q"),
            "CN BMPString, a lone surrogate": edit(base, value, b"\x1e\x04\xd8\x00\x00Q"),
            "CN BMPString, valid": edit(base, value, b"\x1e\x04\x00Q\x00Q"),
            "CN UniversalString, beyond U+10FFFF": edit(base, value, b"\x1c\x04\x00\x11\x00\x00"),
            "CN UniversalString, valid": edit(base, value, b"\x1c\x04\x00\x00\x00Q"),
            "CN BIT STRING, 7 unused bits": edit(base, value, b"\x03\x04\x07QQQ"),
            "CN BIT STRING, 8 unused bits": edit(base, value, b"\x03\x04\x08QQQ"),
            "CN PrintableString, control bytes": edit(base, value, b"\x13\x04\x00\x01\x02\x03"),
            "CN constructed UTF8String (BER)": edit(base, value, b"\x2c\x04\x0c\x02QQ"),
            "CN type OID, unfinished": edit(base, b"\x06\x03\x55\x04\x03\x13", b"\x06\x03\x55\x04\x83\x13"),
            "CN type OID, padded": edit(base, b"\x06\x03\x55\x04\x03\x13", b"\x06\x03\x55\x80\x03\x13"),
            "CN type not an OID": edit(base, b"\x06\x03\x55\x04\x03\x13", b"\x04\x03\x55\x04\x03\x13"),
            "serial padded": edit(base, b"\x02\x02\x00\x80", b"\x02\x02\x00\x7f"),
            "serial negative": edit(base, b"\x02\x02\x00\x80", b"\x02\x02\xff\x00"),
            "version 1 (v2)": edit(base, b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x01"),
            "version 3 (v4)": edit(base, b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x03"),
            "version as OCTET STRING": edit(base, b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x04\x01\x02"),
            "basicConstraints critical flag 0xff": base,  # already DER TRUE: a control
        }
    )
    return out


def openssl_accepts(der: bytes, folder: Path) -> bool:
    """Whether OpenSSL (Python's ssl) loads a file holding this one certificate."""
    path = write_pem(folder / "one.pem", ssl.DER_cert_to_PEM_cert(der).encode("ascii"))
    try:
        openssl_roots(path)
    except ssl.SSLError:
        return False
    cli = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout"], input=der, capture_output=True)
    return cli.returncode == 0


def judged(home: Path, files: list[Path], **settings: str) -> dict[str, Any]:
    env = clean_env(home, CERTIFI_NATIVE_EXTRA_CA_CERTS=":".join(map(str, files)), **settings)
    return probe(env)


def test_every_edit_is_judged_as_openssl_decodes_it(tmp_path: Path, home: Path) -> None:
    cases = variants()
    files = {}
    for index, (label, der) in enumerate(cases.items()):
        files[label] = write_pem(tmp_path / f"case-{index}.pem", ssl.DER_cert_to_PEM_cert(der).encode("ascii"))
    os_store = write_pem(tmp_path / "empty-store.pem", b"")
    seen = judged(home, list(files.values()), SSL_CERT_FILE=str(os_store), CERTIFI_NATIVE_MODE="system")
    report = seen["info"]
    where = seen["where"]
    # The bundle loads in OpenSSL, whole: nothing in it is refused.
    kept_ders = bundle_ders(Path(where).read_text("ascii"))
    assert openssl_roots(where) == len(kept_ders)
    disagreements = []
    for label, der in cases.items():
        source = f"extra ({files[label]})"
        reasons = [d["reason"] for d in report["dropped"] if d["source"] == source]
        ours = der in kept_ders
        theirs = openssl_accepts(der, tmp_path)
        if ours and not theirs:
            disagreements.append(f"{label}: kept, but OpenSSL refuses it")
        if theirs and not ours and not reasons[0].startswith(("not DER", "duplicate")):
            disagreements.append(f"{label}: OpenSSL takes it, dropped as {reasons}")
        if not theirs:
            assert reasons and reasons[0].startswith(("OpenSSL would refuse it: ", "not DER", "not an X.509")), (label, reasons)
    assert disagreements == []
    integer_cn = [d for d in report["dropped"] if d["source"] == f"extra ({files['CN value tag 0x02']})"]
    assert integer_cn[0]["reason"] == (
        "OpenSSL would refuse it: subject: a value of tag 0x02 (INTEGER) where a string belongs"
    )


def test_every_root_of_the_host_store_and_mozillas_set_is_kept_as_openssl_loads_it(home: Path) -> None:
    # SSL_CERT_FILE/SSL_CERT_DIR as the OS store: our reader on the host's files.
    env = clean_env(home, SSL_CERT_FILE=str(HOST_STORE / "ca-certificates.crt"), SSL_CERT_DIR=str(HOST_STORE), CERTIFI_NATIVE_MODE="merged")
    seen = probe(env)
    report = seen["info"]
    assert [d for d in report["dropped"] if not d["reason"].startswith(("expired", "duplicate"))] == []
    assert report["errors"] == []
    expired = {d["sha256"] for d in report["dropped"] if d["reason"].startswith("expired")}
    host = {der for der in pem_ders((HOST_STORE / "ca-certificates.crt").read_bytes()) if colon_sha256(der) not in expired}
    ders = bundle_ders(Path(seen["where"]).read_text("ascii"))
    assert host <= set(ders)
    assert openssl_roots(seen["where"]) == len(ders) == report["roots"]


@pytest.mark.parametrize(
    "valid_from, valid_until, expected",
    [
        # notBefore in 1950 (UTCTime's first year), notAfter ahead: a usable root.
        (datetime.datetime(1950, 1, 1, tzinfo=datetime.timezone.utc), None, None),
        (datetime.datetime(1950, 1, 1, tzinfo=datetime.timezone.utc), datetime.datetime(1951, 6, 1, tzinfo=datetime.timezone.utc), "expired on 1951-06-01 00:00:00 UTC"),
        # Not valid yet: kept (SECURITY.md): OpenSSL refuses it until then, and a
        # bundle rebuilt only when the store changes would otherwise miss it.
        (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=3), None, None),
    ],
    ids=["1950-notBefore", "1950s-expired", "not-yet-valid"],
)
def test_validity_dates(
    valid_from: datetime.datetime, valid_until: datetime.datetime | None, expected: str | None, tmp_path: Path, home: Path
) -> None:
    until = valid_until or datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)
    der = self_signed_ca(x509_name("certifi-native dates test CA"), valid_from=valid_from, valid_until=until)
    extra = write_pem(tmp_path / "dated.pem", ssl.DER_cert_to_PEM_cert(der).encode("ascii"))
    store = write_pem(tmp_path / "empty.pem", b"")
    seen = judged(home, [extra], SSL_CERT_FILE=str(store))
    reasons = [d["reason"] for d in seen["info"]["dropped"]]
    kept = der in bundle_ders(Path(seen["where"]).read_text("ascii"))
    if expected is None:
        assert kept and reasons == [], reasons
    else:
        assert not kept and reasons == [expected]
