"""Shared test machinery: a scrubbed environment, test CAs, real local HTTPS
servers, and a private OS store (a mount namespace over /etc/ssl/certs).

Every subprocess gets an environment built from nothing (see ``clean_env``):
the host exports REQUESTS_CA_BUNDLE, SSL_CERT_FILE and friends, and no test
may pass or fail because of them.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path
from typing import Any, Iterator, Sequence, Union

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

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


def site_packages(python: str | os.PathLike[str], env: dict[str, str]) -> Path:
    """The site-packages folder of ``python`` (lib/python3.X or lib/pypy3.X in a venv)."""
    return Path(run_py("import sysconfig; print(sysconfig.get_paths()['platlib'])", env, str(python)).stdout.strip())


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


_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)


def pem_ders(data: bytes) -> list[bytes]:
    """The DER of every CERTIFICATE block of ``data``, in order."""
    return [base64.b64decode(b"".join(body.split())) for body in _PEM_BLOCK.findall(data)]


PrivateKey = Union[ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey]
When = Union[datetime.timedelta, datetime.datetime]


def x509_name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def build_cert(
    subject: x509.Name,
    key: PrivateKey,
    issuer: tuple[x509.Name, PrivateKey] | None = None,
    *,
    ca: bool = True,
    bc_critical: bool = True,
    valid_from: When = datetime.timedelta(0),
    valid_until: When = datetime.timedelta(days=1),
    serial: int | None = None,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> x509.Certificate:
    """A certificate built by hand (any name, any shape, unlike trustme's) for
    ``subject`` and ``key``, signed by ``issuer`` (a name and its key; by
    default itself), valid from/until these times or offsets from now, with
    basicConstraints and then each of ``extensions`` (with whether it is critical)."""
    issuer_name, issuer_key = issuer or (subject, key)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number() if serial is None else serial)
        .not_valid_before(now + valid_from if isinstance(valid_from, datetime.timedelta) else valid_from)
        .not_valid_after(now + valid_until if isinstance(valid_until, datetime.timedelta) else valid_until)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=bc_critical)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    digest = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(issuer_key, digest)


def self_signed_ca(
    name: x509.Name,
    key: ec.EllipticCurvePrivateKey | None = None,
    valid_from: When = datetime.timedelta(0),
    valid_until: When = datetime.timedelta(days=1),
) -> bytes:
    """The DER of a self-signed CA certificate for ``name`` (any name, unlike
    trustme's), valid from/until these times or offsets from now (a day by
    default), with ``key`` or a fresh one."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    cert = build_cert(name, key, valid_from=valid_from, valid_until=valid_until)
    return cert.public_bytes(serialization.Encoding.DER)


def make_cert(
    common_name: str,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
    ca: bool = False,
    bc_critical: bool = True,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A certificate in a real chain's shape (key identifiers; a CA's key usage,
    a leaf's name localhost) with a fresh key, signed by ``issuer`` or itself,
    for what trustme will not make: self-signed leaves, CAs whose
    basicConstraints is not critical, twin roots (one name, two keys)."""
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False),
    ]
    if ca:
        usage = dict.fromkeys(
            ["content_commitment", "key_encipherment", "data_encipherment", "key_agreement"]
            + ["encipher_only", "decipher_only", "digital_signature"],
            False,
        )
        extensions.append((x509.KeyUsage(key_cert_sign=True, crl_sign=True, **usage), True))
    else:
        extensions.append((x509.SubjectAlternativeName([x509.DNSName("localhost")]), False))
    cert = build_cert(
        x509_name(common_name),
        key,
        (issuer_cert.subject, issuer_key) if issuer_cert else None,
        ca=ca,
        bc_critical=bc_critical,
        valid_from=datetime.timedelta(days=-1),
        valid_until=datetime.timedelta(days=30),
        extensions=extensions,
    )
    return cert, key


def pem_of(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def served(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, *chain: x509.Certificate) -> trustme.LeafCert:
    """A hand-made certificate in the shape ``https_server`` serves."""
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return trustme.LeafCert(key_pem, pem_of(cert), [pem_of(c) for c in chain])


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
def https_server(
    cert: trustme.LeafCert, send_chain: bool = True, handler: Any = _Quiet
) -> Iterator[str]:
    """A real HTTPS server on 127.0.0.1 for ``cert``; yields its base URL
    (``https://localhost:PORT``). ``send_chain=False`` sends only the leaf;
    ``handler`` answers the requests (by default, one fixed body)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if send_chain:
        cert.configure_cert(context)
    else:
        with cert.private_key_pem.tempfile() as key, cert.cert_chain_pems[0].tempfile() as leaf:
            context.load_cert_chain(leaf, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def simple_index(root: Path, wheel: Path) -> Path:
    """A PEP 503 simple index serving one wheel, in ``root`` (serve it with ``index_handler``)."""
    name = wheel.name.split("-")[0].lower()
    (root / "files").mkdir(parents=True)
    (root / "files" / wheel.name).write_bytes(wheel.read_bytes())
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    (root / "simple" / name).mkdir(parents=True)
    (root / "simple" / "index.html").write_text(f'<a href="/simple/{name}/">{name}</a>\n')
    link = f'<a href="/files/{wheel.name}#sha256={digest}">{wheel.name}</a>\n'
    (root / "simple" / name / "index.html").write_text(link)
    return root


def index_handler(root: Path) -> Any:
    """An ``https_server`` handler serving the files of ``root`` (a ``simple_index``)."""
    return functools.partial(_Files, directory=str(root))


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


def run_namespaced(
    setup: str, argv: Sequence[str | os.PathLike[str]], env: dict[str, str], **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Like ``run_with_store``, for any mounts: runs ``argv`` in a private mount
    namespace after the shell commands ``setup`` (a read-only HOME, a tiny
    tmpfs...); the host never sees them."""
    script = f'mount --make-rprivate / && {setup} && exec "$@"'
    return run(["unshare", "--mount", "--fork", "sh", "-c", script, "sh", *argv], env, **kwargs)


# --- reading bundles --------------------------------------------------------

# Prints where() and info() as one JSON object (see ``probe``).
PROBE = "import json, certifi_native as c; print(json.dumps({'where': c.where(), 'info': c.info()}))"


def bundle_ders(text: str) -> list[bytes]:
    """The DER of each certificate of a PEM bundle's text, in order."""
    return pem_ders(text.encode("ascii"))


def der_of(pem: bytes) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem.decode("ascii"))


def colon_sha256(der: bytes) -> str:
    """A certificate's SHA-256 as ``info()`` writes it (AA:BB:...)."""
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def openssl_roots(path: str | os.PathLike[str]) -> int:
    """How many certificates OpenSSL (Python's ssl) loads from ``path`` (CAs and
    self-signed server certificates); raises if it cannot."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=os.fspath(path))
    return int(context.cert_store_stats()["x509"])


def probe(env: dict[str, str], store: Path | None = None, code: str = PROBE) -> dict[str, Any]:
    """Runs ``code`` (default: print where() and info() as JSON) in a fresh
    process, inside a private OS store if ``store`` is given; returns the JSON."""
    argv = [sys.executable, "-c", code]
    proc = run_with_store(store, argv, env) if store is not None else run(argv, env)
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


# --- fresh venvs from the built wheel ----------------------------------------

# What the client tests install; downloaded once into the wheelhouse with the
# host's environment (the only step that needs the registry), then installed offline.
WHEELHOUSE_PACKAGES = ["requests", "httpx", "urllib3", "aiohttp", "botocore", "certifi==2017.4.17", "pip"]


def built_wheel() -> Path:
    """The wheel under test (``scripts/dev`` exports it)."""
    wheel = os.environ.get("CERTIFI_NATIVE_WHEEL")
    if not wheel:
        pytest.skip("CERTIFI_NATIVE_WHEEL is not set: run through scripts/dev")
    return Path(wheel)


def wheelhouse_folder() -> Path:
    """The wheelhouse of the running interpreter, kept between sessions: wheels
    are specific to a Python version, implementation and platform, so one
    folder each, under the ignored build area (``CERTIFI_NATIVE_WHEELHOUSE``
    overrides it)."""
    chosen = os.environ.get("CERTIFI_NATIVE_WHEELHOUSE")
    if chosen:
        return Path(chosen)
    threads = "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
    version = "%d.%d%s" % (sys.version_info[0], sys.version_info[1], threads)
    tag = f"{sys.implementation.name}{version}-{sysconfig.get_platform()}"
    return Path(__file__).resolve().parent.parent / "target" / "wheelhouse" / tag


def fill_wheelhouse(folder: Path) -> str | None:
    """Downloads ``WHEELHOUSE_PACKAGES`` and their dependencies into ``folder``
    (with the host's pip settings) unless it already holds them; None when it
    does, else why not (pip's last words)."""
    marker, wanted = folder / "packages.json", sorted(WHEELHOUSE_PACKAGES)
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return None
    # Filled afresh beside it, then swapped in: one version of each package
    # (tests glob for a file), and an interrupted fill is never taken as filled.
    fresh = folder.with_name(folder.name + ".new")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    argv = [sys.executable, "-m", "pip", "download", "-q", "-d", str(fresh), *wanted]
    try:
        proc = subprocess.run(argv, env=dict(os.environ), capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        return "pip download took over 15 minutes"
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return f"pip download failed: {lines[-1] if lines else proc.returncode}"
    (fresh / marker.name).write_text(json.dumps(wanted))
    shutil.rmtree(folder, ignore_errors=True)
    fresh.rename(folder)
    return None


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """The real packages the client tests install (offline) into fresh venvs:
    filled once (``bash scripts/dev wheelhouse``, or here on first use) and
    reused; the tests that need it skip, saying why, when it cannot be filled
    (no package registry, say)."""
    folder = wheelhouse_folder()
    why = fill_wheelhouse(folder)
    if why is not None:
        pytest.skip(f"no complete wheelhouse at {folder} ({why}); fill it once with the registry reachable: bash scripts/dev wheelhouse")
    return folder


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def make_venv(venv: Path, wheelhouse: Path, *packages: str | os.PathLike[str], with_pip: bool = False) -> Path:
    """A fresh venv holding ``packages`` (names from the wheelhouse, or wheel
    files), installed offline; returns its python."""
    run([sys.executable, "-m", "venv", *([] if with_pip else ["--without-pip"]), venv], dict(os.environ))
    if packages:
        install_into(venv, wheelhouse, *packages)
    return venv_python(venv)


def install_into(venv: Path, wheelhouse: Path, *packages: str | os.PathLike[str]) -> None:
    # --isolated: offline, so no host pip settings (find-links, index) apply.
    pip: list[str | os.PathLike[str]] = [sys.executable, "-m", "pip", "--isolated", "--python", venv_python(venv), "install", "-q"]
    run([*pip, "--no-index", "--find-links", wheelhouse, *packages], dict(os.environ), timeout=600)


# --- a second real user ------------------------------------------------------

SECOND_USER = "certifi-native-test"


@pytest.fixture(scope="session")
def second_user() -> tuple[int, int]:
    """(uid, gid) of a real unprivileged user for the cross-user tests, created
    once (idempotently: kept for later runs); skips unless run as root."""
    import pwd

    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("cross-user tests need root (to create and become a second user)")
    try:
        entry = pwd.getpwnam(SECOND_USER)
    except KeyError:
        if shutil.which("useradd") is None:
            pytest.skip("useradd is not installed")
        # No check: a parallel run may have created it meanwhile; getpwnam says.
        run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", SECOND_USER], dict(os.environ), check=False)
        entry = pwd.getpwnam(SECOND_USER)
    return entry.pw_uid, entry.pw_gid


def as_user(user: tuple[int, int], argv: Sequence[str | os.PathLike[str]]) -> list[str | os.PathLike[str]]:
    """``argv`` run as ``user`` (``second_user``), with no supplementary groups."""
    uid, gid = user
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *argv]


_USER_PYTHON_PROBLEMS: dict[tuple[int, int, str], str] = {}


def require_user_python(user: tuple[int, int], python: str = sys.executable) -> None:
    """Skips the test when ``user`` cannot run ``python`` with the wheel: an
    interpreter under root's private home (pyenv's in /root, mode 0700) whose
    shared libpython that user's loader cannot reach (CPython 3.9 here)."""
    key = (*user, python)
    if key not in _USER_PYTHON_PROBLEMS:
        proc = subprocess.run(
            [str(a) for a in as_user(user, [python, "-c", "import certifi_native"])],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, cwd="/", capture_output=True, text=True,
        )
        lines = proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"]
        _USER_PYTHON_PROBLEMS[key] = "" if proc.returncode == 0 else lines[-1]
    if _USER_PYTHON_PROBLEMS[key]:
        pytest.skip(f"the second user cannot run {python}: {_USER_PYTHON_PROBLEMS[key]}")


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A fresh folder (root's, mode 0755) that other users can reach, unlike
    ``tmp_path`` (below pytest's private folder)."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="certifi-native-shared-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
