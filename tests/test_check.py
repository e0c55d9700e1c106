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
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import https_server, make_cert, make_store, pem_of, run, run_with_store, served, x509_name

CHECK = ["-m", "certifi_native", "check"]
EXIT_CODES = {"bad_url": 3, "host_not_found": 4, "unreachable": 5, "refused": 6, "timeout": 7, "not_tls": 8, "tls_error": 10}

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
    assert missing["severity"] == "note"  # only bundles no client reads lack it
    assert "Result: requests here verifies this server" in text.stdout
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
    # Activation points certifi at certifi-native: no client reads certifi's own
    # file, and nothing advises installing what is installed and active.
    assert certifi["used_by"] == [] and "certifi 2017.4.17 [no client here reads it]" in text.stdout
    assert missing["severity"] == "note"
    assert not any("certifi-native" in fix and "use" in fix for fix in missing["fix"]), missing["fix"]
    assert "certifi 2017.4.17" in text.stdout and missing["sha256"] in text.stdout


def test_a_read_stale_certifi_gets_advice_for_activation_not_an_install(
    namespaces: None, tmp_path: Path, env: dict[str, str], stale_certifi_venv: Path
) -> None:
    root = trustme.CA(organization_name="check certifi-read root")
    store = make_store(tmp_path / "store", root.cert_pem.bytes())
    with https_server(root.issue_cert("localhost")) as url:
        # env mode: certifi is not pointed at certifi-native, so httpx reads certifi's own file.
        argv = [str(stale_certifi_venv), *CHECK, url, "--client", "httpx", "--json"]
        proc = run_with_store(store, argv, {**env, "CERTIFI_NATIVE_AUTO": "env"}, check=False)
    report = json.loads(proc.stdout)
    assert proc.returncode == 1 and report["client"]["bundle"] == "certifi"
    assert bundle(report, "certifi")["used_by"] == ["httpx"]
    missing = diagnosis(report, "root_not_in_bundle")
    assert missing["severity"] == "error"
    assert any("CERTIFI_NATIVE_AUTO" in fix for fix in missing["fix"]), missing["fix"]


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
    # requests reads REQUESTS_CA_BUNDLE, which verifies; certifi-native's bundle (httpx's) does not.
    assert text.returncode == 0 and bundle(report, "REQUESTS_CA_BUNDLE")["verified"]
    assert report["client"]["bundle"] == "REQUESTS_CA_BUNDLE"
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
    assert text.returncode == 0  # requests reads REQUESTS_CA_BUNDLE (and never CURL_CA_BUNDLE then)
    assert bundle(report, "REQUESTS_CA_BUNDLE")["verified"] and bundle(report, "REQUESTS_CA_BUNDLE")["path"] == str(
        requests_bundle
    )
    root_missing = diagnosis(report, "root_not_in_bundle")
    assert "check variable root" in root_missing["subject"]
    assert root_missing["found_in"] == ["REQUESTS_CA_BUNDLE"] and root_missing["bundles"][0] == "certifi-native"
    unreadable = diagnosis(report, "unreadable_bundle")
    assert unreadable["bundles"] == ["CURL_CA_BUNDLE"] and str(missing) in unreadable["message"]
    assert unreadable["severity"] == "note" and bundle(report, "CURL_CA_BUNDLE")["used_by"] == []
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
        "from certifi_native import CheckError\n"
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
        "bundles", "chain", "chain_complete", "client", "diagnoses", "error", "exit_code", "host", "notes",
        "ok", "openssl", "port", "proxy", "python", "schema", "strict_by_default", "url",
    ]
    assert second == "refused 6"



# --- the verdict is the client's: the bundle it uses in this environment ------------

# Fetches sys.argv[2] with the named client, as an application would (no verify=,
# no context=): prints "ok", or the exception's class name.
FETCH = """
import sys
client, url = sys.argv[1], sys.argv[2]
try:
    if client == "requests":
        import requests; requests.get(url, timeout=30)
    elif client == "httpx":
        import httpx; httpx.get(url, timeout=30)
    else:
        import urllib.request; urllib.request.urlopen(url, timeout=30)
    print("ok")
except Exception as err:
    print(type(err).__name__)
"""


def fetch(client: str, url: str, env: dict[str, str]) -> bool:
    """Whether the real client, in this environment, verifies ``url``."""
    return run([sys.executable, "-c", FETCH, client, url], env).stdout.strip() == "ok"


def test_a_stale_user_requests_ca_bundle_fails_the_check_and_is_named(tmp_path: Path, env: dict[str, str]) -> None:
    root, stale = trustme.CA(organization_name="check current root"), trustme.CA(organization_name="check stale root")
    old_bundle = tmp_path / "old-bundle.pem"  # exported once, long ago; activation keeps it by design
    old_bundle.write_bytes(stale.cert_pem.bytes())
    user_env = {**trusting(env, tmp_path, root.cert_pem.bytes()), "REQUESTS_CA_BUNDLE": str(old_bundle)}
    with https_server(root.issue_cert("localhost")) as url:
        text, report = check(url, user_env)
        requests_verifies = fetch("requests", url, user_env)
    assert not requests_verifies  # what the user sees
    assert text.returncode == 1 and report["ok"] is False, text.stdout
    assert bundle(report, "certifi-native")["verified"]  # ours would work: the variable is the cause
    client = report["client"]
    assert client["name"] == "requests" and client["source"] == "REQUESTS_CA_BUNDLE"
    assert client["path"] == str(old_bundle) and client["bundle"] == "REQUESTS_CA_BUNDLE"
    assert client["set_by"] == "you or a parent process" and client["verified"] is False
    missing = diagnosis(report, "root_not_in_bundle")
    assert "REQUESTS_CA_BUNDLE" in missing["bundles"] and missing["severity"] == "error"
    assert any(fix.startswith("unset REQUESTS_CA_BUNDLE") for fix in missing["fix"]), missing["fix"]
    result = text.stdout.strip().splitlines()[-1]
    assert result.startswith("Result: requests here does NOT verify this server")
    assert f"REQUESTS_CA_BUNDLE={old_bundle}" in result and "[root_not_in_bundle]" in result


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted-root", "unknown-root"])
def test_with_activations_value_check_agrees_with_requests(trusted: bool, tmp_path: Path, env: dict[str, str]) -> None:
    root = trustme.CA(organization_name="check agreeing root")
    run_env = trusting(env, tmp_path, root.cert_pem.bytes()) if trusted else env
    with https_server(root.issue_cert("localhost")) as url:
        text, report = check(url, run_env)
        requests_verifies = fetch("requests", url, run_env)
    assert requests_verifies is trusted
    assert (text.returncode == 0) is requests_verifies and report["ok"] is requests_verifies, text.stdout
    client = report["client"]
    assert client["source"] == "REQUESTS_CA_BUNDLE" and client["set_by"] == "certifi-native's activation"
    assert client["bundle"] == "certifi-native" and "requests" in bundle(report, "certifi-native")["used_by"]


def test_client_httpx_follows_ssl_cert_file(tmp_path: Path, env: dict[str, str]) -> None:
    root, other = trustme.CA(organization_name="check httpx root"), trustme.CA(organization_name="check other root")
    other_file = tmp_path / "other.pem"
    other_file.write_bytes(other.cert_pem.bytes())
    # certifi-native's bundle holds the root (an extra file); SSL_CERT_FILE names a file without it.
    run_env = {**trusting(env, tmp_path, root.cert_pem.bytes()), "SSL_CERT_FILE": str(other_file)}
    with https_server(root.issue_cert("localhost")) as url:
        as_httpx = run([sys.executable, *CHECK, url, "--client", "httpx", "--json"], run_env, check=False)
        as_requests = run([sys.executable, *CHECK, url, "--json"], run_env, check=False)
        httpx_verifies, requests_verifies = fetch("httpx", url, run_env), fetch("requests", url, run_env)
    assert (httpx_verifies, requests_verifies) == (False, True)
    httpx_report, requests_report = json.loads(as_httpx.stdout), json.loads(as_requests.stdout)
    assert (as_httpx.returncode, as_requests.returncode) == (1, 0)
    assert httpx_report["client"]["source"] == "SSL_CERT_FILE" and httpx_report["client"]["bundle"] == "SSL_CERT_FILE"
    assert requests_report["client"]["bundle"] == "certifi-native"
    assert bundle(httpx_report, "SSL_CERT_FILE")["used_by"] == ["httpx", "urllib", "ssl"]


@pytest.mark.parametrize("client, variable", [("requests", "CURL_CA_BUNDLE"), ("httpx", "SSL_CERT_DIR")])
def test_a_variable_that_decides_alone_decides_the_verdict(
    tmp_path: Path, env: dict[str, str], client: str, variable: str
) -> None:
    """The lower rows of the precedence table: with nothing above it set,
    requests reads CURL_CA_BUNDLE and httpx SSL_CERT_DIR; each here names
    roots without the server's, though certifi-native's bundle holds it."""
    root, other = trustme.CA(organization_name="check decided root"), trustme.CA(organization_name="check other root")
    named = tmp_path / "named"
    if variable == "SSL_CERT_DIR":
        named.mkdir()
        (named / "other.pem").write_bytes(other.cert_pem.bytes())
        run(["openssl", "rehash", named], env)
    else:
        named.write_bytes(other.cert_pem.bytes())
    run_env = {**trusting(env, tmp_path, root.cert_pem.bytes()), variable: str(named)}
    with https_server(root.issue_cert("localhost")) as url:
        proc = run([sys.executable, *CHECK, url, "--client", client, "--json"], run_env, check=False)
        verifies = fetch(client, url, run_env)
    report = json.loads(proc.stdout)
    assert (verifies, proc.returncode) == (False, 1), proc.stdout + proc.stderr
    assert report["client"]["source"] == variable, report["client"]


def test_client_httpx_without_variables_follows_certifi_where(tmp_path: Path, env: dict[str, str]) -> None:
    root = trustme.CA(organization_name="check httpx certifi root")
    run_env = trusting(env, tmp_path, root.cert_pem.bytes())
    with https_server(root.issue_cert("localhost")) as url:
        proc = run([sys.executable, *CHECK, url, "--client", "httpx", "--json"], run_env, check=False)
        httpx_verifies = fetch("httpx", url, run_env)
    report = json.loads(proc.stdout)
    assert httpx_verifies and proc.returncode == 0
    assert report["client"]["source"] == "certifi.where()" and report["client"]["bundle"] == "certifi-native"


def test_client_urllib_uses_openssls_default_paths(tmp_path: Path, env: dict[str, str]) -> None:
    root = trustme.CA(organization_name="check urllib root")
    root_file = tmp_path / "root.pem"
    root_file.write_bytes(root.cert_pem.bytes())
    with https_server(root.issue_cert("localhost")) as url:
        outcomes = []
        for run_env in (env, {**env, "SSL_CERT_FILE": str(root_file)}):
            proc = run([sys.executable, *CHECK, url, "--client", "urllib", "--json"], run_env, check=False)
            outcomes.append((proc.returncode, fetch("urllib", url, run_env), json.loads(proc.stdout)))
    (plain_code, plain_urllib, plain), (file_code, file_urllib, with_file) = outcomes
    assert (plain_code, plain_urllib) == (1, False) and (file_code, file_urllib) == (0, True)
    assert plain["client"]["bundle"] == "openssl" and bundle(plain, "openssl")["used_by"] == ["urllib", "ssl"]
    assert with_file["client"]["source"] == "OpenSSL's default paths"


def test_ssl_cert_file_naming_a_bundle_is_reported(tmp_path: Path, env: dict[str, str]) -> None:
    """`SSL_CERT_FILE=$(python -m certifi)`, with certifi-native active: our own bundle, or certifi's file."""
    root = trustme.CA(organization_name="check pointing-back root")
    with https_server(root.issue_cert("localhost")) as url:
        ours = run([sys.executable, "-m", "certifi"], env).stdout.strip()
        certifi_file = run([sys.executable, "-c", "import certifi, os; print(os.path.join(os.path.dirname(certifi.__file__), 'cacert.pem'))"], {**env, "CERTIFI_NATIVE_AUTO": "0"}).stdout.strip()
        notes = []
        for value in (ours, certifi_file):
            proc = run([sys.executable, *CHECK, url, "--json"], {**env, "SSL_CERT_FILE": value}, check=False)
            notes.append(json.loads(proc.stdout)["notes"])
    assert any("names certifi-native's own bundle" in note for note in notes[0]), notes[0]
    assert any("names certifi's own cacert.pem" in note for note in notes[1]), notes[1]


# --- bad input: one line, never a hang or a traceback -----------------------------------


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_a_fifo_named_by_a_bundle_variable_does_not_hang_the_check(
    variable: str, tmp_path: Path, env: dict[str, str]
) -> None:
    fifo = tmp_path / "bundle.fifo"
    os.mkfifo(fifo)
    root = trustme.CA(organization_name="check fifo root")
    with https_server(root.issue_cert("localhost")) as url:
        # The timeout only guards the suite: a reader of the FIFO would wait for ever.
        proc = run([sys.executable, *CHECK, url, "--json"], {**env, variable: str(fifo)}, check=False, timeout=60)
    report = json.loads(proc.stdout)
    assert proc.returncode == 1 and report["client"]["bundle"] == variable
    unreadable = diagnosis(report, "unreadable_bundle")
    assert unreadable["bundles"] == [variable] and "not a regular file (a FIFO)" in unreadable["message"]


def test_a_fifo_named_by_ssl_cert_file_does_not_hang_the_check(tmp_path: Path, env: dict[str, str]) -> None:
    fifo = tmp_path / "store.fifo"
    os.mkfifo(fifo)
    root = trustme.CA(organization_name="check fifo store root")
    with https_server(root.issue_cert("localhost")) as url:
        argv = [sys.executable, *CHECK, url, "--json", "--client", "httpx"]
        proc = run(argv, {**env, "SSL_CERT_FILE": str(fifo)}, check=False, timeout=30)
    report = json.loads(proc.stdout)
    assert proc.returncode == 1 and report["client"]["bundle"] == "SSL_CERT_FILE"
    # SSL_CERT_FILE is also the OS store's replacement: the store row is empty too.
    unreadable = [d for d in report["diagnoses"] if d["kind"] == "unreadable_bundle" and d["bundles"] == ["SSL_CERT_FILE"]]
    assert len(unreadable) == 1 and "not a regular file (a FIFO)" in unreadable[0]["message"], report["diagnoses"]


@contextlib.contextmanager
def trickling_proxy() -> Iterator[str]:
    """A CONNECT proxy on loopback that answers one byte at a time, and never
    finishes its headers: each byte comes well within any per-read timeout."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle(client: socket.socket) -> None:
        with client, contextlib.suppress(OSError):
            client.recv(4096)
            for byte in b"HTTP/1.1 200 Connection established\r\nX-Slow: ":
                client.sendall(bytes([byte]))
                stop.wait(0.05)
            while not stop.is_set():
                client.sendall(b"a")
                stop.wait(0.05)

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = listener.accept()
                threading.Thread(target=trickle, args=(client,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()


def test_a_failed_handshake_closes_its_socket_at_once(env: dict[str, str]) -> None:
    """A handshake that fails verification closes its TLS socket then, not when
    the garbage collector gets to it (PyPy's is late, and the server waits on
    a half-open connection): no ResourceWarning for an unclosed socket."""
    unknown = trustme.CA(organization_name="check unknown root")
    with https_server(unknown.issue_cert("localhost")) as url:
        proc = run([sys.executable, "-X", "dev", "-W", "always::ResourceWarning", *CHECK, url], env, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ResourceWarning" not in proc.stderr, proc.stderr


def test_a_trickling_proxy_cannot_keep_the_check_past_its_timeout(env: dict[str, str]) -> None:
    with trickling_proxy() as proxy:
        # Without one overall deadline the check would wait for the end of an endless
        # header; the subprocess timeout only guards the suite against that hang.
        proc = run([sys.executable, *CHECK, "https://localhost:9", "--timeout", "1"], {**env, "https_proxy": proxy}, check=False, timeout=120)
    assert proc.returncode == EXIT_CODES["timeout"], proc.stderr
    assert "timed out waiting for the proxy" in proc.stderr and proc.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "argv, extra_env, code, words",
    [
        (["https://localhost:9"], {"https_proxy": "http://[::1"}, 3, "bad proxy URL"),
        ([f"https://{'a' * 64}.example"], {}, 3, "not a valid DNS name"),
        (["https://localhost:9", "--timeout", "inf"], {}, 2, "invalid seconds value: 'inf'"),
        (["https://localhost:9", "--timeout", "nan"], {}, 2, "invalid seconds value: 'nan'"),
        (["https://localhost:9", "--client", "curl"], {}, 2, "invalid choice: 'curl'"),
    ],
    ids=["proxy-ipv6", "long-label", "timeout-inf", "timeout-nan", "unknown-client"],
)
def test_bad_input_gets_one_line_not_a_traceback(
    argv: List[str], extra_env: dict[str, str], code: int, words: str, env: dict[str, str]
) -> None:
    proc = run([sys.executable, *CHECK, *argv], {**env, **extra_env}, check=False)
    assert proc.returncode == code and words in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def big_leaf(megabytes: int) -> trustme.LeafCert:
    """A leaf for localhost made ``megabytes`` large by an unknown, non-critical extension."""
    issuer, issuer_key = make_cert("check big-chain root", ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    padding = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"x" * (megabytes << 20))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509_name("localhost"))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(padding, critical=False)
        .sign(issuer_key, hashes.SHA256())
    )
    return served(cert, key)


def test_a_10_mb_chain_is_named_as_too_large(env: dict[str, str]) -> None:
    with https_server(big_leaf(10)) as url:
        stderr = assert_connection_error(url, env, "tls_error")
    assert "larger than OpenSSL accepts" in stderr and "https port" not in stderr
