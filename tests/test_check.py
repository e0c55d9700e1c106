"""`certifi-native check URL`: one real local HTTPS server per case; each
asserts that the diagnosis names the right certificate and the right bundle,
in the text and in the JSON. Plus the connection errors and the proxy."""

from __future__ import annotations

import contextlib
import datetime
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator, List, Optional, Tuple

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import https_server, make_store, run, run_with_store

CHECK = ["-m", "certifi_native", "check"]
EXIT_CODES = {"bad_url": 3, "host_not_found": 4, "unreachable": 5, "refused": 6, "timeout": 7, "not_tls": 8}

# Python 3.9's ssl exposes only the server's own certificate, so these cases
# cannot be told apart there (test_python_3_9_sees_only_the_leaf_and_says_so
# covers what 3.9 reports instead).
NEEDS_CHAIN = pytest.mark.skipif(sys.version_info < (3, 10), reason="Python 3.9 cannot capture the chain a server sends")


# --- helpers ------------------------------------------------------------------


def fingerprint(pem: bytes) -> str:
    """The SHA-256 of a certificate as the check prints it, computed by cryptography."""
    digest = x509.load_pem_x509_certificate(pem).fingerprint(hashes.SHA256())
    return ":".join(f"{b:02X}" for b in digest)


def trusting(env: dict[str, str], tmp_path: Path, *pems: bytes) -> dict[str, str]:
    """``env`` where certifi-native's bundle also holds ``pems`` (an extra CA file)."""
    extra = tmp_path / "extra-roots.pem"
    extra.write_bytes(b"".join(pems))
    return {**env, "CERTIFI_NATIVE_EXTRA_CA_CERTS": str(extra)}


def check(
    url: str, env: dict[str, str], python: str = sys.executable, store: Optional[Path] = None
) -> Tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Runs the check twice, as text and as JSON; both exit alike."""

    def once(*extra: str) -> subprocess.CompletedProcess[str]:
        argv = [python, *CHECK, url, *extra]
        if store is not None:
            return run_with_store(store, argv, env, check=False)
        return run(argv, env, check=False)

    text, as_json = once(), once("--json")
    assert text.returncode == as_json.returncode, (text.stderr, as_json.stderr)
    report = json.loads(as_json.stdout)
    assert report["exit_code"] == text.returncode
    return text, report


def diagnosis(report: dict[str, Any], kind: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [d for d in report["diagnoses"] if d["kind"] == kind]
    assert len(found) == 1, json.dumps(report["diagnoses"], indent=1)
    return found[0]


def bundle(report: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(b for b in report["bundles"] if b["name"] == name)
    return found


def x509_name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_cert(
    common_name: str,
    issuer: Optional[Tuple[x509.Certificate, ec.EllipticCurvePrivateKey]] = None,
    ca: bool = False,
    bc_critical: bool = True,
) -> Tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A certificate built by hand, for what trustme will not make: self-signed
    leaves and CAs whose basicConstraints is not critical."""
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509_name(common_name))
        .issuer_name(issuer_cert.subject if issuer_cert else x509_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=bc_critical)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    )
    if ca:
        usage = dict.fromkeys(
            ["content_commitment", "key_encipherment", "data_encipherment", "key_agreement"]
            + ["encipher_only", "decipher_only", "digital_signature"],
            False,
        )
        builder = builder.add_extension(x509.KeyUsage(key_cert_sign=True, crl_sign=True, **usage), critical=True)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()), key


def pem_of(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def served(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, *chain: x509.Certificate) -> trustme.LeafCert:
    """A hand-made certificate in the shape conftest.https_server serves."""
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return trustme.LeafCert(key_pem, pem_of(cert), [pem_of(c) for c in chain])


def pyenv_python(version: str) -> Optional[Path]:
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    if shutil.which("pyenv"):
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip() or root
    found = sorted(Path(root, "versions").glob(f"{version}*/bin/python3"))
    return found[-1] if found else None


def venv_with_wheel(folder: Path, python: str, *requirements: str, wheelhouse: Path | None = None) -> Path:
    """A fresh venv with the built wheel (and ``requirements``, from ``wheelhouse``
    offline when given); installs use the host env."""
    wheel = os.environ.get("CERTIFI_NATIVE_WHEEL")
    if not wheel:
        pytest.skip("CERTIFI_NATIVE_WHEEL is not set (run through scripts/dev test)")
    subprocess.run([python, "-m", "venv", str(folder)], check=True)
    venv_python = folder / "bin" / "python"
    pip = [str(venv_python), "-m", "pip", "install", "-q", "--no-deps"]
    offline = ["--no-index", "--find-links", str(wheelhouse)] if wheelhouse is not None else []
    subprocess.run([*pip, *offline, wheel, *requirements], check=True, env=os.environ.copy())
    return venv_python


# --- one server per case --------------------------------------------------------


@NEEDS_CHAIN
def test_trusted_root_verifies_and_other_bundles_are_named(tmp_path: Path, env: dict[str, str]) -> None:
    root = trustme.CA(organization_name="check trusted root")
    with https_server(root.issue_cert("localhost")) as url:
        text, report = check(url, trusting(env, tmp_path, root.cert_pem.bytes()))
    assert text.returncode == 0, text.stdout + text.stderr
    assert report["ok"] and bundle(report, "certifi-native")["verified"]
    assert report["chain_complete"] and len(report["chain"]) == 1
    missing = diagnosis(report, "root_not_in_bundle")
    assert "check trusted root" in missing["subject"]
    assert missing["sha256"] == fingerprint(root.cert_pem.bytes())
    assert missing["found_in"] == ["certifi-native"]
    assert {"system", "mozilla"} <= set(missing["bundles"]) and "certifi-native" not in missing["bundles"]
    assert "certifi-native's bundle verifies" in text.stdout
    assert missing["sha256"] in text.stdout and "the OS store" in text.stdout


@pytest.fixture(scope="module")
def stale_certifi_venv(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    stale = tmp_path_factory.mktemp("stale") / "venv"
    return venv_with_wheel(stale, sys.executable, "certifi==2017.4.17", wheelhouse=wheelhouse)


def test_root_only_in_the_os_store_not_in_stale_certifi(
    namespaces: None, tmp_path: Path, env: dict[str, str], stale_certifi_venv: Path
) -> None:
    root = trustme.CA(organization_name="check os-store root")
    store = make_store(tmp_path / "store", root.cert_pem.bytes())
    with https_server(root.issue_cert("localhost")) as url:
        text, report = check(url, env, python=str(stale_certifi_venv), store=store)
    assert text.returncode == 0, text.stdout + text.stderr
    certifi = bundle(report, "certifi")
    assert certifi["version"] == "2017.4.17" and not certifi["verified"]
    assert bundle(report, "system")["verified"] and bundle(report, "certifi-native")["verified"]
    missing = diagnosis(report, "root_not_in_bundle")
    assert "check os-store root" in missing["subject"]
    assert missing["sha256"] == fingerprint(root.cert_pem.bytes())
    assert "certifi" in missing["bundles"] and missing["found_in"] == ["certifi-native", "system"]
    assert any("use certifi-native" in fix for fix in missing["fix"])
    assert "certifi 2017.4.17" in text.stdout and missing["sha256"] in text.stdout


@NEEDS_CHAIN
def test_unknown_root(env: dict[str, str]) -> None:
    root = trustme.CA(organization_name="check unknown root")
    intermediate = trustme.CA(parent_cert=root, organization_name="check unknown intermediate")
    with https_server(intermediate.issue_cert("localhost")) as url:
        text, report = check(url, env)
    assert text.returncode == 1
    assert len(report["chain"]) == 2 and not report["ok"]
    unknown = diagnosis(report, "unknown_root")
    assert "check unknown root" in unknown["subject"] and "intermediate" not in unknown["subject"]
    assert unknown["bundles"][0] == "certifi-native" and unknown["found_in"] == []
    assert "None of the bundles checked holds it" in text.stdout and "check unknown root" in text.stdout
    assert "does NOT verify" in text.stdout


@NEEDS_CHAIN
def test_unknown_root_that_the_server_sends(env: dict[str, str]) -> None:
    root = trustme.CA(organization_name="check sent root")
    intermediate = trustme.CA(parent_cert=root, organization_name="check sent intermediate")
    leaf = intermediate.issue_cert("localhost")
    chain = [intermediate.cert_pem.bytes(), root.cert_pem.bytes()]
    with https_server(trustme.LeafCert(leaf.private_key_pem.bytes(), leaf.cert_chain_pems[0].bytes(), chain)) as url:
        text, report = check(url, env)
    assert text.returncode == 1 and len(report["chain"]) == 3
    assert bundle(report, "certifi-native")["error"]["code"] == 19  # self-signed certificate in chain
    unknown = diagnosis(report, "unknown_root")
    assert "check sent root" in unknown["subject"] and unknown["sha256"] == fingerprint(root.cert_pem.bytes())
    assert unknown["found_in"] == [] and unknown["bundles"][0] == "certifi-native"
    assert unknown["sha256"] in text.stdout


@NEEDS_CHAIN
def test_incomplete_chain_names_the_missing_intermediate(tmp_path: Path, env: dict[str, str]) -> None:
    root = trustme.CA(organization_name="check complete root")
    intermediate = trustme.CA(parent_cert=root, organization_name="check left-out intermediate")
    with https_server(intermediate.issue_cert("localhost"), send_chain=False) as url:
        text, report = check(url, trusting(env, tmp_path, root.cert_pem.bytes()))
    assert text.returncode == 1
    assert len(report["chain"]) == 1
    incomplete = diagnosis(report, "incomplete_chain")
    assert "check left-out intermediate" in incomplete["subject"]
    assert incomplete["bundles"][0] == "certifi-native"
    assert "leaves out this intermediate" in text.stdout and "check left-out intermediate" in text.stdout


@NEEDS_CHAIN
def test_left_out_intermediate_that_one_bundle_holds(tmp_path: Path, env: dict[str, str]) -> None:
    root = trustme.CA(organization_name="check held root")
    intermediate = trustme.CA(parent_cert=root, organization_name="check held intermediate")
    both = tmp_path / "intermediate-and-root.pem"
    both.write_bytes(intermediate.cert_pem.bytes() + root.cert_pem.bytes())
    with https_server(intermediate.issue_cert("localhost"), send_chain=False) as url:
        text, report = check(url, {**trusting(env, tmp_path, root.cert_pem.bytes()), "REQUESTS_CA_BUNDLE": str(both)})
    assert text.returncode == 1 and bundle(report, "REQUESTS_CA_BUNDLE")["verified"]
    incomplete = diagnosis(report, "incomplete_chain")
    assert "check held intermediate" in incomplete["subject"]
    assert incomplete["sha256"] == fingerprint(intermediate.cert_pem.bytes())
    assert incomplete["found_in"] == ["REQUESTS_CA_BUNDLE"] and incomplete["bundles"][0] == "certifi-native"
    assert "does not send the intermediate certificate" in text.stdout


@pytest.mark.parametrize(
    "kind, start, end, code, words",
    [("expired", -10, -1, 10, "expired on"), ("not_yet_valid", 1, 10, 9, "is not valid before")],
)
def test_leaf_out_of_its_validity_period(
    kind: str, start: int, end: int, code: int, words: str, tmp_path: Path, env: dict[str, str]
) -> None:
    root = trustme.CA(organization_name="check validity root")
    now = datetime.datetime.now(datetime.timezone.utc)
    leaf = root.issue_cert(
        "localhost",
        common_name=f"check {kind} leaf",
        not_before=now + datetime.timedelta(days=start),
        not_after=now + datetime.timedelta(days=end),
    )
    with https_server(leaf) as url:
        text, report = check(url, trusting(env, tmp_path, root.cert_pem.bytes()))
    assert text.returncode == 1
    found = diagnosis(report, kind)
    assert f"check {kind} leaf" in found["subject"]
    assert found["sha256"] == fingerprint(leaf.cert_chain_pems[0].bytes())
    assert found["bundles"] == ["certifi-native"]
    assert bundle(report, "certifi-native")["error"]["code"] == code
    date = (now + datetime.timedelta(days=end if kind == "expired" else start)).strftime("%Y-%m-%d")
    assert f"{words} {date}" in text.stdout and f"check {kind} leaf" in text.stdout


def test_wrong_hostname_lists_the_names_the_certificate_covers(tmp_path: Path, env: dict[str, str]) -> None:
    root = trustme.CA(organization_name="check hostname root")
    leaf = root.issue_cert("wrong.example", "other.example", common_name="check wrong host")
    with https_server(leaf) as url:
        text, report = check(url, trusting(env, tmp_path, root.cert_pem.bytes()))
    assert text.returncode == 1
    mismatch = diagnosis(report, "hostname_mismatch")
    assert "check wrong host" in mismatch["subject"]
    assert mismatch["certificate"]["dns_names"] == ["wrong.example", "other.example"]
    assert mismatch["bundles"] == ["certifi-native"]
    assert "covers wrong.example, other.example; not localhost" in text.stdout


def test_self_signed_leaf(env: dict[str, str]) -> None:
    cert, key = make_cert("check self-signed leaf")
    with https_server(served(cert, key)) as url:
        text, report = check(url, env)
    assert text.returncode == 1
    self_signed = diagnosis(report, "self_signed_leaf")
    assert "check self-signed leaf" in self_signed["subject"]
    assert self_signed["sha256"] == fingerprint(pem_of(cert))
    assert self_signed["bundles"][0] == "certifi-native"
    assert "is self-signed" in text.stdout and self_signed["sha256"] in text.stdout


def test_bundles_named_by_variables_are_checked(tmp_path: Path, env: dict[str, str]) -> None:
    root = trustme.CA(organization_name="check variable root")
    requests_bundle = tmp_path / "requests-bundle.pem"
    requests_bundle.write_bytes(root.cert_pem.bytes())
    missing = tmp_path / "no-such-bundle.pem"
    with https_server(root.issue_cert("localhost")) as url:
        text, report = check(url, {**env, "REQUESTS_CA_BUNDLE": str(requests_bundle), "CURL_CA_BUNDLE": str(missing)})
    assert text.returncode == 1
    assert bundle(report, "REQUESTS_CA_BUNDLE")["verified"] and bundle(report, "REQUESTS_CA_BUNDLE")["path"] == str(
        requests_bundle
    )
    root_missing = diagnosis(report, "root_not_in_bundle")
    assert "check variable root" in root_missing["subject"]
    assert root_missing["found_in"] == ["REQUESTS_CA_BUNDLE"] and root_missing["bundles"][0] == "certifi-native"
    unreadable = diagnosis(report, "unreadable_bundle")
    assert unreadable["bundles"] == ["CURL_CA_BUNDLE"] and str(missing) in unreadable["message"]
    assert f"REQUESTS_CA_BUNDLE ({requests_bundle})" in text.stdout


def lax_root_server(tmp_path: Path, env: dict[str, str]) -> Tuple[trustme.LeafCert, dict[str, str], x509.Certificate]:
    """A root whose basicConstraints is not critical (accepted unless VERIFY_X509_STRICT), and its leaf."""
    root, root_key = make_cert("check lax root", ca=True, bc_critical=False)
    leaf, leaf_key = make_cert("localhost", issuer=(root, root_key))
    return served(leaf, leaf_key), trusting(env, tmp_path, pem_of(root)), root


def assert_names_the_lax_root(report: dict[str, Any], text: str, root: x509.Certificate, severity: str) -> None:
    strict = diagnosis(report, "strict_rejected")
    assert strict["severity"] == severity
    assert "check lax root" in strict["subject"]
    assert strict["sha256"] == fingerprint(pem_of(root))
    assert strict["bundles"] == ["certifi-native"]
    assert "not marked critical" in strict["message"]
    assert "VERIFY_X509_STRICT" in text and "check lax root" in text


def test_strict_mode_rejection_is_a_warning_before_3_13(tmp_path: Path, env: dict[str, str]) -> None:
    if sys.version_info >= (3, 13):
        pytest.skip("this Python enables VERIFY_X509_STRICT by default")
    leaf, trusted_env, root = lax_root_server(tmp_path, env)
    with https_server(leaf) as url:
        text, report = check(url, trusted_env)
    assert text.returncode == 0, text.stdout
    assert report["strict_by_default"] is False
    assert bundle(report, "certifi-native")["strict_error"]["code"] == 89  # X509_V_ERR_CA_BCONS_NOT_CRITICAL
    assert_names_the_lax_root(report, text.stdout, root, "warning")


@pytest.fixture(scope="module")
def python313_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    python = pyenv_python("3.13")
    if python is None:
        pytest.skip("no Python 3.13 under $(pyenv root)/versions")
    return venv_with_wheel(tmp_path_factory.mktemp("py313") / "venv", str(python))


def test_strict_mode_rejection_fails_on_python_3_13(
    tmp_path: Path, env: dict[str, str], python313_venv: Path
) -> None:
    leaf, trusted_env, root = lax_root_server(tmp_path, env)
    with https_server(leaf) as url:
        text, report = check(url, trusted_env, python=str(python313_venv))
    assert text.returncode == 1, text.stdout
    assert report["strict_by_default"] is True and report["python"].startswith("3.13")
    assert_names_the_lax_root(report, text.stdout, root, "error")


def test_python_3_13_captures_the_whole_chain(tmp_path: Path, env: dict[str, str], python313_venv: Path) -> None:
    root = trustme.CA(organization_name="check 3.13 root")
    intermediate = trustme.CA(parent_cert=root, organization_name="check 3.13 intermediate")
    with https_server(intermediate.issue_cert("localhost")) as url:
        text, report = check(url, trusting(env, tmp_path, root.cert_pem.bytes()), python=str(python313_venv))
    assert text.returncode == 0, text.stdout
    assert report["chain_complete"] and len(report["chain"]) == 2
    assert "check 3.13 intermediate" in report["chain"][1]["subject"]


def test_python_3_9_sees_only_the_leaf_and_says_so(
    env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    python = pyenv_python("3.9")
    if python is None:
        pytest.skip("no Python 3.9 under $(pyenv root)/versions")
    venv = venv_with_wheel(tmp_path_factory.mktemp("py39") / "venv", str(python))
    root = trustme.CA(organization_name="check 3.9 root")
    intermediate = trustme.CA(parent_cert=root, organization_name="check 3.9 intermediate")
    with https_server(intermediate.issue_cert("localhost")) as url:
        text, report = check(url, env, python=str(venv))
    assert text.returncode == 1
    assert report["chain_complete"] is False and len(report["chain"]) == 1
    unknown = diagnosis(report, "unknown_issuer")
    assert "check 3.9 intermediate" in unknown["subject"]
    assert "shows only the server's own certificate" in text.stdout


# --- connection errors ----------------------------------------------------------


def assert_connection_error(url: str, env: dict[str, str], kind: str, *extra: str, wrap: Tuple[str, ...] = ()) -> str:
    argv = [*wrap, sys.executable, *CHECK, url, *extra]
    text = run(argv, env, check=False)
    assert text.returncode == EXIT_CODES[kind], text.stderr
    assert text.stdout == "" and text.stderr.count("\n") == 1, text.stderr
    as_json = run([*argv, "--json"], env, check=False)
    assert as_json.returncode == EXIT_CODES[kind]
    report = json.loads(as_json.stdout)
    assert report["error"]["kind"] == kind and report["exit_code"] == EXIT_CODES[kind] and report["ok"] is False
    return text.stderr


@pytest.mark.parametrize("url", ["ftp://localhost/", "https://", "https://localhost:99999", "https://localhost:0"])
def test_bad_url(url: str, env: dict[str, str]) -> None:
    assert "bad URL" in assert_connection_error(url, env, "bad_url")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_refused_connection(env: dict[str, str]) -> None:
    assert "refused" in assert_connection_error(f"https://127.0.0.1:{free_port()}", env, "refused")


def test_a_port_that_does_not_speak_tls(env: dict[str, str]) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}"
        assert "no TLS handshake" in assert_connection_error(url, env, "not_tls")
    finally:
        server.shutdown()
        server.server_close()


def test_timeout(env: dict[str, str]) -> None:
    # Listening but never accepting: the TCP connection opens, the TLS handshake never answers.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"https://127.0.0.1:{silent.getsockname()[1]}"
        assert "timed out" in assert_connection_error(url, env, "timeout", "--timeout", "0.5")


NO_NETWORK = ("unshare", "--net", "--fork")


@pytest.fixture
def no_network() -> None:
    """Skips where a network namespace (no interface up) cannot be made."""
    probe = subprocess.run([*NO_NETWORK, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare --net refused: {probe.stderr.strip()}")


def test_unknown_host(no_network: None, env: dict[str, str]) -> None:
    err = assert_connection_error("https://nohost.invalid", env, "host_not_found", wrap=NO_NETWORK)
    assert "cannot resolve nohost.invalid" in err


def test_unreachable_host(no_network: None, env: dict[str, str]) -> None:
    err = assert_connection_error("https://192.0.2.1", env, "unreachable", wrap=NO_NETWORK)
    assert "cannot reach 192.0.2.1" in err


# --- proxy and API -------------------------------------------------------------


@contextlib.contextmanager
def connect_proxy(refuse: bool = False) -> Iterator[Tuple[str, List[str]]]:
    """A tiny HTTP CONNECT proxy on loopback; yields its URL and the request lines it saw."""
    seen: List[str] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def tunnel(client: socket.socket) -> None:
        with client:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = client.recv(4096)
                if not chunk:
                    return
                request += chunk
            line = request.split(b"\r\n")[0].decode()
            seen.append(line)
            if refuse:
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            host, port = line.split()[1].rsplit(":", 1)
            with socket.create_connection((host, int(port))) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
                back.start()
                pump(client, upstream)
                back.join()

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=tunnel, args=(client,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", seen
    finally:
        listener.close()


def test_https_proxy_is_used_with_connect(tmp_path: Path, env: dict[str, str]) -> None:
    root = trustme.CA(organization_name="check proxied root")
    with https_server(root.issue_cert("localhost")) as url, connect_proxy() as (proxy, seen):
        text, report = check(url, {**trusting(env, tmp_path, root.cert_pem.bytes()), "HTTPS_PROXY": proxy})
    assert text.returncode == 0, text.stdout + text.stderr
    assert report["proxy"] == proxy and f"via the proxy {proxy}" in text.stdout
    port = url.rsplit(":", 1)[1]
    assert seen and all(line == f"CONNECT localhost:{port} HTTP/1.1" for line in seen)


def test_a_proxy_that_refuses_connect(env: dict[str, str]) -> None:
    with connect_proxy(refuse=True) as (proxy, _):
        proc = run([sys.executable, *CHECK, "https://localhost:9"], {**env, "https_proxy": proxy}, check=False)
    assert proc.returncode == 9
    assert "403 Forbidden" in proc.stderr and proc.stderr.count("\n") == 1


def test_python_api_returns_a_report_and_raises_check_error(tmp_path: Path, env: dict[str, str]) -> None:
    root = trustme.CA(organization_name="check api root")
    code = (
        "import json, sys, certifi_native\n"
        "from certifi_native._check import CheckError\n"
        "report = certifi_native.check(sys.argv[1])\n"
        "print(report.ok, report.exit_code, report.bundles[0].name, json.dumps(sorted(report.as_dict())))\n"
        "try:\n"
        "    certifi_native.check(sys.argv[2], timeout=5)\n"
        "except CheckError as err:\n"
        "    print(err.kind, err.exit_code)\n"
    )
    with https_server(root.issue_cert("localhost")) as url:
        refused = f"https://127.0.0.1:{free_port()}"
        out = run([sys.executable, "-c", code, url, refused], trusting(env, tmp_path, root.cert_pem.bytes())).stdout
    first, second = out.splitlines()
    assert first.startswith("True 0 certifi-native ")
    assert json.loads(first.split(" ", 3)[3]) == [
        "bundles", "chain", "chain_complete", "diagnoses", "error", "exit_code", "host", "ok",
        "openssl", "port", "proxy", "python", "schema", "strict_by_default", "url",
    ]
    assert second == "refused 6"

