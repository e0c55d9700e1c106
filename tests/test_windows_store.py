"""Windows: the stores for real (certutil), the start-up record that spares a
normal start the native module, and upgrading the package while it is in use.

The store test changes the machine's trust, so it runs only on Windows where
CERTIFI_NATIVE_TEST_REAL_STORE=1 says the machine may be changed (the GitHub
workflow's throwaway runners). The upgrade test runs everywhere (here it
checks the upgrade itself; on Windows, where a loaded DLL cannot be replaced,
it is the point).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import ssl
import subprocess
import zipfile
from pathlib import Path
from typing import Any, Iterator

import pytest
import trustme

from conftest import built_wheel, clean_env, make_venv, run, run_py, venv_python

REAL_STORE = pytest.mark.skipif(
    os.name != "nt" or os.environ.get("CERTIFI_NATIVE_TEST_REAL_STORE") != "1",
    reason="changes Windows' real stores: on Windows with CERTIFI_NATIVE_TEST_REAL_STORE=1 (a throwaway machine)",
)

# What a start-up did, without loading anything itself.
STARTED = """
import json, os, sys
import certifi_native._activate as activation
print(json.dumps({
    "bundle_from": activation.status().get("bundle_from"),
    "native_loaded": "certifi_native._native" in sys.modules,
    "requests": os.environ.get("REQUESTS_CA_BUNDLE"),
}))
"""
# pip run as `python -m pip` does, saying at exit whether its process loaded
# certifi-native's native module.
PIP_IN_PROCESS = """
import atexit, json, runpy, sys
atexit.register(lambda: print("pip's process loaded the native module:", "certifi_native._native" in sys.modules))
sys.argv = json.loads(sys.argv[1])
runpy.run_module("pip", run_name="__main__", alter_sys=True)
"""
WHERE_AND_INFO = "import json, certifi_native as c; print(json.dumps({'where': c.where(), 'info': c.info()}))"


def ders(path: str) -> list[bytes]:
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    blocks = Path(path).read_text("ascii").split(end)[:-1]
    return [ssl.PEM_cert_to_DER_cert(block[block.index(begin) :] + end + "\n") for block in blocks]


def certutil(*argv: str, check: bool = True) -> None:
    subprocess.run(["certutil", *argv], check=check, capture_output=True)


@pytest.fixture
def windows_env(home: Path) -> dict[str, str]:
    # One cache folder both sides agree on (the hook guesses it from LOCALAPPDATA).
    return clean_env(home, CERTIFI_NATIVE_CACHE_DIR=str(home / "cache"))


@pytest.fixture
def ca_in_root_store(tmp_path: Path) -> Iterator[tuple[bytes, Path, str]]:
    ca = trustme.CA(organization_name="certifi-native Windows store test CA")
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    der = ssl.PEM_cert_to_DER_cert(ca.cert_pem.bytes().decode("ascii"))
    sha1 = hashlib.sha1(der).hexdigest()
    certutil("-addstore", "-f", "Root", str(pem))
    try:
        yield der, pem, sha1
    finally:  # best effort: the runner is thrown away anyway
        certutil("-delstore", "Root", sha1, check=False)
        certutil("-delstore", "Disallowed", sha1, check=False)


@REAL_STORE
def test_root_store_kept_disallowed_dropped_and_the_record_follows_the_registry(
    ca_in_root_store: tuple[bytes, Path, str], windows_env: dict[str, str]
) -> None:
    der, pem, _ = ca_in_root_store
    first = json.loads(run_py(STARTED, windows_env).stdout)
    assert first["bundle_from"] == "native module", first  # no record yet: it is written now
    second = json.loads(run_py(STARTED, windows_env).stdout)
    assert second == {**second, "bundle_from": "start-up record", "native_loaded": False}
    assert der in ders(second["requests"])
    answer = json.loads(run_py(WHERE_AND_INFO, windows_env).stdout)
    assert answer["where"] == second["requests"]
    notes = answer["info"]["notes"]
    assert any(n.startswith("Windows' Disallowed store:") for n in notes), notes
    (listed,) = [n for n in notes if n.startswith("Windows' AuthRoot list")]
    sources = {source["name"]: source for source in answer["info"]["sources"]}
    assert sources["system"]["kept"] > 0, sources
    # The runner's cached list is read (roots of Mozilla's set it trusts are
    # added); without one, Mozilla's whole set is, and the note says why.
    if "added Mozilla's set instead" in listed:
        print("no usable AuthRoot list on this machine:", listed)
        assert sources["mozilla"]["kept"] > 0, sources
    else:
        assert sources["authroot"]["kept"] > 0, sources

    certutil("-addstore", "-f", "Disallowed", str(pem))
    after = json.loads(run_py(STARTED, windows_env).stdout)
    assert after["bundle_from"] == "native module", "the registry changed: the record must miss"
    assert der not in ders(after["requests"])
    dropped = json.loads(run_py(WHERE_AND_INFO, windows_env).stdout)["info"]["dropped"]
    assert any(d["reason"] == "distrusted: in the Windows Disallowed store" for d in dropped), dropped


def newer_wheel(wheel: Path, folder: Path) -> tuple[Path, str]:
    """A copy of ``wheel`` under a higher version (``.post1``): same files, new metadata."""
    name, version, rest = wheel.name.split("-", 2)
    newer = f"{version}.post1"
    old_info, new_info = f"{name}-{version}.dist-info/", f"{name}-{newer}.dist-info/"
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(wheel) as source:
        for item in source.namelist():
            data = source.read(item)
            if item == f"{old_info}METADATA":
                data = data.replace(f"\nVersion: {version}\n".encode(), f"\nVersion: {newer}\n".encode())
            files[item.replace(old_info, new_info)] = data
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for item, data in files.items():
        if item == f"{new_info}RECORD":
            continue
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        writer.writerow([item, f"sha256={digest}", len(data)])
    writer.writerow([f"{new_info}RECORD", "", ""])
    files[f"{new_info}RECORD"] = record.getvalue().encode()
    target = folder / f"{name}-{newer}-{rest}"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for item, data in files.items():
            out.writestr(item, data)
    return target, newer


def test_pip_upgrades_the_package_while_other_processes_use_it(
    tmp_path: Path, wheelhouse: Path, windows_env: dict[str, str]
) -> None:
    venv = tmp_path / "venv"
    python = make_venv(venv, wheelhouse, built_wheel(), with_pip=True)
    assert venv_python(venv) == python
    run_py(STARTED, windows_env, str(python))  # leaves the start-up record
    # Two users of the package stay alive through the upgrade: one only
    # activated (a record hit: no native module), one that loaded it.
    waiting = "import sys, certifi_native._activate as a, json; print(json.dumps(a.status().get('bundle_from'))); sys.stdout.flush(); sys.stdin.read()"
    loaded = "import sys, certifi_native as c; print(c.where()); sys.stdout.flush(); sys.stdin.read()"
    users: list[subprocess.Popen[str]] = [
        subprocess.Popen([str(python), "-c", code], env=windows_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for code in (waiting, loaded)
    ]
    try:
        firsts: list[Any] = [user.stdout.readline().strip() for user in users if user.stdout]
        assert firsts[0] == '"start-up record"', firsts
        assert Path(firsts[1]).is_file(), firsts
        newer, version = newer_wheel(built_wheel(), tmp_path)
        # The venv's own pip: its interpreter start runs the hook too, and
        # (a record hit) does not load the native module: on Windows pip could
        # not replace a _native.pyd its own process holds.
        argv = ["pip", "--isolated", "install", "--no-index", "--no-deps", "-U", str(newer)]
        upgrade = run([python, "-c", PIP_IN_PROCESS, json.dumps(argv)], windows_env, check=False, timeout=600)
        assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
        assert "pip's process loaded the native module: False" in upgrade.stdout, upgrade.stdout
        assert all(user.poll() is None for user in users), "the users kept running"
    finally:
        for user in users:
            user.communicate("", timeout=60)
    meta = "import importlib.metadata as m, certifi_native as c, os; print(m.version('certifi-native'), os.path.isfile(c.where()))"
    assert run_py(meta, windows_env, str(python)).stdout.split() == [version, "True"]
