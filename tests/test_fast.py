"""The redirect (certifi_native/_fast.py): a context told to load certifi-native's
bundle loads the hashed folder instead, and nothing a client can see differs:
the same verification outcome and error for every case ``check`` diagnoses,
the same ``get_ca_certs()`` and ``cert_store_stats()``; real clients verify a
real local server with no code change, with the redirect on and off."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
import trustme
from conftest import built_wheel, clean_env, https_server, make_cert, make_store, make_venv, pem_of, run, run_with_store, served
from test_check import pyenv_python, venv_with_wheel

# Run in a venv with the wheel: for each (label, port), the outcome of a TLS
# handshake with a context from the bundle file through the redirect, and with
# the redirect off (CERTIFI_NATIVE_FAST=0 is read at each load), plus what each
# context reports. Also that the redirect really happened.
COMPARE = r"""
import json, os, socket, ssl, sys, _ssl
import certifi_native

def outcome(context, port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
            with context.wrap_socket(raw, server_hostname="localhost"):
                return "ok"
    except ssl.SSLCertVerificationError as err:
        return f"{type(err).__name__}: {err.verify_code} {err.verify_message}: {err}"
    except Exception as err:
        return f"{type(err).__name__}: {err}"

def views(context):
    return {
        "stats": context.cert_store_stats(),
        "ca_certs": context.get_ca_certs(),
        "der": [c.hex() for c in context.get_ca_certs(True)],
    }

bundle = certifi_native.where()
def made(how):
    os.environ["CERTIFI_NATIVE_FAST"] = "1" if how != "file" else "0"
    if how == "text":
        return ssl.create_default_context(cadata=certifi_native.contents())
    return ssl.create_default_context(cafile=bundle)

result = {"fast": certifi_native.info()["activation"].get("fast"), "cases": {}}
for label, port in json.loads(sys.argv[1]):
    contexts = {how: made(how) for how in ("redirect", "text", "file")}
    case = {"loaded up front": {h: _ssl._SSLContext.cert_store_stats(c)["x509_ca"] for h, c in contexts.items()}}
    case["before"] = {h: views(c) for h, c in contexts.items()}
    case["outcome"] = {h: outcome(c, port) for h, c in contexts.items()}
    after = {h: views(c) for h, c in contexts.items()}
    case["after"] = {h: {"x509_ca": v["stats"]["x509_ca"], "der": sorted(v["der"])} for h, v in after.items()}
    result["cases"][label] = case
print(json.dumps(result))
"""


class Cases:
    """One server per case ``check`` diagnoses, plus twin roots; the roots our
    bundle should trust go to ``roots`` (an extra CA file)."""

    def __init__(self) -> None:
        self.servers: Dict[str, Tuple[trustme.LeafCert, bool]] = {}
        self.roots: List[bytes] = []
        now = datetime.datetime.now(datetime.timezone.utc)
        trusted = trustme.CA(organization_name="fast trusted root")
        self.roots.append(trusted.cert_pem.bytes())
        self.servers["trusted"] = (trusted.issue_cert("localhost"), True)
        unknown = trustme.CA(organization_name="fast unknown root")
        self.servers["unknown root"] = (trustme.CA(parent_cert=unknown).issue_cert("localhost"), True)
        holder = trustme.CA(organization_name="fast chain root")
        self.roots.append(holder.cert_pem.bytes())
        left_out = trustme.CA(parent_cert=holder, organization_name="fast left-out intermediate")
        self.servers["missing intermediate"] = (left_out.issue_cert("localhost"), False)
        self.servers["expired"] = (
            trusted.issue_cert("localhost", not_before=now - datetime.timedelta(days=10), not_after=now - datetime.timedelta(days=1)),
            True,
        )
        self.servers["not yet valid"] = (
            trusted.issue_cert("localhost", not_before=now + datetime.timedelta(days=1), not_after=now + datetime.timedelta(days=10)),
            True,
        )
        self.servers["wrong host"] = (trusted.issue_cert("wrong.example"), True)
        leaf, key = make_cert("localhost")
        self.servers["self-signed leaf"] = (served(leaf, key), True)
        lax, lax_key = make_cert("fast lax root", ca=True, bc_critical=False)
        self.roots.append(pem_of(lax))
        leaf, key = make_cert("localhost", issuer=(lax, lax_key))
        self.servers["strict mode (lax root)"] = (served(leaf, key), True)
        # Two roots sharing one subject name (as a cross-signed CA's do): one
        # hash, so the folder holds <hash>.0 and <hash>.1; a leaf under each.
        for index in range(2):
            root, root_key = make_cert("fast twin root", ca=True)
            self.roots.append(pem_of(root))
            leaf, key = make_cert("localhost", issuer=(root, root_key))
            self.servers[f"twin root {index}"] = (served(leaf, key), True)


@pytest.fixture(scope="module")
def cases() -> Cases:
    return Cases()


def compare(python: str, env: dict[str, str], cases: Cases, tmp_path: Path) -> Dict[str, Any]:
    extra = tmp_path / "roots.pem"
    extra.write_bytes(b"".join(cases.roots))
    env = {**env, "CERTIFI_NATIVE_MODE": "mozilla", "CERTIFI_NATIVE_EXTRA_CA_CERTS": str(extra)}
    with contextlib.ExitStack() as servers:
        ports = [
            (label, int(servers.enter_context(https_server(cert, send_chain=chain)).rsplit(":", 1)[1]))
            for label, (cert, chain) in cases.servers.items()
        ]
        out = run([python, "-c", COMPARE, json.dumps(ports)], env).stdout
    result: Dict[str, Any] = json.loads(out)
    return result


def assert_equivalent(result: Dict[str, Any], strict: bool) -> None:
    assert result["fast"].startswith("on:"), result["fast"]
    for label, case in result["cases"].items():
        up_front = case["loaded up front"]
        assert up_front["redirect"] == up_front["text"] == 0 < up_front["file"], (label, up_front)
        before = case["before"]
        assert before["redirect"] == before["text"] == before["file"], label
        assert before["file"]["stats"]["x509_ca"] == up_front["file"]
        outcome = case["outcome"]
        assert outcome["redirect"] == outcome["text"] == outcome["file"], (label, outcome)
        after = case["after"]
        assert after["redirect"] == after["text"] == after["file"], label
    outcomes = {label: case["outcome"]["file"] for label, case in result["cases"].items()}
    # The cases are what they claim: each fails, through the file, as check would say.
    expected = {
        "trusted": "ok",
        "twin root 0": "ok",
        "twin root 1": "ok",
        "unknown root": "SSLCertVerificationError: 20 ",
        "missing intermediate": "SSLCertVerificationError: 20 ",
        "expired": "SSLCertVerificationError: 10 ",
        "not yet valid": "SSLCertVerificationError: 9 ",
        "wrong host": "SSLCertVerificationError: 62 ",
        "self-signed leaf": "SSLCertVerificationError: 18 ",
        "strict mode (lax root)": "SSLCertVerificationError: 89 " if strict else "ok",
    }
    assert {label: outcomes[label][: len(prefix)] for label, prefix in expected.items()} == expected, outcomes


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_the_redirect_verifies_exactly_as_the_file(
    version: str, cases: Cases, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]
) -> None:
    base = pyenv_python(version)
    if base is None:
        pytest.skip(f"no Python {version} under $(pyenv root)/versions")
    python = venv_with_wheel(tmp_path_factory.mktemp(f"fast{version}") / "venv", str(base))
    assert_equivalent(compare(str(python), env, cases, tmp_path), strict=version == "3.13")


def test_the_redirect_verifies_exactly_as_the_file_here(cases: Cases, tmp_path: Path, env: dict[str, str]) -> None:
    """The same on the Python running the tests (the dev venv has the wheel)."""
    assert_equivalent(compare(sys.executable, env, cases, tmp_path), strict=sys.version_info >= (3, 13))


# What a context from some file reports, and whether it was redirected.
LOADED = """
import json, os, ssl, sys, _ssl
import certifi_native, certifi_native._activate as activation
context = ssl.create_default_context(cafile=sys.argv[1])
print(json.dumps({
    "fast": activation.status().get("fast"),
    "up_front": _ssl._SSLContext.cert_store_stats(context)["x509_ca"],
    "reported": context.cert_store_stats()["x509_ca"],
    "patched": ssl.SSLContext.load_verify_locations is not _ssl._SSLContext.load_verify_locations,
    "where": certifi_native.where(),
}))
"""


def loaded(env: dict[str, str], path: str) -> Dict[str, Any]:
    result: Dict[str, Any] = json.loads(run([sys.executable, "-c", LOADED, path], env).stdout)
    return result


def where(env: dict[str, str]) -> str:
    return run([sys.executable, "-m", "certifi_native"], env).stdout.strip()


def test_only_our_bundle_is_redirected(env: dict[str, str], tmp_path: Path, ca: trustme.CA) -> None:
    ours = where(env)
    result = loaded(env, ours)
    assert result["patched"] and result["up_front"] == 0 < result["reported"]
    # A copy of the same bytes is not a bundle certifi-native serves: loaded as a file.
    copy = tmp_path / "copy.pem"
    copy.write_bytes(Path(ours).read_bytes())
    result = loaded(env, str(copy))
    assert result["up_front"] == result["reported"] > 100
    # A link to ours is the same real file: redirected.
    link = tmp_path / "link.pem"
    link.symlink_to(ours)
    assert loaded(env, str(link))["up_front"] == 0


# Whether loading a file made this process load the native module.
NATIVE_AFTER_LOAD = """
import ssl, sys
ssl.create_default_context(cafile=sys.argv[1])
print("certifi_native._native" in sys.modules)
"""


def test_another_file_is_told_apart_without_the_native_module(env: dict[str, str], tmp_path: Path, ca: trustme.CA) -> None:
    """pip's vendored requests loads pip's own cacert.pem at import: telling
    such a file from ours must not load the native module (on Windows pip's
    process would then hold _native.pyd open, and could not upgrade us)."""
    ours = where(env)  # and the start-up record: the next starts do not load it
    other = tmp_path / "other.pem"
    other.write_bytes(ca.cert_pem.bytes())
    assert run([sys.executable, "-c", NATIVE_AFTER_LOAD, str(other)], env).stdout == "False\n"
    # Ours is redirected: that asks where(), so the module is loaded.
    assert run([sys.executable, "-c", NATIVE_AFTER_LOAD, ours], env).stdout == "True\n"


def test_off_with_fast_0(env: dict[str, str]) -> None:
    off = {**env, "CERTIFI_NATIVE_FAST": "0"}
    result = loaded(off, where(off))
    assert result["fast"] == "off: CERTIFI_NATIVE_FAST=0" and not result["patched"]
    assert result["up_front"] == result["reported"] > 100


def test_off_without_activation(env: dict[str, str]) -> None:
    result = loaded({**env, "CERTIFI_NATIVE_AUTO": "0"}, where(env))
    assert not result["patched"] and result["up_front"] > 100


@pytest.mark.parametrize("mode", ["system", "mozilla"])
def test_without_a_cache_folder_the_file_loads_as_before(home: Path, mode: str) -> None:
    """The OS's own bundle file (system mode) or the packaged one: no folder to redirect to."""
    env = clean_env(home, XDG_CACHE_HOME="/dev/null/cache", TMPDIR="/dev/null/tmp", CERTIFI_NATIVE_MODE=mode)
    result = loaded(env, where(env))
    served = "/etc/ssl/certs" if mode == "system" else "site-packages"
    assert served in os.path.realpath(result["where"]) and result["patched"]
    assert result["up_front"] == result["reported"] > 100


# --- real clients, no code change ------------------------------------------------

STALE_CERTIFI = "certifi==2017.4.17"


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    venv = tmp_path_factory.mktemp("fast-clients") / "venv"
    return make_venv(venv, wheelhouse, built_wheel(), "requests", "httpx", "urllib3", "aiohttp", "botocore", STALE_CERTIFI)


# After the client's call: whether a load of ours went to the folder.
REDIRECTED = """
import sys
fast = sys.modules.get("certifi_native._fast")
print("redirected:", bool(fast and any(folder for _, folder in fast._FOLDERS.values())))
"""

CLIENTS = {
    "requests": "import requests\nprint(requests.get(URL).status_code)",
    "httpx": "import httpx\nwith httpx.Client() as client:\n    print(client.get(URL).status_code)",
    "urllib3": "import certifi, urllib3\nprint(urllib3.PoolManager(ca_certs=certifi.where()).request('GET', URL).status)",
    "aiohttp": """
import asyncio, ssl, certifi, aiohttp
async def main():
    async with aiohttp.ClientSession() as session:
        async with session.get(URL, ssl=ssl.create_default_context(cafile=certifi.where())) as response:
            print(response.status)
asyncio.run(main())
""",
    # botocore's clients hand REQUESTS_CA_BUNDLE (set by activation) to the
    # session as a CA file (botocore/endpoint.py, httpsession.py).
    "botocore": """
import os
from botocore.awsrequest import AWSRequest
from botocore.httpsession import URLLib3Session
assert os.path.isfile(os.environ["REQUESTS_CA_BUNDLE"])
session = URLLib3Session(verify=os.environ["REQUESTS_CA_BUNDLE"])
print(session.send(AWSRequest(method="GET", url=URL).prepare()).status_code)
""",
}


@pytest.fixture
def store(tmp_path: Path, ca: trustme.CA) -> Path:
    return make_store(tmp_path / "store", ca.cert_pem.bytes())


@pytest.mark.parametrize("fast", ["on", "off"])
@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_clients_verify_with_no_code_change(
    namespaces: None, clients: Path, store: Path, server: str, env: dict[str, str], client: str, fast: str
) -> None:
    script = f"URL = {server!r}\n{CLIENTS[client]}\n{REDIRECTED}"
    run_env = env if fast == "on" else {**env, "CERTIFI_NATIVE_FAST": "0"}
    out = run_with_store(store, [clients, "-c", script], run_env).stdout
    assert out == f"200\nredirected: {fast == 'on'}\n"


def test_an_unrelated_ca_still_fails_through_the_redirect(
    namespaces: None, clients: Path, store: Path, env: dict[str, str], other_ca: trustme.CA
) -> None:
    with https_server(other_ca.issue_cert("localhost")) as url:
        script = f"URL = {url!r}\n{CLIENTS['requests']}"
        failed = run_with_store(store, [clients, "-c", script], env, check=False)
    assert failed.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in failed.stderr


LEAN = {"ssl", "_ssl", "certifi_native", "certifi_native._native", "certifi_native._activate"}


def test_a_normal_start_imports_neither_ssl_nor_the_package(clients: Path, env: dict[str, str]) -> None:
    """sys.modules tells (PyPy has no -X importtime); where CPython has it,
    -X importtime must show none of them either."""
    run([clients, "-c", "pass"], env)  # leaves the start-up record
    code = "import json, sys; print(json.dumps(sorted(sys.modules)))"
    importtime = ["-X", "importtime"] if sys.implementation.name == "cpython" else []
    shown = run([clients, *importtime, "-c", code], env)
    loaded = set(json.loads(shown.stdout))
    assert "certifi_native_hook" in loaded
    assert not loaded & LEAN, loaded & LEAN
    timed = {line.rsplit("|", 1)[-1].strip() for line in shown.stderr.splitlines() if line.startswith("import time:")}
    assert not timed & LEAN and (timed or not importtime), shown.stderr


def test_capath_1_still_works_and_info_says_it_is_deprecated(env: dict[str, str]) -> None:
    fast = {**env, "CERTIFI_NATIVE_CAPATH": "1"}
    code = "import json, os, certifi_native as c; print(json.dumps([os.environ['REQUESTS_CA_BUNDLE'], c.capath(), c.info()['notes']]))"
    variable, folder, notes = json.loads(run([sys.executable, "-c", code], fast).stdout)
    assert variable == folder and Path(folder).is_dir()
    assert any(note.startswith("CERTIFI_NATIVE_CAPATH=1 is deprecated") for note in notes), notes
    assert "note:    CERTIFI_NATIVE_CAPATH=1 is deprecated" in run([sys.executable, "-m", "certifi_native", "info"], fast).stdout
    _, _, plain = json.loads(run([sys.executable, "-c", code.replace("os.environ['REQUESTS_CA_BUNDLE']", "''")], env).stdout)
    assert not any("deprecated" in note for note in plain)
