"""Activation end to end with real clients: the OS store (a private mount
namespace over /etc/ssl/certs) trusts a test CA that signed a local HTTPS
server's certificate, and the venv holds a stale ``certifi==2017.4.17``."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme
from conftest import built_wheel, https_server, index_handler, install_into, make_store, make_venv, run_with_store, simple_index

STALE_CERTIFI = "certifi==2017.4.17"
VERIFY_FAILED = "CERTIFICATE_VERIFY_FAILED"


@pytest.fixture
def store(tmp_path: Path, ca: trustme.CA) -> Path:
    """An OS store that holds the test CA alone."""
    return make_store(tmp_path / "store", ca.cert_pem.bytes())


def test_the_seed_scenario(
    namespaces: None, tmp_path: Path, wheelhouse: Path, store: Path, server: str, env: dict[str, str]
) -> None:
    """requests deep in some SDK fails against a stale certifi; installing
    certifi-native, with no code change, is the whole fix."""
    venv = tmp_path / "venv"
    python = make_venv(venv, wheelhouse, "requests", "httpx", STALE_CERTIFI)
    script = f"import requests; print(requests.get({server!r}).status_code)"
    before = run_with_store(store, [python, "-c", script], env, check=False)
    assert before.returncode != 0 and VERIFY_FAILED in before.stderr, before.stderr
    install_into(venv, wheelhouse, built_wheel())
    assert run_with_store(store, [python, "-c", script], env).stdout == "200\n"
    httpx_script = f"import httpx; print(httpx.get({server!r}).status_code)"
    assert run_with_store(store, [python, "-c", httpx_script], env).stdout == "200\n"


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    venv = tmp_path_factory.mktemp("clients") / "venv"
    packages = ["requests", "httpx", "urllib3", "aiohttp", "botocore", STALE_CERTIFI]
    return make_venv(venv, wheelhouse, built_wheel(), *packages)


CLIENTS = {
    "urllib3": """
import certifi, urllib3
print(urllib3.PoolManager(ca_certs=certifi.where()).request("GET", URL).status)
""",
    "aiohttp": """
import asyncio, ssl, certifi, aiohttp
async def main():
    context = ssl.create_default_context(cafile=certifi.where())
    async with aiohttp.ClientSession() as session:
        async with session.get(URL, ssl=context) as response:
            print(response.status)
asyncio.run(main())
""",
    "botocore": """
from botocore.awsrequest import AWSRequest
from botocore.httpsession import URLLib3Session, get_cert_path
import certifi_native
print("cert path is ours:", get_cert_path(True) == certifi_native.where())
print(URLLib3Session().send(AWSRequest(method="GET", url=URL).prepare()).status_code)
""",
}


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_clients_that_ask_certifi(
    namespaces: None, clients: Path, store: Path, server: str, env: dict[str, str], client: str
) -> None:
    script = f"URL = {server!r}\n{CLIENTS[client]}"
    out = run_with_store(store, [clients, "-c", script], env).stdout
    assert out.endswith("200\n") and "ours: False" not in out
    # The control: with activation off, the stale certifi is what they get.
    off = run_with_store(store, [clients, "-c", script], {**env, "CERTIFI_NATIVE_AUTO": "0"}, check=False)
    assert off.returncode != 0 and VERIFY_FAILED in off.stderr + off.stdout


def test_pip_download_and_install_from_an_https_index(
    namespaces: None, tmp_path: Path, wheelhouse: Path, store: Path, ca: trustme.CA, env: dict[str, str]
) -> None:
    """pip vendors its own certifi, which we leave alone. pip (>= 24.2, Python
    3.10+) verifies with truststore, i.e. the OS store, plus that certifi, plus
    REQUESTS_CA_BUNDLE when set, which activation sets to our bundle. What we
    promise for pip: it keeps working, with the same OS store we serve."""
    venv = tmp_path / "venv"
    python = make_venv(venv, wheelhouse, "pip", built_wheel())
    seen = "import os; from pip._vendor import certifi; print(certifi.where()); print(os.environ['REQUESTS_CA_BUNDLE'])"
    vendored, variable = run_with_store(store, [python, "-c", seen], env).stdout.split()
    assert vendored.endswith("pip/_vendor/certifi/cacert.pem")
    assert variable == run_with_store(store, [python, "-m", "certifi_native"], env).stdout.strip()
    (wheel,) = wheelhouse.glob("six-*.whl")
    root = simple_index(tmp_path / "index", wheel)
    with https_server(ca.issue_cert("localhost", "127.0.0.1"), handler=index_handler(root)) as url:
        quiet = ["--disable-pip-version-check", "--no-input", "--retries", "0", "--no-cache-dir"]
        pip: list[str | Path] = [python, "-m", "pip", *quiet]
        index = ["--index-url", f"{url}/simple/"]
        run_with_store(store, [*pip, "download", "--no-deps", "-d", tmp_path / "got", *index, "six"], env)
        assert (tmp_path / "got" / wheel.name).is_file()
        run_with_store(store, [*pip, "install", *index, "six"], env)
    assert "six" in run_with_store(store, [*pip, "list"], env).stdout


def test_session_verify_wins_and_certifi_only_mode_still_verifies(
    namespaces: None, clients: Path, store: Path, server: str, env: dict[str, str], other_ca: trustme.CA, tmp_path: Path
) -> None:
    """Session.verify names a file without the store's CA: it wins over the
    variable activation set (it was ignored before, a requests behaviour), and
    verification fails as the user asked. ``CERTIFI_NATIVE_AUTO=certifi``
    sets no variable and requests' default still verifies through certifi."""
    unrelated = tmp_path / "unrelated.pem"
    unrelated.write_bytes(other_ca.cert_pem.bytes())
    session = f"import requests; s = requests.Session(); s.verify = {str(unrelated)!r}\n"
    through_session = session + f"print(s.get({server!r}).status_code)"
    refused = run_with_store(store, [clients, "-c", through_session], env, check=False)
    assert refused.returncode != 0 and VERIFY_FAILED in refused.stderr
    certifi_only = {**env, "CERTIFI_NATIVE_AUTO": "certifi"}
    refused = run_with_store(store, [clients, "-c", through_session], certifi_only, check=False)
    assert refused.returncode != 0 and VERIFY_FAILED in refused.stderr
    assert run_with_store(store, [clients, "-c", f"import requests; print(requests.get({server!r}).status_code)"], certifi_only).stdout == "200\n"


def test_fast_mode_points_requests_at_the_hashed_folder(
    namespaces: None, clients: Path, store: Path, server: str, env: dict[str, str]
) -> None:
    """CERTIFI_NATIVE_CAPATH=1: REQUESTS_CA_BUNDLE names capath(), a folder,
    and requests verifies through it with no code change."""
    script = f"""
import os, certifi_native, requests
assert os.environ["REQUESTS_CA_BUNDLE"] == certifi_native.capath(), os.environ["REQUESTS_CA_BUNDLE"]
assert os.path.isdir(os.environ["REQUESTS_CA_BUNDLE"])
print(requests.get({server!r}).status_code)
"""
    fast = {**env, "CERTIFI_NATIVE_CAPATH": "1"}
    assert run_with_store(store, [clients, "-c", script], fast).stdout == "200\n"
    other = make_store(store.parent / "other-store", trustme.CA().cert_pem.bytes())
    failed = run_with_store(other, [clients, "-c", script], fast, check=False)
    assert failed.returncode != 0 and VERIFY_FAILED in failed.stderr, failed.stderr
