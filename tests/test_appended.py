"""CAs appended to the bundle that where() served are kept (issue 9): the
`cat ca.pem >> "$(python -m certifi)"` recipe, and start-up hooks that append
their CA when it is missing. Anything else found in the file is repaired and
reported. Fresh venvs from the wheel, real requests, a real local HTTPS server."""

from __future__ import annotations

import datetime
import json
import os
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
import trustme
from conftest import (
    build_cert,
    built_wheel,
    make_venv,
    openssl_roots,
    pem_of,
    pem_ders,
    run,
    run_py,
    self_signed_ca,
    site_packages,
    x509_name,
)
from cryptography.hazmat.primitives.asymmetric import ec

SELF_SIGNED = "self-signed server certificate, trusted for itself only"
REPORT = "import json, certifi_native as c; print(json.dumps({'where': c.where(), 'info': c.info()}))"


@pytest.fixture
def venv(tmp_path: Path, wheelhouse: Path) -> Path:
    return make_venv(tmp_path / "venv", wheelhouse, "requests", built_wheel())


def report(python: Path, env: dict[str, str]) -> Any:
    return json.loads(run_py(REPORT, env, str(python)).stdout)


def get(python: Path, env: dict[str, str], url: str) -> subprocess.CompletedProcess[str]:
    return run_py(f"import requests; print(requests.get({url!r}).status_code)", env, str(python), check=False)


def test_a_ca_appended_with_cat_is_kept(venv: Path, env: dict[str, str], server: str, ca: trustme.CA, tmp_path: Path) -> None:
    ca_pem = tmp_path / "ca.pem"
    ca_pem.write_bytes(ca.cert_pem.bytes())
    refused = get(venv, env, server)
    assert refused.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr  # the control
    for _ in range(3):  # the recipe, then a new process: three times in a row
        run(["sh", "-c", f'cat "$0" >> "$({venv} -m certifi)"', ca_pem], env)
        assert get(venv, env, server).stdout == "200\n"
    for _ in range(3):  # and it stays: three more new processes, no append
        assert get(venv, env, server).stdout == "200\n"
    seen = report(venv, env)
    bundle = Path(seen["where"])
    assert pem_ders(bundle.read_bytes()).count(pem_ders(ca.cert_pem.bytes())[0]) == 1
    (appended,) = [s for s in seen["info"]["sources"] if s["name"] == "appended"]
    assert appended["kept"] == 1 and appended["label"] == f"appended ({bundle.parent / 'appended.pem'})"
    assert any("CERTIFI_NATIVE_EXTRA_CA_CERTS" in note for note in seen["info"]["notes"])
    assert any("kept in" in line and "certifi-native test CA" in line for line in seen["info"]["repairs"])
    shown = run([venv, "-m", "certifi_native", "info"], env).stdout
    assert f"source:  appended ({bundle.parent / 'appended.pem'}): 1 loaded, 1 kept" in shown
    assert "repair:  " in shown
    merged = report(venv, {**env, "CERTIFI_NATIVE_MODE": "merged"})
    assert merged["where"] != seen["where"]
    assert pem_ders(ca.cert_pem.bytes())[0] in pem_ders(Path(merged["where"]).read_bytes())


def appended_cert(kind: str, ca: trustme.CA) -> tuple[bytes, str]:
    """A certificate to append, and the words its judging gives."""
    if kind == "leaf":
        return ca.issue_cert("leaf.example").cert_chain_pems[0].bytes(), "not a CA"
    if kind == "expired-ca":
        day = datetime.timedelta(days=1)
        der = self_signed_ca(x509_name("appended expired CA"), valid_from=-2 * day, valid_until=-day)
        return ssl.DER_cert_to_PEM_cert(der).encode(), "expired on"
    key = ec.generate_private_key(ec.SECP256R1())
    return pem_of(build_cert(x509_name("appended self-signed server"), key, ca=False)), SELF_SIGNED


@pytest.mark.parametrize("kind", ["leaf", "expired-ca", "self-signed-server"])
def test_an_appended_certificate_is_judged_like_any_root(
    venv: Path, env: dict[str, str], ca: trustme.CA, kind: str
) -> None:
    """Appended certificates pass the usual judging: a leaf issued by a CA and
    an expired CA are left out with their reason; a self-signed server
    certificate is kept, for itself only."""
    pem, words = appended_cert(kind, ca)
    bundle = Path(report(venv, env)["where"])
    with bundle.open("ab") as file:
        file.write(pem)
    seen = report(venv, env)
    appended = [s for s in seen["info"]["sources"] if s["name"] == "appended"]
    served = pem_ders(Path(seen["where"]).read_bytes())
    if kind == "self-signed-server":
        assert [s["kept"] for s in appended] == [1]
        assert pem_ders(pem)[0] in served
        assert any(words in line for line in seen["info"]["notes"] + seen["info"]["repairs"]), seen["info"]
    else:
        assert not appended and pem_ders(pem)[0] not in served
        assert any(words in line and "left out" in line for line in seen["info"]["repairs"]), seen["info"]["repairs"]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "middle"])
def test_other_changes_are_repaired_and_reported(venv: Path, env: dict[str, str], ca: trustme.CA, damage: str) -> None:
    first = report(venv, env)
    bundle = Path(first["where"])
    original = bundle.read_bytes()
    if damage == "garbage":
        bundle.write_bytes(original + b"\nthis is not a certificate\n")
        expected = "text that is not a PEM block"
    elif damage == "truncated":
        bundle.write_bytes(original + b"-----BEGIN CERTIFICATE-----\nMIIB\n")
        expected = "truncated PEM block"
    else:
        middle = original.index(b"-----BEGIN CERTIFICATE-----", len(original) // 2) + 40
        bundle.write_bytes(original[:middle] + (b"A" if original[middle:middle + 1] != b"A" else b"B") + original[middle + 1:])
        expected = "its text was changed"
    seen = report(venv, env)
    assert seen["where"] == str(bundle)
    assert bundle.read_bytes() == original  # repaired: rebuilt as it was
    assert openssl_roots(bundle) == first["info"]["roots"]
    assert any(expected in line for line in seen["info"]["repairs"]), seen["info"]["repairs"]
    assert not any(s["name"] == "appended" for s in seen["info"]["sources"])


# A start-up hook as TLS-inspection tools install it: after ours (the name
# sorts later), it appends its CA to certifi.where() when the file's end lacks it.
APPENDING_HOOK = """import os; exec({code!r})\n"""
HOOK_CODE = """
try:
    import certifi
    path, ca = certifi.where(), {ca!r}
    with open(ca, "rb") as f:
        text = f.read()
    with open(path, "rb") as f:
        f.seek(max(0, os.path.getsize(path) - len(text) - 64))
        tail = f.read()
    if text[-96:] not in tail:
        with open(path, "ab") as f:
            f.write(b"\\n" + text)
        with open({log!r}, "a") as f:
            f.write("appended\\n")
except Exception:
    pass
"""


STATUS = "import certifi, json, certifi_native._activate as a; print(json.dumps(a.status()))"


@pytest.mark.parametrize("how", ["before-install", "hook-before-ours", "changed-inside"])
def test_a_ca_appended_to_certifis_own_file_is_carried(
    venv: Path, env: dict[str, str], server: str, ca: trustme.CA, tmp_path: Path, how: str
) -> None:
    """certifi's own cacert.pem, appended to before certifi-native came, or by
    a hook that runs before ours (its name sorts first). A file changed inside
    is left alone."""
    site = site_packages(venv, env)
    own = site / "certifi" / "cacert.pem"
    installed = own.read_bytes()
    ca_pem = tmp_path / "ca.pem"
    ca_pem.write_bytes(ca.cert_pem.bytes().replace(b"\n", b"\r\n"))
    if how == "before-install":
        own.write_bytes(installed + b"\n" + ca_pem.read_bytes())
    elif how == "changed-inside":
        own.write_bytes(installed.replace(b"# Issuer", b"# issuer", 1) + b"\n" + ca_pem.read_bytes())
    else:
        code = HOOK_CODE.format(ca=str(ca_pem), log=str(tmp_path / "appends.log"))
        (site / "aaa_appends_its_ca.pth").write_text(APPENDING_HOOK.format(code=code))
    outcomes = [get(venv, env, server) for _ in range(3)]  # the first start carries; the others find it kept
    status = json.loads(run_py(STATUS, env, str(venv)).stdout)
    bundle = Path(report(venv, env)["where"])
    if how == "changed-inside":
        assert all(o.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in o.stderr for o in outcomes)
        assert "certifi_appended" not in status
        return
    assert [o.stdout for o in outcomes] == ["200\n"] * 3, outcomes[0].stderr
    assert status["certifi_appended"].startswith("1 certificate(s) appended to certifi's cacert.pem carried into")
    assert status["certifi_appended"].endswith("(0 appended now; info() tells what was kept)")
    assert pem_ders(bundle.read_bytes()).count(pem_ders(ca.cert_pem.bytes())[0]) == 1
    seen = report(venv, env)
    assert [s["kept"] for s in seen["info"]["sources"] if s["name"] == "appended"] == [1]
    assert openssl_roots(bundle) == seen["info"]["roots"]


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n"], ids=["lf", "crlf"])
def test_a_hook_that_appends_when_missing_does_not_rebuild_at_every_start(
    venv: Path, env: dict[str, str], ca: trustme.CA, tmp_path: Path, line_end: bytes
) -> None:
    """Its CA file's bytes need not be the way we write PEM (CRLF here): the
    file is kept as it is, so the hook finds them at the end."""
    ca_pem = tmp_path / "ca.pem"
    ca_pem.write_bytes(ca.cert_pem.bytes().replace(b"\n", line_end))
    log = tmp_path / "appends.log"
    site = site_packages(venv, env)
    code = HOOK_CODE.format(ca=str(ca_pem), log=str(log))
    (site / "zzz_appends_its_ca.pth").write_text(APPENDING_HOOK.format(code=code))
    bundle = Path(report(venv, env)["where"])  # start 1: built, then the hook appends
    assert log.read_text() == "appended\n"
    built = os.stat(bundle).st_ino
    inodes = []
    for _ in range(3):  # start 2 keeps the CA, and the file as it is; then nothing changes
        run_py("pass", env, str(venv))
        inodes.append(os.stat(bundle).st_ino)
    assert inodes == [built] * 3, (built, inodes)
    assert log.read_text() == "appended\n", "the hook had to append again"
    status = run_py(STATUS, env, str(venv)).stdout
    assert json.loads(status)["bundle_from"] == "start-up record"
    assert pem_ders(bundle.read_bytes()).count(pem_ders(ca.cert_pem.bytes())[0]) == 1
    seen = report(venv, env)
    assert [s["kept"] for s in seen["info"]["sources"] if s["name"] == "appended"] == [1]
    assert openssl_roots(bundle) == seen["info"]["roots"]
