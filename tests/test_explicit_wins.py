"""An explicit choice beats the REQUESTS_CA_BUNDLE activation set (issue 9):
real pip (the current release) and real requests in fresh venvs with the
wheel, against a real local HTTPS server whose CA only the explicit setting
names (no store trusts it). CERTIFI_NATIVE_AUTO is at its default."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest
import trustme
from conftest import built_wheel, https_server, index_handler, make_venv, run, run_py, simple_index

MARKER = "CERTIFI_NATIVE_SET_REQUESTS_CA_BUNDLE"
VERIFY_FAILED = "CERTIFICATE_VERIFY_FAILED"


@pytest.fixture(scope="module")
def activated(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    """pip, requests (and so certifi) and certifi-native."""
    return make_venv(tmp_path_factory.mktemp("explicit") / "venv", wheelhouse, "pip", "requests", built_wheel())


@pytest.fixture(scope="module")
def without_us(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    """requests alone: what requests does when certifi-native is not there."""
    return make_venv(tmp_path_factory.mktemp("plain") / "venv", wheelhouse, "requests")


@pytest.fixture
def ca_pem(tmp_path: Path, ca: trustme.CA) -> Path:
    """The only file that names the server's CA."""
    path = tmp_path / "ca.pem"
    path.write_bytes(ca.cert_pem.bytes())
    return path


@pytest.fixture
def unrelated_pem(tmp_path: Path, other_ca: trustme.CA) -> Path:
    path = tmp_path / "unrelated.pem"
    path.write_bytes(other_ca.cert_pem.bytes())
    return path


def variable_is_ours(python: Path, env: dict[str, str]) -> None:
    """Activation is on and set the variable, marked as its own."""
    code = f"import os, json; print(json.dumps([os.environ.get('REQUESTS_CA_BUNDLE'), os.environ.get({MARKER!r})]))"
    value, marker = json.loads(run_py(code, env, str(python)).stdout)
    assert value and value == marker and "certifi-native" in value


# --- pip ---------------------------------------------------------------------


@pytest.fixture
def index(tmp_path: Path, wheelhouse: Path, ca: trustme.CA) -> Iterator[tuple[str, str]]:
    """A local HTTPS simple index serving one wheel: (index URL, wheel file name)."""
    (wheel,) = wheelhouse.glob("six-*.whl")
    root = simple_index(tmp_path / "index", wheel)
    with https_server(ca.issue_cert("localhost", "127.0.0.1"), handler=index_handler(root)) as url:
        yield f"{url}/simple/", wheel.name


def pip_download(python: Path, index_url: str, into: Path, env: dict[str, str], *options: str) -> tuple[bool, str]:
    quiet = ["--disable-pip-version-check", "--no-input", "--retries", "0", "--timeout", "20", "--no-cache-dir"]
    argv: list[str | Path] = [python, "-m", "pip", *quiet, "download", "--no-deps", "-d", into, "--index-url", index_url, *options, "six"]
    proc = run(argv, env, check=False)
    return proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("how", ["--cert", "PIP_CERT", "pip.conf"])
def test_pips_cert_setting_wins_over_activations_variable(
    activated: Path, index: tuple[str, str], ca_pem: Path, tmp_path: Path, env: dict[str, str], how: str
) -> None:
    """pip applies --cert, PIP_CERT and `cert =` as Session.verify, which
    requests lets REQUESTS_CA_BUNDLE override: the value activation set must not."""
    variable_is_ours(activated, env)
    index_url, wheel = index
    options: list[str] = []
    if how == "--cert":
        options = ["--cert", str(ca_pem)]
    elif how == "PIP_CERT":
        env = {**env, "PIP_CERT": str(ca_pem)}
    else:
        config = tmp_path / "pip.conf"
        config.write_text(f"[global]\ncert = {ca_pem}\n")
        env = {**env, "PIP_CONFIG_FILE": str(config)}
    ok, output = pip_download(activated, index_url, tmp_path / "got", env, *options)
    assert ok, output
    assert (tmp_path / "got" / wheel).is_file()


def test_pip_without_its_cert_setting_fails_tls(
    activated: Path, index: tuple[str, str], tmp_path: Path, env: dict[str, str]
) -> None:
    """The control: the server's CA is in no store and not in our bundle."""
    ok, output = pip_download(activated, index[0], tmp_path / "got", env)
    assert not ok and "certificate verify failed" in output.lower(), output


# --- requests ----------------------------------------------------------------


def session_get(verify: str, url: str, per_request: str = "") -> str:
    return (
        f"import requests\ns = requests.Session()\ns.verify = {verify}\n"
        f"print(s.get({url!r}{per_request}).status_code)"
    )


def test_session_verify_wins_over_activations_variable(
    activated: Path, server: str, ca_pem: Path, unrelated_pem: Path, env: dict[str, str]
) -> None:
    variable_is_ours(activated, env)
    assert run_py(session_get(repr(str(ca_pem)), server), env, str(activated)).stdout == "200\n"
    assert run_py(session_get("False", server), env, str(activated)).stdout == "200\n"
    # A per-request verify= still wins over Session.verify.
    per_request = session_get(repr(str(ca_pem)), server, f", verify={str(unrelated_pem)!r}")
    refused = run_py(per_request, env, str(activated), check=False)
    assert refused.returncode != 0 and VERIFY_FAILED in refused.stderr
    # And Session.verify names a file: not our bundle, not certifi.
    wrong = run_py(session_get(repr(str(unrelated_pem)), server), env, str(activated), check=False)
    assert wrong.returncode != 0 and VERIFY_FAILED in wrong.stderr


@pytest.mark.parametrize("python", ["activated", "without_us"])
def test_a_users_own_variable_keeps_requests_precedence(
    request: pytest.FixtureRequest, python: str, server: str, ca_pem: Path, unrelated_pem: Path, env: dict[str, str]
) -> None:
    """A REQUESTS_CA_BUNDLE the user exported overrides Session.verify, with
    certifi-native exactly as without it."""
    interpreter: Path = request.getfixturevalue(python)
    theirs = {**env, "REQUESTS_CA_BUNDLE": str(unrelated_pem)}
    refused = run_py(session_get(repr(str(ca_pem)), server), theirs, str(interpreter), check=False)
    assert refused.returncode != 0 and VERIFY_FAILED in refused.stderr
    refused = run_py(session_get("False", server), theirs, str(interpreter), check=False)
    assert refused.returncode != 0 and VERIFY_FAILED in refused.stderr
    theirs = {**env, "REQUESTS_CA_BUNDLE": str(ca_pem)}
    assert run_py(session_get(repr(str(unrelated_pem)), server), theirs, str(interpreter)).stdout == "200\n"


def test_info_says_what_activation_set_and_that_session_verify_wins(activated: Path, env: dict[str, str]) -> None:
    code = "import requests, json, certifi_native; print(json.dumps(certifi_native.info()['activation']))"
    done = json.loads(run_py(code, env, str(activated)).stdout)
    assert done["set"]["REQUESTS_CA_BUNDLE"] == done["set"][MARKER]
    assert done["requests_ca_bundle"].startswith("set: neither")
    assert done["session_verify"].startswith("patched requests.sessions ")
    shown = run([activated, "-c", "import requests, sys; from certifi_native.__main__ import main; sys.exit(main(['info']))"], env).stdout
    assert "a Session.verify that is a path or False wins" in shown


# --- children ------------------------------------------------------------------

# Runs a child Python (the same venv) with changes to the parent's environment.
PARENT = """
import json, os, subprocess, sys
child_env = {**os.environ, **json.loads(sys.argv[1])}
sys.exit(subprocess.run([sys.executable, "-c", sys.argv[2]], env=child_env).returncode)
"""

CHILD_REPORT = """
import json, os, certifi, certifi_native._activate as a
print(json.dumps({"requests": os.environ.get("REQUESTS_CA_BUNDLE"), "marker": os.environ.get("CERTIFI_NATIVE_SET_REQUESTS_CA_BUNDLE"),
                  "certifi": certifi.where(), "status": a.status()}))
"""


def in_child(python: Path, env: dict[str, str], changes: dict[str, str], code: str, check: bool = True) -> str:
    variable_is_ours(python, env)
    proc = run([python, "-c", PARENT, json.dumps(changes), code], env, check=check)
    return proc.stdout + ("" if check else proc.stderr)


def test_a_childs_curl_ca_bundle_wins(activated: Path, server: str, ca_pem: Path, env: dict[str, str]) -> None:
    code = f"import requests; print(requests.get({server!r}).status_code)"
    assert in_child(activated, env, {"CURL_CA_BUNDLE": str(ca_pem)}, code) == "200\n"
    report = json.loads(in_child(activated, env, {"CURL_CA_BUNDLE": str(ca_pem)}, CHILD_REPORT))
    assert report["requests"] is None and report["marker"] is None
    assert report["status"]["requests_ca_bundle"].startswith("removed:")


def test_a_childs_auto_0_removes_the_inherited_variable(activated: Path, env: dict[str, str]) -> None:
    report = json.loads(in_child(activated, env, {"CERTIFI_NATIVE_AUTO": "0"}, CHILD_REPORT))
    assert report["requests"] is None and report["marker"] is None
    assert report["certifi"].endswith("/certifi/cacert.pem")  # certifi is certifi
    assert report["status"]["requests_ca_bundle"].startswith("removed:")


def test_a_child_with_other_settings_gets_its_own_bundle(
    activated: Path, server: str, ca_pem: Path, env: dict[str, str]
) -> None:
    code = f"import requests; print(requests.get({server!r}).status_code)"
    extra = {"CERTIFI_NATIVE_EXTRA_CA_CERTS": str(ca_pem)}
    assert in_child(activated, env, extra, code) == "200\n"
    report = json.loads(in_child(activated, env, extra, CHILD_REPORT))
    assert report["requests"] == report["marker"] == report["certifi"]
    assert report["status"]["requests_ca_bundle"].startswith("decided again:")
    same = json.loads(in_child(activated, env, {}, CHILD_REPORT))
    assert same["requests"] != report["requests"] and same["status"]["bundle_from"] == "start-up record"


def test_a_child_without_certifi_native_sees_the_marker(activated: Path, env: dict[str, str]) -> None:
    """`python -S` runs no hook: it inherits both variables, and the marker
    tells any tool that the value is certifi-native's."""
    code = f"import os; print(os.environ['REQUESTS_CA_BUNDLE'] == os.environ[{MARKER!r}])"
    assert in_child(activated, env, {}, f"import subprocess, sys; subprocess.run([sys.executable, '-S', '-c', {code!r}])") == "True\n"


def test_a_stale_marker_leaves_the_users_value_alone(
    activated: Path, server: str, ca_pem: Path, unrelated_pem: Path, env: dict[str, str]
) -> None:
    """The parent's marker no longer matches: the variable was changed since
    (here by the parent's user), so the value is theirs, kept with requests'
    own precedence (it beats Session.verify), and the stale marker goes."""
    theirs = {"REQUESTS_CA_BUNDLE": str(unrelated_pem)}
    report = json.loads(in_child(activated, env, theirs, CHILD_REPORT))
    assert report["requests"] == str(unrelated_pem) and report["marker"] is None
    assert report["status"]["requests_ca_bundle"].startswith("kept:"), report["status"]
    code = session_get(repr(str(ca_pem)), server)
    refused = in_child(activated, env, theirs, code, check=False)
    assert VERIFY_FAILED in refused, refused
