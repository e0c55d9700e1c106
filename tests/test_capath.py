"""``capath()`` and ``ssl_context()``: the hashed folder holds exactly the
bundle's roots, is never seen partial, is repaired when damaged, and real
clients verify real local servers with it."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import trustme
from certifi_native import _native
from conftest import (
    clean_env,
    https_server,
    make_store,
    pem_ders,
    run,
    run_py,
    run_with_store,
    self_signed_ca,
    write_pem,
)
from cryptography import x509
from cryptography.x509.oid import NameOID

PATHS = "import json, certifi_native as c; print(json.dumps([c.where(), c.capath()]))"


def paths(env: dict[str, str]) -> tuple[Path, Path]:
    """(where(), capath()) as a fresh process sees them."""
    where, capath = json.loads(run_py(PATHS, env).stdout)
    return Path(where), Path(capath)


def expected_folder(bundle: Path) -> dict[str, bytes]:
    """File name -> DER, as the folder must hold them: each root of the bundle
    under its subject hash, collisions numbered from 0 in bundle order."""
    taken: dict[str, int] = {}
    out = {}
    for der in pem_ders(bundle.read_bytes()):
        stem = _native.subject_hash(der)
        out[f"{stem}.{taken.get(stem, 0)}"] = der
        taken[stem] = taken.get(stem, 0) + 1
    return out


def folder_contents(folder: Path) -> dict[str, bytes]:
    """File name -> DER; each file must hold exactly one certificate."""
    out = {}
    for file in folder.iterdir():
        ders = pem_ders(file.read_bytes())
        assert len(ders) == 1, f"{file.name} holds {len(ders)} certificates"
        out[file.name] = ders[0]
    return out


def test_holds_exactly_the_roots_of_where(env: dict[str, str]) -> None:
    bundle, folder = paths(env)
    assert folder.is_dir() and folder.parent == bundle.parent
    held = folder_contents(folder)
    ders = pem_ders(bundle.read_bytes())
    assert len(held) == len(ders) >= 100
    assert sorted(held.values()) == sorted(ders)
    assert held == expected_folder(bundle)
    assert run([sys.executable, "-m", "certifi_native", "capath"], env).stdout.strip() == str(folder)
    report = json.loads(run([sys.executable, "-m", "certifi_native", "info", "--json"], env).stdout)
    assert report["cache"]["capath"] == str(folder) and report["cache"]["capath_built"]


def ca_pem(subject: str) -> bytes:
    der = self_signed_ca(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
    return ssl.DER_cert_to_PEM_cert(der).encode()


def test_colliding_hashes_are_numbered_from_zero(home: Path, tmp_path: Path) -> None:
    # Two CAs with one subject (so one hash) and different keys.
    first, second = (ca_pem("certifi-native twin CA") for _ in range(2))
    extra = write_pem(tmp_path / "twins.pem", first, second)
    env = clean_env(home, CERTIFI_NATIVE_MODE="mozilla", CERTIFI_NATIVE_EXTRA_CA_CERTS=str(extra))
    bundle, folder = paths(env)
    stem = run(["openssl", "x509", "-noout", "-subject_hash"], env, input=first.decode()).stdout.strip()
    held = folder_contents(folder)
    assert held[f"{stem}.0"] == pem_ders(first)[0]
    assert held[f"{stem}.1"] == pem_ders(second)[0]
    assert f"{stem}.2" not in held
    assert held == expected_folder(bundle)


CLIENTS = """
import json, sys, urllib.request
import certifi_native, httpx, requests

def outcome(call):
    try:
        call()
        return "ok"
    except Exception as err:
        return f"{type(err).__name__}: {err}"

result = {"capath": certifi_native.capath()}
for label, url in (("trusted", sys.argv[1]), ("untrusted", sys.argv[2])):
    result["requests " + label] = outcome(
        lambda: requests.get(url, verify=certifi_native.capath(), timeout=30).raise_for_status())
    result["httpx " + label] = outcome(
        lambda: httpx.get(url, verify=certifi_native.ssl_context(), timeout=30).raise_for_status())
    result["urllib " + label] = outcome(
        lambda: urllib.request.urlopen(url, context=certifi_native.ssl_context(), timeout=30).read())
print(json.dumps(result))
"""


@pytest.mark.usefixtures("namespaces")
def test_clients_trust_the_os_store_through_the_folder(
    env: dict[str, str], tmp_path: Path, ca: trustme.CA, other_ca: trustme.CA
) -> None:
    store = make_store(tmp_path / "store", ca.cert_pem.bytes())
    trusted = https_server(ca.issue_cert("localhost"))
    untrusted = https_server(other_ca.issue_cert("localhost"))
    with trusted as good, untrusted as bad:
        out = run_with_store(store, [sys.executable, "-c", CLIENTS, good, bad], env).stdout
    result = json.loads(out)
    assert Path(result.pop("capath")).is_dir()
    for client in ("requests", "httpx", "urllib"):
        assert result[f"{client} trusted"] == "ok"
        assert "certificate verify failed" in result[f"{client} untrusted"].lower(), result


# Run by each of many processes at once: what the folder holds at that moment.
SNAPSHOT = """
import json, os, certifi_native
folder = certifi_native.capath()
held = {name: open(os.path.join(folder, name), "rb").read().decode() for name in os.listdir(folder)}
print(json.dumps([certifi_native.where(), folder, held]))
"""


def snapshot_matches(out: str) -> bool:
    bundle, _, held = json.loads(out)
    expected = {name: [der] for name, der in expected_folder(Path(bundle)).items()}
    return {name: pem_ders(text.encode()) for name, text in held.items()} == expected


@pytest.mark.parametrize("start", ["cold", "damaged"])
def test_32_processes_building_at_once_all_see_a_complete_folder(env: dict[str, str], start: str) -> None:
    if start == "damaged":
        _, folder = paths(env)
        first = sorted(folder.iterdir())[0]
        first.unlink()
        (folder / "stranger.0").write_bytes(b"x")
    procs = [
        subprocess.Popen([sys.executable, "-c", SNAPSHOT], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(32)
    ]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 32, [err for _, err in outputs if err]
    assert all(snapshot_matches(out) for out, _ in outputs)
    folders = {json.loads(out)[1] for out, _ in outputs}
    assert len(folders) == 1
    leftovers = [p.name for p in Path(folders.pop()).parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_a_damaged_folder_is_repaired_by_the_next_process(env: dict[str, str]) -> None:
    bundle, folder = paths(env)
    names = sorted(os.listdir(folder))
    (folder / names[0]).unlink()
    (folder / names[1]).write_text("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n")
    (folder / "stranger.0").write_bytes(b"not a certificate")
    assert paths(env) == (bundle, folder)
    assert folder_contents(folder) == expected_folder(bundle)


def test_a_folder_replaced_by_a_file_is_rebuilt(env: dict[str, str]) -> None:
    bundle, folder = paths(env)
    for file in folder.iterdir():
        file.unlink()
    folder.rmdir()
    folder.write_text("in the way")
    assert paths(env) == (bundle, folder)
    assert folder_contents(folder) == expected_folder(bundle)


@pytest.mark.usefixtures("namespaces")
def test_the_folder_follows_the_store(env: dict[str, str], tmp_path: Path, ca: trustme.CA, other_ca: trustme.CA) -> None:
    store = make_store(tmp_path / "store", ca.cert_pem.bytes())
    first = json.loads(run_with_store(store, [sys.executable, "-c", PATHS], env).stdout)
    make_store(store, ca.cert_pem.bytes(), other_ca.cert_pem.bytes())
    # Only where(): the bundle's rebuild brings the folder along.
    where = run_with_store(store, [sys.executable, "-c", "import certifi_native as c; print(c.where())"], env)
    assert where.stdout.strip() == first[0]
    held = folder_contents(Path(first[1]))
    assert len(held) == 2 and held == expected_folder(Path(first[0]))


def test_ssl_context_is_a_client_context_from_the_folder(env: dict[str, str]) -> None:
    code = (
        "import json, ssl, certifi_native as c; ctx = c.ssl_context(); "
        "print(json.dumps([ctx.verify_mode == ssl.CERT_REQUIRED, ctx.check_hostname, "
        "ctx.cert_store_stats()['x509_ca'], c.capath()]))"
    )
    required, hostname, loaded, folder = json.loads(run_py(code, env).stdout)
    # The folder is read lazily, during handshakes: nothing is loaded up front.
    assert required and hostname and loaded == 0
    assert Path(folder).is_dir()


def test_without_a_cache_folder_it_is_the_packaged_file(home: Path) -> None:
    # Every cache folder candidate sits below a file: none can be created
    # (Mozilla mode: in system mode the OS's own file would be served).
    env = clean_env(home, XDG_CACHE_HOME="/dev/null/cache", TMPDIR="/dev/null/tmp", CERTIFI_NATIVE_MODE="mozilla")
    code = "import json, certifi_native as c; print(json.dumps([c.where(), c.capath(), c.ssl_context().verify_mode]))"
    where, capath, verify_mode = json.loads(run_py(code, env).stdout)
    assert capath == where and Path(where).is_file() and "site-packages" in where
    assert verify_mode == ssl.CERT_REQUIRED
