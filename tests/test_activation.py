"""Activation at start-up (the .pth/.start hook): the variable rules, certifi's
post-import hook, the start-up record, info, and what a broken install does.
Each test runs a fresh venv made from the built wheel, in a scrubbed env."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
from conftest import built_wheel, clean_env, make_venv, run, run_py, site_packages, venv_python

HOOK = "certifi_native_activate"

# Prints what a start-up left behind, without loading anything new but json.
REPORT = """
import json, os, sys
import certifi_native._activate as activation
print(json.dumps({
    "requests": os.environ.get("REQUESTS_CA_BUNDLE"),
    "curl": os.environ.get("CURL_CA_BUNDLE"),
    "status": activation.status(),
    "native_loaded": "certifi_native._native" in sys.modules,
}))
"""


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    """certifi-native beside a stale certifi and requests."""
    return make_venv(tmp_path_factory.mktemp("activated") / "venv", wheelhouse, built_wheel(), "requests")


def started(python: Path, env: dict[str, str]) -> Any:
    return json.loads(run_py(REPORT, env, str(python)).stdout)


def certifi_where(python: Path, env: dict[str, str]) -> list[str]:
    code = "import certifi, certifi_native; print(certifi.where()); print(certifi_native.where())"
    return run_py(code, env, str(python)).stdout.split()


def own_certifi_file(python: Path, env: dict[str, str]) -> str:
    """certifi's own bundle, asked with the hook off (python -S cannot import it)."""
    code = "import certifi; print(certifi.__file__)"
    package = run_py(code, {**env, "CERTIFI_NATIVE_AUTO": "0"}, str(python)).stdout.strip()
    return str(Path(package).parent / "cacert.pem")


def test_the_hook_files_are_at_the_wheel_root_and_name_the_hook_module() -> None:
    with zipfile.ZipFile(built_wheel()) as wheel:
        names = wheel.namelist()
        pth = wheel.read(f"{HOOK}.pth").decode()
    assert f"{HOOK}.pth" in names and "certifi_native_hook.py" in names
    assert not [name for name in names if name.endswith(".start")]  # see test_startup_files.py
    assert "certifi_native.pth" not in names  # the name editable installs use
    code = [line for line in pth.splitlines() if line and not line.startswith("#")]
    assert code == ["import certifi_native_hook; certifi_native_hook.activate()"]
    import certifi_native_hook
    from certifi_native import _activate

    assert certifi_native_hook.activate is _activate.activate


def test_a_normal_start_is_silent_and_sets_the_variable(venv: Path, env: dict[str, str]) -> None:
    quiet = run_py("pass", env, str(venv))
    assert quiet.stdout == quiet.stderr == ""
    report = started(venv, env)
    certifi_path, ours = certifi_where(venv, env)
    assert report["requests"] == ours == certifi_path
    assert report["status"]["requests_ca_bundle"].startswith("set: neither")
    assert report["status"]["error"] is None
    assert "-----BEGIN CERTIFICATE-----" in Path(ours).read_text("ascii")


def test_certifi_returns_ours_when_imported_later(venv: Path, env: dict[str, str]) -> None:
    code = """
import certifi, certifi.core, certifi_native
assert certifi.where() == certifi.core.where() == certifi_native.where()
assert certifi.contents() == certifi_native.contents()
import requests.certs, requests.utils
assert requests.certs.where() == requests.utils.DEFAULT_CA_BUNDLE_PATH == certifi_native.where()
import certifi_native._activate as a
print(a.status()["certifi"])
"""
    out = run_py(code, env, str(venv)).stdout
    assert out.startswith("pointed at certifi-native: certifi 2017.04.17")
    shown = run([venv, "-m", "certifi"], env).stdout.strip()
    assert shown == certifi_where(venv, env)[1]


def test_certifi_imported_before_the_hook_is_pointed_at_once(venv: Path, env: dict[str, str], tmp_path: Path) -> None:
    site = site_packages(venv, env)
    early = site / "aaa_imports_certifi.pth"  # sorts, and so runs, before ours
    early.write_text("import certifi\n")
    try:
        code = "import certifi, certifi_native, sys; print(certifi.where() == certifi_native.where())"
        assert run_py(code, env, str(venv)).stdout.strip() == "True"
        assert started(venv, env)["status"]["certifi"].startswith("pointed at certifi-native")
    finally:
        early.unlink()


def test_a_users_requests_ca_bundle_is_kept(venv: Path, env: dict[str, str], tmp_path: Path) -> None:
    mine = tmp_path / "mine.pem"
    mine.write_text("not even a certificate\n")
    report = started(venv, {**env, "REQUESTS_CA_BUNDLE": str(mine)})
    assert report["requests"] == str(mine)
    assert report["status"]["requests_ca_bundle"].startswith("kept:")
    assert not report["native_loaded"]  # nothing to compute: the inherited fast path
    report = started(venv, {**env, "REQUESTS_CA_BUNDLE": str(tmp_path)})  # a folder of CAs
    assert report["requests"] == str(tmp_path) and report["status"]["requests_ca_bundle"].startswith("kept:")
    missing = str(tmp_path / "gone.pem")
    report = started(venv, {**env, "REQUESTS_CA_BUNDLE": missing})
    assert report["requests"] == missing
    assert "not ours" in report["status"]["requests_ca_bundle"]


def test_a_users_curl_ca_bundle_stops_us(venv: Path, env: dict[str, str], tmp_path: Path) -> None:
    report = started(venv, {**env, "CURL_CA_BUNDLE": str(tmp_path / "curl.pem")})
    assert report["requests"] is None
    assert report["status"]["requests_ca_bundle"].startswith("left alone: CURL_CA_BUNDLE")
    certifi_path, ours = certifi_where(venv, env)
    assert certifi_path == ours  # certifi is still pointed at ours


def test_auto_0_changes_nothing(venv: Path, env: dict[str, str]) -> None:
    off = {**env, "CERTIFI_NATIVE_AUTO": "0"}
    report = started(venv, off)
    assert report["requests"] is None and not report["native_loaded"]
    assert certifi_where(venv, off)[0] == own_certifi_file(venv, env)
    assert "CERTIFI_NATIVE_AUTO=0" in report["status"]["certifi"]


def test_auto_env_sets_only_the_variable(venv: Path, env: dict[str, str]) -> None:
    only_env = {**env, "CERTIFI_NATIVE_AUTO": "env"}
    report = started(venv, only_env)
    certifi_path, ours = certifi_where(venv, only_env)
    assert report["requests"] == ours
    assert certifi_path == own_certifi_file(venv, env) != ours


def test_auto_certifi_points_certifi_only(venv: Path, env: dict[str, str]) -> None:
    only_certifi = {**env, "CERTIFI_NATIVE_AUTO": "certifi"}
    report = started(venv, only_certifi)
    certifi_path, ours = certifi_where(venv, only_certifi)
    assert report["requests"] is None and not report["native_loaded"]
    assert certifi_path == ours != own_certifi_file(venv, env)


def test_a_child_process_sees_a_usable_path(venv: Path, env: dict[str, str]) -> None:
    # The child is `python -S`: no hook of its own, only what it inherited.
    code = """
import os, ssl, subprocess, sys
child = "import os, ssl; ssl.create_default_context(cafile=os.environ['REQUESTS_CA_BUNDLE']); print(os.environ['REQUESTS_CA_BUNDLE'])"
print(subprocess.run([sys.executable, "-S", "-c", child], check=True, capture_output=True, text=True).stdout.strip())
"""
    seen = run_py(code, env, str(venv)).stdout.strip()
    assert seen == certifi_where(venv, env)[1] and Path(seen).is_file()


def test_a_removed_bundle_named_by_an_inherited_variable_is_repaired(venv: Path, env: dict[str, str]) -> None:
    bundle = Path(started(venv, env)["requests"])
    bundle.unlink()
    report = started(venv, {**env, "REQUESTS_CA_BUNDLE": str(bundle)})
    assert report["status"]["requests_ca_bundle"].startswith("repaired:")
    assert report["requests"] == str(bundle) and bundle.is_file()
    # A bundle of ours from another cache folder (another HOME) is repaired to this one's.
    elsewhere = Path(env["HOME"]).parent / "old-cache" / bundle.name
    report = started(venv, {**env, "REQUESTS_CA_BUNDLE": str(elsewhere)})
    assert report["requests"] == str(bundle)


def test_the_start_up_record_skips_the_native_module_until_something_changes(
    venv: Path, env: dict[str, str], tmp_path: Path
) -> None:
    store = tmp_path / "store.pem"
    shutil.copyfile("/etc/ssl/certs/ca-certificates.crt", store)
    env = {**env, "SSL_CERT_FILE": str(store)}
    first = started(venv, env)
    assert first["status"]["bundle_from"] == "native module"
    again = started(venv, env)
    assert again["status"]["bundle_from"] == "start-up record" and not again["native_loaded"]
    assert again["requests"] == first["requests"] == certifi_where(venv, env)[1]
    store.write_bytes(store.read_bytes() + b"\n")  # the store changed
    assert started(venv, env)["status"]["bundle_from"] == "native module"
    assert started(venv, env)["status"]["bundle_from"] == "start-up record"
    merged = started(venv, {**env, "CERTIFI_NATIVE_MODE": "merged"})
    assert merged["status"]["bundle_from"] == "native module" and merged["requests"] != first["requests"]
    unknown = started(venv, {**env, "CERTIFI_NATIVE_SOMETHING_NEW": "1"})
    assert unknown["status"]["bundle_from"] == "native module"


def test_venvs_sharing_a_cache_share_the_record(venv: Path, env: dict[str, str], tmp_path: Path, wheelhouse: Path) -> None:
    other = make_venv(tmp_path / "other", wheelhouse, built_wheel())
    started(venv, env)
    answers = [started(python, env) for python in (other, venv, other)]
    assert {a["status"]["bundle_from"] for a in answers} == {"start-up record"}
    assert len({a["requests"] for a in answers}) == 1


def test_info_tells_what_activation_did(venv: Path, env: dict[str, str]) -> None:
    shown = run([venv, "-m", "certifi_native", "info"], env).stdout
    assert "activation: ran at start-up (CERTIFI_NATIVE_AUTO=unset)" in shown
    assert "REQUESTS_CA_BUNDLE: set: neither REQUESTS_CA_BUNDLE nor CURL_CA_BUNDLE was set" in shown
    report = json.loads(run([venv, "-m", "certifi_native", "info", "--json"], env).stdout)
    assert report["activation"]["ran"] is True


def test_python_dash_s_skips_the_hook(venv: Path, env: dict[str, str]) -> None:
    site = str(site_packages(venv, env))
    code = (
        f"import sys; sys.path.append({site!r}); import os, certifi_native; "
        "print(os.environ.get('REQUESTS_CA_BUNDLE')); print(certifi_native.info()['activation']['ran'])"
    )
    assert run([venv, "-S", "-c", code], env).stdout.split() == ["None", "False"]


@pytest.fixture
def broken(tmp_path: Path, wheelhouse: Path) -> Iterator[Path]:
    python = make_venv(tmp_path / "venv", wheelhouse, built_wheel(), "certifi==2017.4.17")
    yield python


@pytest.mark.parametrize("damage", ["missing", "garbage"])
def test_a_broken_install_still_lets_python_start_silently(broken: Path, home: Path, damage: str) -> None:
    site = site_packages(broken, clean_env(home))
    (native,) = [p for p in (site / "certifi_native").glob("_native*") if p.suffix in (".so", ".pyd")]
    if damage == "missing":
        native.unlink()
    else:
        native.write_bytes(b"\x7fELF this is not a shared object")
    env = clean_env(home / "fresh")  # no start-up record: the native module is needed
    quiet = run_py("print('started')", env, str(broken))
    assert (quiet.stdout, quiet.stderr) == ("started\n", "")
    # certifi still answers: certifi-native's packaged Mozilla file.
    out = run_py("import certifi, os; print(certifi.where()); print(os.environ['REQUESTS_CA_BUNDLE'])", env, str(broken))
    assert out.stderr == ""
    where, variable = out.stdout.split()
    assert where == variable == str(site / "certifi_native" / "cacert.pem")


def other_python(version: str) -> Optional[str]:
    """An interpreter for ``version``: on PATH, or one that pyenv installed."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = [shutil.which(f"python{version}"), *map(str, sorted(pyenv.glob(f"{version}.*/bin/python{version}")))]
    for python in filter(None, found):
        if subprocess.run([python, "-c", "pass"], capture_output=True).returncode == 0:
            return python
    return None


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_the_hook_on_other_pythons(version: str, tmp_path: Path, wheelhouse: Path, env: dict[str, str]) -> None:
    """The oldest supported Python and a recent one: the abi3 wheel, its own pip."""
    base = other_python(version)
    if base is None:
        pytest.skip(f"no python{version} here")
    run([base, "-m", "venv", tmp_path / "venv"], dict(os.environ), timeout=300)
    python = venv_python(tmp_path / "venv")
    offline = ["--isolated", "install", "-q", "--no-index", "--find-links", str(wheelhouse)]
    run([python, "-m", "pip", *offline, built_wheel(), "certifi==2017.4.17"], dict(os.environ), timeout=300)
    first, again = started(python, env), started(python, env)
    assert first["status"]["bundle_from"] == "native module" and first["status"]["error"] is None
    assert again["status"]["bundle_from"] == "start-up record" and not again["native_loaded"]
    assert first["requests"] == again["requests"] == certifi_where(python, env)[0] == certifi_where(python, env)[1]


def test_a_start_with_a_record_hit_stays_lean(venv: Path, env: dict[str, str]) -> None:
    """What keeps start-up cheap, checked without timing it: on a record hit the
    hook imports its one top-level module and nothing else of ours (not the
    package, so not the native module), nor ssl, typing or __future__."""
    started(venv, env)  # leaves the record
    code = (
        "import sys; print(sorted(m for m in sys.modules if m.startswith('certifi')"
        " or m in ('ssl', '_ssl', 'typing', '__future__')))"
    )
    assert run_py(code, env, str(venv)).stdout.strip() == "['certifi_native_hook']"
    assert started(venv, env)["status"]["bundle_from"] == "start-up record"


@pytest.mark.parametrize("marked", [True, False], ids=["inherited-from-activation", "exported"])
def test_an_inherited_bundle_in_a_folder_another_user_made_again_is_replaced(
    venv: Path, env: dict[str, str], second_user: tuple[int, int], marked: bool
) -> None:
    """A temp cleaner removed $TMPDIR/certifi-native-UID, and another user made
    it again with a bundle-named file of theirs: it is not kept (issue 14, item 8)."""
    folder = Path(env["TMPDIR"]) / f"certifi-native-{os.geteuid()}"
    folder.mkdir(mode=0o755)
    planted = folder / "cacert-system-0123456789abcdef.pem"
    planted.write_text("# their CA would be here\n")
    other_uid, other_gid = second_user
    os.chown(planted, other_uid, other_gid)
    os.chown(folder, other_uid, other_gid)
    inherited = {**env, "REQUESTS_CA_BUNDLE": str(planted)}
    if marked:
        inherited["CERTIFI_NATIVE_SET_REQUESTS_CA_BUNDLE"] = str(planted)
    report = started(venv, inherited)
    assert report["requests"] != str(planted) and Path(report["requests"]).is_file()
    assert report["requests"] == certifi_where(venv, env)[1]
    why = report["status"]["requests_ca_bundle"]
    assert f"is owned by uid {other_uid}" in why, why
