"""The suite without the package registry: the ``wheelhouse`` fixture reuses a
filled wheelhouse offline, and when it is empty and the registry cannot be
reached the tests that need it skip and say why, instead of erroring."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import WHEELHOUSE_PACKAGES, run

TESTS = Path(__file__).resolve().parent
PROBE = "def test_needs_the_wheelhouse(wheelhouse):\n    assert wheelhouse.is_dir()\n"


def session_without_registry(tmp_path: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    """A pytest session of one test that uses the fixture, with ``folder`` as
    its wheelhouse and a package index nobody listens on."""
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(
        CERTIFI_NATIVE_WHEELHOUSE=str(folder),
        PYTHONPATH=str(TESTS),
        PIP_INDEX_URL="http://127.0.0.1:9/simple/",  # the discard port: refused at once
        PIP_RETRIES="0",
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    argv = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p", "conftest", "test_probe.py"]
    return run(argv, env, check=False, cwd=tmp_path, timeout=600)


def test_an_empty_wheelhouse_without_registry_skips_with_the_reason(tmp_path: Path) -> None:
    folder = tmp_path / "wheelhouse"
    proc = session_without_registry(tmp_path, folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 skipped" in proc.stdout and " error" not in proc.stdout, proc.stdout
    assert f"no complete wheelhouse at {folder}" in proc.stdout and "pip download failed" in proc.stdout
    assert "bash scripts/dev wheelhouse" in proc.stdout


def test_a_filled_wheelhouse_is_reused_offline(tmp_path: Path) -> None:
    folder = tmp_path / "wheelhouse"
    folder.mkdir()
    (folder / "packages.json").write_text(json.dumps(sorted(WHEELHOUSE_PACKAGES)))
    proc = session_without_registry(tmp_path, folder)
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout + proc.stderr


def test_a_wheelhouse_missing_a_newly_wanted_package_is_not_taken_as_filled(tmp_path: Path) -> None:
    folder = tmp_path / "wheelhouse"
    folder.mkdir()
    (folder / "packages.json").write_text(json.dumps(sorted(WHEELHOUSE_PACKAGES)[1:]))
    proc = session_without_registry(tmp_path, folder)
    assert "1 skipped" in proc.stdout, proc.stdout + proc.stderr
