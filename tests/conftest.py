"""Shared test machinery: a scrubbed environment, test CAs, real local HTTPS
servers, and a private OS store (a mount namespace over /etc/ssl/certs).

Every subprocess gets an environment built from nothing (see ``clean_env``):
the host exports REQUESTS_CA_BUNDLE, SSL_CERT_FILE and friends, and no test
may pass or fail because of them.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import ssl
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest
import trustme

HOST_STORE = Path("/etc/ssl/certs")


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment with nothing from the host but PATH: no CA variables,
    no proxies, no CERTIFI_NATIVE_* settings; HOME and caches under ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "tmp").mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "TMPDIR": str(home / "tmp"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if os.name == "nt":  # Windows' Python cannot start (no random source) without it
        env["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
    env.update(extra)
    return env


def run(
    argv: Sequence[str | os.PathLike[str]],
    env: dict[str, str],
    check: bool = True,
    timeout: float = 120,
    **kwargs: Any,
) -> subprocess.CompletedProcess[str]:
    """Runs a command, capturing text output; on failure the output is in the error."""
    proc: subprocess.CompletedProcess[str] = subprocess.run(
        [str(a) for a in argv], env=env, capture_output=True, text=True, timeout=timeout, **kwargs
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{argv} exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
    return proc


def run_py(code: str, env: dict[str, str], python: str = sys.executable, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Runs ``python -c code`` (the interpreter that has the wheel installed)."""
    return run([python, "-c", code], env, **kwargs)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    return clean_env(home)


# --- certificates ---------------------------------------------------------


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A test CA no real store trusts."""
    return trustme.CA(organization_name="certifi-native test CA")


@pytest.fixture(scope="session")
def other_ca() -> trustme.CA:
    return trustme.CA(organization_name="certifi-native unrelated CA")


def write_pem(path: Path, *blobs: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(blobs))
    return path


# --- HTTPS servers ----------------------------------------------------------


class _Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        body = b"hello from certifi-native tests\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def https_server(cert: trustme.LeafCert, send_chain: bool = True) -> Iterator[str]:
    """A real HTTPS server on 127.0.0.1 for ``cert``; yields its base URL
    (``https://localhost:PORT``). ``send_chain=False`` sends only the leaf."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if send_chain:
        cert.configure_cert(context)
    else:
        with cert.private_key_pem.tempfile() as key, cert.cert_chain_pems[0].tempfile() as leaf:
            context.load_cert_chain(leaf, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def server(ca: trustme.CA) -> Iterator[str]:
    """An HTTPS server whose leaf the test CA signed."""
    with https_server(ca.issue_cert("localhost", "127.0.0.1")) as url:
        yield url


# --- a private OS store -----------------------------------------------------

_NAMESPACE_PROBE: list[str] = []


def _namespace_refusal() -> str:
    """Why mount namespaces cannot be used here ('' when they can)."""
    if not _NAMESPACE_PROBE:
        if shutil.which("unshare") is None:
            _NAMESPACE_PROBE.append("unshare is not installed")
        else:
            probe = subprocess.run(
                ["unshare", "--mount", "--fork", "sh", "-c", "mount --make-rprivate / && mount -t tmpfs none /mnt"],
                capture_output=True,
                text=True,
            )
            _NAMESPACE_PROBE.append("" if probe.returncode == 0 else f"unshare refused: {probe.stderr.strip()}")
    return _NAMESPACE_PROBE[0]


@pytest.fixture
def namespaces() -> None:
    """Skips the test, with the reason, where a private mount namespace is refused."""
    why = _namespace_refusal()
    if why:
        pytest.skip(why)


def make_store(folder: Path, *pems: bytes, with_host: bool = False) -> Path:
    """A folder laid out like Debian's /etc/ssl/certs: ``ca-certificates.crt``
    holding the given PEMs (after the host's roots if ``with_host``), plus one
    file per PEM."""
    folder.mkdir(parents=True, exist_ok=True)
    host = (HOST_STORE / "ca-certificates.crt").read_bytes() if with_host else b""
    (folder / "ca-certificates.crt").write_bytes(host + b"".join(pems))
    for index, pem in enumerate(pems):
        (folder / f"test-{index}.pem").write_bytes(pem)
    return folder


def run_with_store(
    store: Path, argv: Sequence[str | os.PathLike[str]], env: dict[str, str], **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Runs ``argv`` in a private mount namespace where ``store`` is bind-mounted
    over /etc/ssl/certs: the OS store, as every program in there sees it."""
    script = 'mount --make-rprivate / && mount --bind "$0" /etc/ssl/certs && exec "$@"'
    return run(["unshare", "--mount", "--fork", "sh", "-c", script, store, *argv], env, **kwargs)
