"""A CA added to this machine's real OS trust store, by the OS's own tool,
appears in where() and lets a TLS client through.

This changes the machine's trust for real, so it runs only where
CERTIFI_NATIVE_TEST_REAL_STORE=1 says the machine may be changed (the CI
workflow's throwaway runners); it removes the CA again afterwards.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List

import pytest
import trustme

from conftest import https_server, run

pytestmark = pytest.mark.skipif(
    os.environ.get("CERTIFI_NATIVE_TEST_REAL_STORE") != "1",
    reason="changes the real OS trust store: set CERTIFI_NATIVE_TEST_REAL_STORE=1 on a throwaway machine",
)

LINUX_ANCHOR = Path("/usr/local/share/ca-certificates/certifi-native-test.crt")
MACOS_KEYCHAIN = "/Library/Keychains/System.keychain"
ORGANIZATION = "certifi-native real store test CA"


def admin(*argv: str, check: bool = True) -> None:
    """Runs an OS tool with the rights to change the store (sudo unless already root)."""
    as_root = os.name == "nt" or os.geteuid() == 0  # type: ignore[attr-defined,unused-ignore]
    subprocess.run(list(argv) if as_root else ["sudo", *argv], check=check)


@pytest.fixture
def ca_in_real_store(tmp_path: Path) -> Iterator[trustme.CA]:
    ca = trustme.CA(organization_name=ORGANIZATION)
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    sha1 = hashlib.sha1(ssl.PEM_cert_to_DER_cert(ca.cert_pem.bytes().decode("ascii"))).hexdigest()
    undo: List[List[str]]
    if sys.platform == "darwin":
        admin("security", "add-trusted-cert", "-d", "-r", "trustRoot", "-k", MACOS_KEYCHAIN, str(pem))
        undo = [["security", "remove-trusted-cert", "-d", str(pem)], ["security", "delete-certificate", "-Z", sha1, MACOS_KEYCHAIN]]
    elif os.name == "nt":
        admin("certutil", "-addstore", "-f", "Root", str(pem))
        undo = [["certutil", "-delstore", "Root", sha1]]
    else:
        admin("cp", str(pem), str(LINUX_ANCHOR))
        admin("update-ca-certificates")
        undo = [["rm", "-f", str(LINUX_ANCHOR)], ["update-ca-certificates", "--fresh"]]
    try:
        yield ca
    finally:
        for argv in undo:  # best effort: the runner is thrown away anyway
            admin(*argv, check=False)


def bundle_ders(path: Path) -> List[bytes]:
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    blocks = path.read_text("ascii").split(end)[:-1]
    return [ssl.PEM_cert_to_DER_cert(block[block.index(begin) :] + end + "\n") for block in blocks]


def test_a_ca_added_to_the_os_store_appears_in_where(ca_in_real_store: trustme.CA, env: dict[str, str]) -> None:
    where = run([sys.executable, "-c", "import certifi_native as c; print(c.where())"], env).stdout.strip()
    der = ssl.PEM_cert_to_DER_cert(ca_in_real_store.cert_pem.bytes().decode("ascii"))
    assert der in bundle_ders(Path(where))
    fetch = "import sys, certifi_native, requests; print(requests.get(sys.argv[1], verify=certifi_native.where(), timeout=30).status_code)"
    with https_server(ca_in_real_store.issue_cert("localhost")) as url:
        assert run([sys.executable, "-c", fetch, url], env).stdout.strip() == "200"
