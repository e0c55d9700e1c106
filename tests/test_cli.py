"""The command line and the package namespace: --version, -c as certifi prints
it, refused combinations, a closed pipe, info's grouping of duplicates, info
without the native module (a broken install), what `dir(certifi_native)` shows."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import built_wheel, run, site_packages

CLI = [sys.executable, "-m", "certifi_native"]


def test_version_names_ours_the_mozilla_sets_python_and_openssl(env: dict[str, str]) -> None:
    shown = run([*CLI, "--version"], env).stdout.splitlines()
    facts = json.loads(
        run(
            [sys.executable, "-c", "import json, ssl, sys, platform, certifi_native, certifi_native._native as n; "
             "print(json.dumps([certifi_native.__version__, n.MOZILLA_SET_VERSION, platform.python_version(), ssl.OPENSSL_VERSION]))"],
            env,
        ).stdout
    )
    version, mozilla, python, openssl = facts
    assert shown[0] == f"certifi-native {version}"
    assert shown[1] == f"Mozilla set: webpki-root-certs {mozilla}"
    assert shown[2].startswith(f"Python {python} (") and shown[2].endswith(openssl)
    assert ssl.OPENSSL_VERSION in shown[2]  # the one this very interpreter links


@pytest.mark.parametrize(
    "argv",
    [["-c", "info"], ["-c", "capath"], ["--version", "info"], ["-c", "--version"], ["info", "-c"], ["capath", "--json"]],
    ids=lambda argv: " ".join(argv),
)
def test_combinations_that_mean_nothing_are_errors(argv: list[str], env: dict[str, str]) -> None:
    proc = run([*CLI, *argv], env, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("certifi-native: error:") and proc.stderr.count("\n") == 1, proc.stderr


def test_contents_is_byte_identical_to_python_m_certifi_c(env: dict[str, str]) -> None:
    ours = subprocess.run([*CLI, "-c"], env=env, capture_output=True, check=True).stdout
    theirs = subprocess.run([sys.executable, "-m", "certifi", "-c"], env=env, capture_output=True, check=True).stdout
    assert ours == theirs and ours.endswith(b"-----END CERTIFICATE-----\n\n")
    path_ours = subprocess.run(CLI, env=env, capture_output=True, check=True).stdout
    path_theirs = subprocess.run([sys.executable, "-m", "certifi"], env=env, capture_output=True, check=True).stdout
    assert path_ours == path_theirs


@pytest.mark.parametrize("command", ["info", "info --all", "-c", "--version"])
def test_a_closed_pipe_is_quiet(command: str, env: dict[str, str]) -> None:
    """`certifi-native info | head -1`: exit 0 and no traceback, every time
    (the race with head's exit made it fail most of the time)."""
    script = f'set -o pipefail; "$0" -m certifi_native {command} | head -1 >/dev/null'
    for _ in range(20):
        proc = run(["bash", "-c", script, sys.executable], {**env, "CERTIFI_NATIVE_MODE": "merged"}, check=False)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_merged_info_has_one_line_per_duplicate_group(env: dict[str, str]) -> None:
    merged = {**env, "CERTIFI_NATIVE_MODE": "merged"}
    report = json.loads(run([*CLI, "info", "--json"], merged).stdout)
    groups: dict[tuple[str, str], int] = {}
    for drop in report["dropped"]:
        groups[(drop["source"], drop["reason"])] = groups.get((drop["source"], drop["reason"]), 0) + 1
    repeated = {key: count for key, count in groups.items() if count > 1}
    assert repeated, "merged mode drops Mozilla's copies of the OS store's roots"
    text = run([*CLI, "info"], merged).stdout.splitlines()
    dropped = [line for line in text if line.startswith("dropped:")]
    assert len(dropped) == sum(1 if count > 1 else count for count in groups.values())
    for (source, reason), count in repeated.items():
        (line,) = [line for line in dropped if line.startswith(f"dropped: [{source}] {reason}:")]
        assert line.endswith(f": {count} roots (info --all lists each)")
    every = [line for line in run([*CLI, "info", "--all"], merged).stdout.splitlines() if line.startswith("dropped:")]
    assert len(every) == len(report["dropped"])


def test_an_unknown_auto_value_is_reported_like_an_unknown_mode(env: dict[str, str]) -> None:
    code = "import json, certifi_native; print(json.dumps(certifi_native.info()['notes']))"
    notes = json.loads(run([sys.executable, "-c", code], {**env, "CERTIFI_NATIVE_AUTO": "bogus", "CERTIFI_NATIVE_MODE": "bogus"}).stdout)
    assert any(note.startswith('CERTIFI_NATIVE_MODE="bogus" is not one of') for note in notes), notes
    assert any(note.startswith('CERTIFI_NATIVE_AUTO="bogus" is not one of') for note in notes), notes
    plain = json.loads(run([sys.executable, "-c", code], {**env, "CERTIFI_NATIVE_AUTO": "env"}).stdout)
    assert not any("CERTIFI_NATIVE_AUTO" in note for note in plain)


def test_info_without_the_native_module_says_what_is_wrong(tmp_path: Path, env: dict[str, str]) -> None:
    """A broken install: a fresh venv from the wheel, its native module deleted."""
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], dict(os.environ))
    python = venv / "bin" / "python"
    pip: list[str | os.PathLike[str]] = [sys.executable, "-m", "pip", "--isolated", "--python", python, "install", "-q", "--no-deps"]
    run([*pip, built_wheel()], dict(os.environ), timeout=600)
    site = site_packages(python, env)
    (native,) = (site / "certifi_native").glob("_native*.so")
    native.unlink()
    text = run([venv / "bin" / "certifi-native", "info"], env, check=False)
    assert text.returncode == 0 and "Traceback" not in text.stderr, text.stderr
    assert "the native module certifi_native._native cannot be loaded" in text.stdout
    assert "DEGRADED:" in text.stdout and "reinstall certifi-native" in text.stdout
    report = json.loads(run([python, "-m", "certifi_native", "info", "--json"], env).stdout)
    packaged = str(site / "certifi_native" / "cacert.pem")
    assert report["cache"]["path"] == packaged and report["cache"]["degraded"] is True
    assert report["roots"] == (site / "certifi_native" / "cacert.pem").read_text().count("BEGIN CERTIFICATE") > 100
    assert run([python, "-m", "certifi_native"], env).stdout.strip() == packaged
    version = run([python, "-m", "certifi_native", "--version"], env).stdout
    assert version.startswith("certifi-native 0.") and "the native module cannot be loaded" in version


PUBLIC = ["CheckError", "build", "capath", "check", "contents", "info", "refresh", "ssl_context", "where"]


def test_the_namespace_holds_the_api_alone(env: dict[str, str]) -> None:
    code = (
        "import json, certifi_native as c, certifi_native._check as k\n"
        "c.where(); c.info()  # loads the native module and _activate: still hidden\n"
        "print(json.dumps({'dir': dir(c), 'all': c.__all__, 'same': c.CheckError is k.CheckError,\n"
        "    'exception': issubclass(c.CheckError, Exception), 'version': c.__version__}))\n"
    )
    shown = json.loads(run([sys.executable, "-c", code], env).stdout)
    assert [name for name in shown["dir"] if not name.startswith("__")] == PUBLIC
    assert sorted(shown["all"]) == PUBLIC and shown["same"] and shown["exception"]
    assert "__version__" in shown["dir"] and shown["version"]
    from_import = "from certifi_native import CheckError; print(CheckError.__name__)"
    assert run([sys.executable, "-c", from_import], env).stdout.strip() == "CheckError"


def test_the_cli_and_check_agree_on_the_clients(env: dict[str, str]) -> None:
    code = "import certifi_native.__main__ as m, certifi_native._check as k; print(m.CLIENTS == k.CLIENTS)"
    assert run([sys.executable, "-c", code], env).stdout.strip() == "True"
