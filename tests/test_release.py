"""What a release promises: one version everywhere, the licences and metadata in
the wheel, and a bundle that a real TLS client can use."""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

import trustme

import certifi_native
from conftest import https_server, run, write_pem

CARGO_TOML = Path(__file__).resolve().parent.parent / "Cargo.toml"
LICENCES = {"LICENSE-MIT", "LICENSE-APACHE", "LICENSE-CDLA-Permissive-2.0", "NOTICE"}


def cargo_version() -> str:
    """The workspace's version, which the facade and the core crate inherit."""
    package = CARGO_TOML.read_text("utf-8").split("[workspace.package]", 1)[1]
    found = re.search(r'^version\s*=\s*"([^"]+)"', package, re.MULTILINE)
    assert found, "no version in Cargo.toml's [workspace.package]"
    return found.group(1)


def test_version_is_single_sourced_from_cargo_toml() -> None:
    version = cargo_version()
    assert metadata.version("certifi-native") == version
    assert certifi_native.__version__ == version
    assert certifi_native.info()["version"] == version


def test_wheel_carries_the_licences_and_metadata() -> None:
    dist = metadata.distribution("certifi-native")
    shipped = {Path(str(f)).name for f in dist.files or [] if ".dist-info" in str(f)}
    assert LICENCES <= shipped, LICENCES - shipped
    meta = dist.metadata
    assert meta["License-Expression"] == "(MIT OR Apache-2.0) AND CDLA-Permissive-2.0"
    assert LICENCES <= set(meta.get_all("License-File") or [])
    urls = dict(url.split(", ", 1) for url in meta.get_all("Project-URL") or [])
    assert {"Source", "Changelog", "Security"} <= set(urls), urls
    assert meta["Requires-Python"] == ">=3.9"


def test_smoke_a_tls_client_trusts_what_where_names(env: dict[str, str], ca: trustme.CA, home: Path) -> None:
    """The installed wheel's bundle verifies a real local HTTPS server (its CA
    given as an extra file) and still refuses one whose CA it does not hold."""
    extra = write_pem(home / "extra.pem", ca.cert_pem.bytes())
    stranger = trustme.CA(organization_name="certifi-native stranger CA")
    fetch = (
        "import sys, certifi_native, requests\n"
        "try:\n"
        "    print(requests.get(sys.argv[1], verify=certifi_native.where(), timeout=30).text, end='')\n"
        "except requests.exceptions.SSLError:\n"
        "    print('refused', end='')\n"
    )
    env = dict(env, CERTIFI_NATIVE_EXTRA_CA_CERTS=str(extra))
    with https_server(ca.issue_cert("localhost")) as trusted, https_server(stranger.issue_cert("localhost")) as untrusted:
        assert run([sys.executable, "-c", fetch, trusted], env).stdout == "hello from certifi-native tests\n"
        assert run([sys.executable, "-c", fetch, untrusted], env).stdout == "refused"
