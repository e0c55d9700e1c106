"""The OS store for real: a private /etc/ssl/certs (a mount namespace) holding
the host's roots plus a test CA, and real TLS clients verifying with where()."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import trustme
from conftest import (
    PROBE,
    bundle_ders,
    clean_env,
    der_of,
    make_store,
    probe,
    run_namespaced,
    run_with_store,
    write_pem,
)

pytestmark = pytest.mark.usefixtures("namespaces")

# Python's ssl and requests, both verifying with where() and nothing else.
CLIENT = r"""
import json, ssl, sys, urllib.request
import certifi_native, requests
url, path = sys.argv[1], certifi_native.where()
out = {"where": path}
try:
    context = ssl.create_default_context(cafile=path)
    with urllib.request.urlopen(url, context=context, timeout=60) as response:
        out["ssl"] = response.read().decode()
except Exception as err:
    out["ssl"] = repr(err)
try:
    out["requests"] = requests.get(url, verify=path, timeout=60).text
except Exception as err:
    out["requests"] = repr(err)
print(json.dumps(out))
"""

GREETING = "hello from certifi-native tests\n"


def client(store: Path, url: str, env: dict[str, str]) -> dict[str, Any]:
    proc = run_with_store(store, [sys.executable, "-c", CLIENT, url], env)
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@pytest.fixture
def store_with_ca(tmp_path: Path, ca: trustme.CA) -> Path:
    return make_store(tmp_path / "store", ca.cert_pem.bytes(), with_host=True)


@pytest.mark.parametrize("mode", ["system", "merged"])
def test_a_ca_in_the_os_store_is_trusted(
    mode: str, store_with_ca: Path, ca: trustme.CA, server: str, home: Path
) -> None:
    env = clean_env(home, CERTIFI_NATIVE_MODE=mode)
    seen = client(store_with_ca, server, env)
    assert seen["ssl"] == GREETING and seen["requests"] == GREETING, seen
    text = Path(seen["where"]).read_text("ascii")
    assert der_of(ca.cert_pem.bytes()) in bundle_ders(text)
    report = probe(env, store_with_ca)["info"]
    assert report["mode"] == mode and not report["mozilla_fallback"]
    names = [s["name"] for s in report["sources"]]
    assert names == (["system"] if mode == "system" else ["system", "mozilla"])


def test_mozilla_mode_ignores_the_os_store(store_with_ca: Path, ca: trustme.CA, server: str, home: Path) -> None:
    env = clean_env(home, CERTIFI_NATIVE_MODE="mozilla")
    seen = client(store_with_ca, server, env)
    assert "CERTIFICATE_VERIFY_FAILED" in seen["ssl"], seen
    assert "CERTIFICATE_VERIFY_FAILED" in seen["requests"], seen
    assert der_of(ca.cert_pem.bytes()) not in bundle_ders(Path(seen["where"]).read_text("ascii"))


def test_an_empty_store_falls_back_to_mozilla(tmp_path: Path, env: dict[str, str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    seen = probe(env, empty)
    report = seen["info"]
    assert report["mode"] == "system" and report["mozilla_fallback"] is True
    assert any("Mozilla" in note for note in report["notes"]), report["notes"]
    assert [(s["name"], s["kept"] > 0) for s in report["sources"]] == [("system", False), ("mozilla", True)]
    assert len(bundle_ders(Path(seen["where"]).read_text("ascii"))) >= 100


def test_a_store_change_is_seen_by_the_next_process(
    tmp_path: Path, ca: trustme.CA, env: dict[str, str]
) -> None:
    store = make_store(tmp_path / "store", with_host=True)
    before = probe(env, store)
    assert der_of(ca.cert_pem.bytes()) not in bundle_ders(Path(before["where"]).read_text("ascii"))
    write_pem(store / "added-test-ca.pem", ca.cert_pem.bytes())
    after = probe(env, store)
    assert after["where"] == before["where"], "one configuration, one path"
    assert der_of(ca.cert_pem.bytes()) in bundle_ders(Path(after["where"]).read_text("ascii"))


@pytest.mark.skipif(shutil.which("update-ca-certificates") is None, reason="not a Debian-like system")
def test_update_ca_certificates_is_noticed(tmp_path: Path, ca: trustme.CA, env: dict[str, str]) -> None:
    # Debian's own tool rebuilds a private /etc/ssl/certs from the system's
    # roots plus /usr/local/share/ca-certificates (its hooks, e.g. Java's, are
    # left out: they write elsewhere).
    store, local, no_hooks = tmp_path / "store", tmp_path / "local", tmp_path / "hooks"
    for folder in (store, local, no_hooks):
        folder.mkdir()
    setup = " && ".join(
        [
            f"mount --bind {store} /etc/ssl/certs",
            f"mount --bind {local} /usr/local/share/ca-certificates",
            f"mount --bind {no_hooks} /etc/ca-certificates/update.d",
            "update-ca-certificates >/dev/null",
        ]
    )
    paths, bundles = [], []
    for _ in range(2):
        path = Path(json.loads(run_namespaced(setup, [sys.executable, "-c", PROBE], env).stdout)["where"])
        paths.append(path)
        bundles.append(bundle_ders(path.read_text("ascii")))
        write_pem(local / "certifi-native-test.crt", ca.cert_pem.bytes())
    before, after = bundles
    assert len(before) >= 100 and der_of(ca.cert_pem.bytes()) not in before
    assert set(after) - set(before) == {der_of(ca.cert_pem.bytes())} and len(after) == len(before) + 1
    assert paths[0] == paths[1]


# One process: the store changes under it; where() keeps its answer (the store
# is checked at the first where() of a process) until refresh().
REFRESH = r"""
import json, sys, certifi_native
added = sys.argv[1]
def count():
    with open(certifi_native.where(), encoding="ascii") as bundle:
        return bundle.read().count("BEGIN CERTIFICATE")
first = count()
with open(sys.argv[2], "rb") as src, open(added, "wb") as dst:
    dst.write(src.read())
second = count()
certifi_native.refresh()
print(json.dumps([first, second, count()]))
"""


def test_refresh_sees_a_change_inside_one_process(tmp_path: Path, ca: trustme.CA, env: dict[str, str]) -> None:
    store = make_store(tmp_path / "store", with_host=True)
    ca_file = write_pem(tmp_path / "ca.pem", ca.cert_pem.bytes())
    argv = [sys.executable, "-c", REFRESH, "/etc/ssl/certs/added-test-ca.pem", str(ca_file)]
    first, second, third = json.loads(run_with_store(store, argv, env).stdout)
    assert (store / "added-test-ca.pem").is_file()
    assert second == first and third == first + 1


def test_ssl_cert_file_and_dir_replace_the_os_store(tmp_path: Path, ca: trustme.CA, home: Path) -> None:
    # The namespaced host store is full; the variables must hide it entirely.
    host = make_store(tmp_path / "host", with_host=True)
    only_ca = write_pem(tmp_path / "only" / "ca.pem", ca.cert_pem.bytes())
    for variable, value in [("SSL_CERT_FILE", only_ca), ("SSL_CERT_DIR", only_ca.parent)]:
        seen = probe(clean_env(home, **{variable: str(value)}), host)
        ders = bundle_ders(Path(seen["where"]).read_text("ascii"))
        assert ders == [der_of(ca.cert_pem.bytes())], (variable, len(ders))
        assert not seen["info"]["mozilla_fallback"]


def test_an_empty_ssl_cert_file_does_not_share_the_system_bundle(
    store_with_ca: Path, ca: trustme.CA, home: Path
) -> None:
    # rustls-native-certs reads an empty SSL_CERT_FILE as a (missing) replacement
    # of the store: that bundle is the Mozilla fallback and must not be served
    # to processes without the variable, whichever process builds first.
    emptied = probe(clean_env(home, SSL_CERT_FILE=""), store_with_ca)
    assert emptied["info"]["mozilla_fallback"] is True
    plain = probe(clean_env(home), store_with_ca)
    assert plain["where"] != emptied["where"]
    assert der_of(ca.cert_pem.bytes()) in bundle_ders(Path(plain["where"]).read_text("ascii"))


def test_ssl_cert_file_naming_our_own_bundle_neither_grows_nor_freezes(
    tmp_path: Path, ca: trustme.CA, other_ca: trustme.CA, home: Path
) -> None:
    # SSL_CERT_FILE=$(python -m certifi), with certifi pointed at our bundle.
    store = make_store(tmp_path / "store", with_host=True)
    extra = write_pem(tmp_path / "extra.pem", other_ca.cert_pem.bytes())
    plain = clean_env(home, CERTIFI_NATIVE_EXTRA_CA_CERTS=str(extra))
    ours = probe(plain, store)["where"]
    looped = clean_env(home, CERTIFI_NATIVE_EXTRA_CA_CERTS=str(extra), SSL_CERT_FILE=ours)
    expected = bundle_ders(Path(ours).read_text("ascii"))
    for _ in range(3):
        seen = probe(looped, store)
        assert bundle_ders(Path(seen["where"]).read_text("ascii")) == expected
        assert [d for d in seen["info"]["dropped"] if d["reason"].startswith("duplicate")] == []
        assert any("names a certifi-native bundle" in note for note in seen["info"]["notes"]), seen["info"]["notes"]
    # A store change reaches it although no process rebuilt the bundle it names.
    write_pem(store / "added-test-ca.pem", ca.cert_pem.bytes())
    after = bundle_ders(Path(probe(looped, store)["where"]).read_text("ascii"))
    assert set(after) == {*expected, der_of(ca.cert_pem.bytes())} and after[-1] == expected[-1], "extras stay last"


def test_ssl_cert_file_naming_certifis_cacert_is_said(tmp_path: Path, home: Path) -> None:
    import certifi  # the dev venv has it (requests needs it)

    cacert = Path(certifi.__file__).parent / "cacert.pem"
    env = clean_env(home, SSL_CERT_FILE=str(cacert))
    sets = []
    for _ in range(3):
        seen = probe(env)
        sets.append(bundle_ders(Path(seen["where"]).read_text("ascii")))
        notes = seen["info"]["notes"]
        assert any("names certifi's cacert.pem" in note and str(cacert) in note for note in notes), notes
    assert sets[0] == sets[1] == sets[2] and len(sets[0]) >= 100
