"""The Rust subject hash against the oracle, ``openssl x509 -noout -subject_hash``:
every root of the host's store and of Mozilla's set, and crafted names that
exercise each rule of OpenSSL's canonical form."""

from __future__ import annotations

import ssl
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import certifi_native
import pytest
from certifi_native import _native
from conftest import HOST_STORE, clean_env, pem_ders, run, self_signed_ca
from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

def ders_in(*files: Path) -> list[bytes]:
    """The certificates of PEM ``files``, each once, in order."""
    seen: dict[bytes, None] = {}
    for file in files:
        for der in pem_ders(file.read_bytes()):
            seen.setdefault(der)
    return list(seen)


def openssl_hash(der: bytes, home: Path) -> str:
    pem = ssl.DER_cert_to_PEM_cert(der)
    return run(["openssl", "x509", "-noout", "-subject_hash"], clean_env(home), input=pem).stdout.strip()


def mismatches(ders: list[bytes], home: Path) -> list[str]:
    """Each certificate whose hash differs from OpenSSL's, with both values."""
    with ThreadPoolExecutor(4) as pool:
        expected = list(pool.map(lambda der: openssl_hash(der, home), ders))
    out = []
    for der, want in zip(ders, expected):
        got = _native.subject_hash(der)
        if got != want:
            subject = x509.load_der_x509_certificate(der).subject.rfc4514_string()
            out.append(f"{subject}: ours {got}, openssl {want}")
    return out


def test_every_root_of_the_host_store(home: Path) -> None:
    ders = ders_in(*sorted(HOST_STORE.glob("*.pem")), HOST_STORE / "ca-certificates.crt")
    assert len(ders) >= 100
    assert mismatches(ders, home) == []


def test_every_root_of_mozillas_set(home: Path) -> None:
    ders = ders_in(Path(certifi_native.__file__).parent / "cacert.pem")
    assert len(ders) >= 100
    assert mismatches(ders, home) == []


# --- crafted names ------------------------------------------------------------

def attr(oid: x509.ObjectIdentifier, value: str, kind: _ASN1Type = _ASN1Type.UTF8String) -> x509.NameAttribute[str]:
    return x509.NameAttribute(oid, value, kind, _validate=False)


def name(*attrs: x509.NameAttribute[Any]) -> x509.Name:
    """One attribute per RDN."""
    return x509.Name(list(attrs))


CN, O, OU, L = NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.LOCALITY_NAME

CRAFTED = {
    "mixed case": name(attr(CN, "Mixed CASE Name"), attr(O, "ACME Corp", _ASN1Type.PrintableString)),
    "inner white space": name(attr(CN, "a    b \t c\r\n\x0b\x0cd")),
    "leading and trailing white space": name(attr(CN, " \t  padded  \n"), attr(O, "   ")),
    "non-ASCII UTF8String": name(attr(CN, "Ça Va ÉLÉPHANT  Δέλτα 日本 😀")),
    "multi-valued RDN": x509.Name(
        [x509.RelativeDistinguishedName([attr(CN, "Zeta"), attr(O, "Alpha"), attr(OU, "mid", _ASN1Type.PrintableString)])]
    ),
    # Sorted by tag as encoded, by text once both are UTF8String: the order flips.
    "multi-valued RDN re-sorted": x509.Name(
        [x509.RelativeDistinguishedName([attr(OU, "b"), attr(OU, "A", _ASN1Type.PrintableString)])]
    ),
    "BMPString": name(attr(CN, "BMP  Ünïcode NAME", _ASN1Type.BMPString)),
    "UniversalString": name(attr(CN, " Universal Ünï 😀 ", _ASN1Type.UniversalString)),
    "TeletexString": name(attr(CN, "Teletex  NAME", _ASN1Type.T61String)),
    "TeletexString with 8-bit bytes": name(attr(CN, "Tëlétex", _ASN1Type.T61String)),
    "IA5String": name(
        attr(NameOID.DOMAIN_COMPONENT, "Example", _ASN1Type.IA5String),
        attr(NameOID.EMAIL_ADDRESS, " User@Example.COM ", _ASN1Type.IA5String),
    ),
    "NumericString is kept as is": name(attr(NameOID.SERIAL_NUMBER, " 12  34 ", _ASN1Type.NumericString)),
    "BitString is kept as is": name(
        attr(CN, "x"), x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, b"\x01\x02", _ASN1Type.BitString)
    ),
    "long values (long-form lengths)": name(attr(L, "Long " * 60), attr(O, "B" * 300)),
    "empty subject": x509.Name([]),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_names(case: str, home: Path) -> None:
    der = self_signed_ca(CRAFTED[case])
    assert _native.subject_hash(der) == openssl_hash(der, home)


def test_printable_and_utf8_of_the_same_text_hash_alike(home: Path) -> None:
    printable = self_signed_ca(name(attr(CN, "Same  Text", _ASN1Type.PrintableString)))
    utf8 = self_signed_ca(name(attr(CN, "same text")))
    assert _native.subject_hash(printable) == _native.subject_hash(utf8) == openssl_hash(utf8, home)


def test_garbage_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        _native.subject_hash(b"\x30\x03\x02\x01")
