"""The cache under stress: races, read-only and full disks, damaged files,
planted symlinks, foreign folders, threads and fork()."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import certifi_native
import pytest
import trustme
from conftest import (
    PROBE,
    bundle_ders,
    clean_env,
    der_of,
    openssl_roots,
    probe,
    run,
    run_namespaced,
    run_py,
    write_pem,
)

PACKAGED = Path(certifi_native.__file__).parent / "cacert.pem"

# Prints where(), info() and then every file left under argv[1] (inside the namespace).
PROBE_AND_LIST = r"""
import json, os, sys, certifi_native
seen = {"where": certifi_native.where(), "info": certifi_native.info()}
seen["files"] = sorted(os.path.join(d, f) for d, _, files in os.walk(sys.argv[1]) for f in files)
print(json.dumps(seen))
"""


def assert_valid_bundle(path: str | Path) -> None:
    text = Path(path).read_text("ascii")
    assert text.endswith("-----END CERTIFICATE-----\n")
    assert openssl_roots(path) == text.count("-----BEGIN CERTIFICATE-----") >= 100


def cache_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- many writers -----------------------------------------------------------

# Each process says it is ready, waits for the start signal, then calls where().
RACER = r"""
import hashlib, json, os, sys, time
import certifi_native
ready, go = sys.argv[1], sys.argv[2]
open(os.path.join(ready, str(os.getpid())), "w").close()
while not os.path.exists(go):
    time.sleep(0.002)
path = certifi_native.where()
with open(path, "rb") as bundle:
    print(json.dumps([path, hashlib.sha256(bundle.read()).hexdigest()]))
"""


def test_48_processes_on_an_empty_cache_agree(tmp_path: Path, env: dict[str, str]) -> None:
    ready, go = tmp_path / "ready", tmp_path / "go"
    ready.mkdir()
    argv = [sys.executable, "-c", RACER, str(ready), str(go)]
    procs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True) for _ in range(48)]
    try:
        deadline = time.monotonic() + 300  # a guard against a hang, not a measurement
        while len(list(ready.iterdir())) < len(procs) and time.monotonic() < deadline:
            time.sleep(0.01)
        go.touch()
        answers = {tuple(json.loads(p.communicate(timeout=300)[0])) for p in procs}
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0] * 48
    assert len(answers) == 1, answers
    ((path, _),) = answers
    assert_valid_bundle(path)
    assert not [n for n in cache_files(Path(path).parent) if n.endswith(".tmp")]


THREADS = r"""
import json, threading, certifi_native
barrier, seen = threading.Barrier(32), []
def call():
    barrier.wait()
    seen.append(certifi_native.where())
threads = [threading.Thread(target=call) for _ in range(32)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps(sorted(set(seen)) + [len(seen)]))
"""


def test_threads_calling_where_at_once_agree(env: dict[str, str]) -> None:
    path, calls = json.loads(run_py(THREADS, env).stdout)
    assert calls == 32
    assert_valid_bundle(path)


# Forks while another thread rebuilds the bundle over and over; each child
# calls where() (and refresh()) and checks the file. A hang fails by timeout.
FORKS = r"""
import json, os, threading, certifi_native
def child():
    ok = True
    for call in (certifi_native.where, certifi_native.refresh, certifi_native.where):
        call()
        with open(certifi_native.where(), encoding="ascii") as bundle:
            ok = ok and bundle.read().count("BEGIN CERTIFICATE") >= 100
    return ok
stop = threading.Event()
def busy():
    while not stop.is_set():
        certifi_native.refresh()
codes = []
for round in range(24):
    if round == 4:
        worker = threading.Thread(target=busy)
        worker.start()
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(0 if child() else 1)
        except BaseException:
            os._exit(2)
    codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
stop.set()
worker.join()
print(json.dumps(codes))
"""


def test_fork_children_get_a_valid_bundle(env: dict[str, str]) -> None:
    codes = json.loads(run_py(FORKS, env, timeout=300).stdout)
    assert codes == [0] * 24


# Bytes this process read through system calls during one where() (Linux).
READ_BY_WHERE = r"""
import json, certifi_native, certifi_native._native  # loaded on first use otherwise: not where()'s reading
def bytes_read():
    with open("/proc/self/io") as io:
        return int(next(line for line in io if line.startswith("rchar:")).split()[1])
before = bytes_read()
certifi_native.where()
print(json.dumps(bytes_read() - before))
"""


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux's /proc/self/io")
def test_a_warm_first_where_reads_the_stamp_not_the_store(env: dict[str, str]) -> None:
    env = {**env, "CERTIFI_NATIVE_AUTO": "0"}  # else the start-up hook builds before the measure
    cold = json.loads(run_py(READ_BY_WHERE, env).stdout)
    warm = json.loads(run_py(READ_BY_WHERE, env).stdout)
    assert cold > 100_000, "the cold call reads the store (the measure works)"
    assert warm < 8_000, f"a warm first where() read {warm} bytes"


# --- damaged and planted files ----------------------------------------------


def damage(path: Path, how: str) -> None:
    before = path.stat()
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "truncated, mtime kept":
        os.truncate(path, len(data) // 2)
    else:  # corrupted in place: same inode, same size
        with open(path, "r+b") as bundle:
            bundle.seek(len(data) // 2)
            bundle.write(b"A" * 64)
    if how.endswith("mtime kept"):
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert path.stat().st_mtime_ns == before.st_mtime_ns


@pytest.mark.parametrize("how", ["truncated", "truncated, mtime kept", "corrupted, size and mtime kept"])
def test_a_damaged_bundle_is_rebuilt(how: str, env: dict[str, str]) -> None:
    path = Path(probe(env)["where"])
    original = path.read_bytes()
    damage(path, how)
    assert path.read_bytes() != original
    assert probe(env)["where"] == str(path)
    assert path.read_bytes() == original


DELETED = r"""
import json, os, certifi_native
first = certifi_native.where()
with open(first, "rb") as bundle:
    before = bundle.read()
os.remove(first)
again = certifi_native.where()
with open(again, "rb") as bundle:
    print(json.dumps([first == again, bundle.read() == before]))
"""


def test_a_bundle_deleted_while_running_is_recreated(env: dict[str, str]) -> None:
    assert json.loads(run_py(DELETED, env).stdout) == [True, True]


def test_a_folder_owned_by_another_user_is_refused(tmp_path: Path, home: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 4321, 4321)
    seen = probe(clean_env(home, CERTIFI_NATIVE_CACHE_DIR=str(theirs)))
    refused = seen["info"]["cache"]["refused"]
    assert len(refused) == 1 and refused[0].startswith(f"{theirs}: ") and "owned by uid 4321" in refused[0]
    assert Path(seen["where"]).parent == home / ".cache" / "certifi-native"
    assert_valid_bundle(seen["where"])
    assert cache_files(theirs) == []


def test_a_symlink_planted_for_the_folder_is_refused(tmp_path: Path, home: Path) -> None:
    target = tmp_path / "target"
    target.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(target)
    seen = probe(clean_env(home, CERTIFI_NATIVE_CACHE_DIR=str(link)))
    assert any(r.startswith(f"{link}: ") and "symbolic link" in r for r in seen["info"]["cache"]["refused"])
    assert not seen["where"].startswith(str(link)) and cache_files(target) == []
    assert_valid_bundle(seen["where"])


def test_symlinks_planted_for_the_bundle_and_stamp_are_never_followed(
    tmp_path: Path, env: dict[str, str], other_ca: trustme.CA
) -> None:
    bundle = Path(probe(env)["where"])
    stamp = bundle.with_suffix(".stamp")
    assert stamp.is_file()
    decoy = write_pem(tmp_path / "decoy.pem", other_ca.cert_pem.bytes())
    decoy_stamp = write_pem(tmp_path / "decoy.stamp", stamp.read_bytes())
    for planted, target in [(bundle, decoy), (stamp, decoy_stamp)]:
        planted.unlink()
        planted.symlink_to(target)
    assert probe(env)["where"] == str(bundle)
    assert not bundle.is_symlink() and not stamp.is_symlink()
    assert_valid_bundle(bundle)
    assert decoy.read_bytes() == other_ca.cert_pem.bytes()
    assert b"valid-until" in decoy_stamp.read_bytes()


def test_stale_temp_files_of_killed_writers_are_removed(env: dict[str, str]) -> None:
    bundle = Path(probe(env)["where"])
    folder = bundle.parent
    stale = folder / f".{bundle.name}.4242.1.tmp"
    recent = folder / f".{bundle.name}.4243.2.tmp"  # a writer at work right now
    unrelated = folder / "notes.tmp"
    for path in (stale, recent, unrelated):
        path.write_bytes(b"-----BEGIN CERT")
    day_ago = time.time() - 86400
    for path in (stale, unrelated):
        os.utime(path, (day_ago, day_ago))
    run_py("import certifi_native; certifi_native.refresh()", env)
    assert not stale.exists() and recent.exists() and unrelated.exists()


# --- where the cache lives ---------------------------------------------------


def test_the_cache_dir_setting_is_honoured_and_created_private(tmp_path: Path, home: Path) -> None:
    cache = tmp_path / "new" / "nested"
    seen = probe(clean_env(home, CERTIFI_NATIVE_CACHE_DIR=str(cache)))
    assert Path(seen["where"]).parent == cache
    assert seen["info"]["cache"]["candidates"][0] == str(cache)
    assert (cache.stat().st_mode & 0o777, cache.parent.stat().st_mode & 0o777) == (0o700, 0o700)
    assert_valid_bundle(seen["where"])


def test_the_path_is_stable_per_configuration(tmp_path: Path, home: Path, ca: trustme.CA) -> None:
    extra = write_pem(tmp_path / "extra.pem", ca.cert_pem.bytes())
    configurations: list[dict[str, str]] = [
        {},
        {"CERTIFI_NATIVE_MODE": "merged"},
        {"CERTIFI_NATIVE_MODE": "mozilla"},
        {"CERTIFI_NATIVE_EXTRA_CA_CERTS": str(extra)},
        {"SSL_CERT_FILE": str(extra)},
    ]
    paths = [[probe(clean_env(home, **c))["where"] for _ in range(2)] for c in configurations]
    assert all(first == second for first, second in paths), paths
    assert len({first for first, _ in paths}) == len(configurations), paths


def test_relative_settings_give_an_absolute_path_of_their_own(
    tmp_path: Path, home: Path, ca: trustme.CA, other_ca: trustme.CA
) -> None:
    # The same relative names, from two folders: two files, two bundles.
    seen = []
    for folder, test_ca in [(tmp_path / "one", ca), (tmp_path / "two", other_ca)]:
        write_pem(folder / "extra.pem", test_ca.cert_pem.bytes())
        env = clean_env(home, CERTIFI_NATIVE_CACHE_DIR="cache", CERTIFI_NATIVE_EXTRA_CA_CERTS="extra.pem")
        where = run([sys.executable, "-c", PROBE], env, cwd=folder).stdout
        path = Path(json.loads(where)["where"])
        assert path.is_absolute() and path.parent == folder / "cache"
        assert bundle_ders(path.read_text("ascii"))[-1] == der_of(test_ca.cert_pem.bytes())
        seen.append(path.name)
    assert seen[0] != seen[1]


# --- nothing writable ----------------------------------------------------------


@pytest.mark.usefixtures("namespaces")
def test_read_only_home_and_temp_serve_the_packaged_bundle_in_mozilla_mode(home: Path) -> None:
    # HOME, XDG_CACHE_HOME and TMPDIR all under home. (In system mode the OS's
    # own bundle file is served instead: test_read_only.py.)
    env = clean_env(home, CERTIFI_NATIVE_MODE="mozilla")
    setup = f"mount --bind {home} {home} && mount -o remount,bind,ro {home}"
    seen: dict[str, Any] = json.loads(run_namespaced(setup, [sys.executable, "-c", PROBE], env).stdout)
    cache = seen["info"]["cache"]
    assert seen["where"] == str(PACKAGED) and cache["served_from"] == "packaged"
    assert cache["degraded"] is True and "Read-only file system" in cache["degraded_reason"]
    assert seen["info"]["roots"] == openssl_roots(PACKAGED), "info() describes the file served"
    assert len(cache["refused"]) == len(cache["candidates"]) == 2
    assert all("Read-only file system" in why for why in cache["refused"])
    assert_valid_bundle(seen["where"])


@pytest.mark.usefixtures("namespaces")
@pytest.mark.parametrize("full", ["the cache dir", "every candidate"])
def test_a_full_disk_leaves_no_partial_file(full: str, tmp_path: Path, home: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    # Mozilla mode: with nowhere to write, the packaged file (not the OS's file) is served.
    env = clean_env(home, CERTIFI_NATIVE_CACHE_DIR=str(cache), CERTIFI_NATIVE_MODE="mozilla")
    full_dirs = [cache] if full == "the cache dir" else [cache, home]
    setup = " && ".join(f"mount -t tmpfs -o size=64k,mode=0700 none {d}" for d in full_dirs)
    argv = [sys.executable, "-c", PROBE_AND_LIST, str(tmp_path)]
    seen: dict[str, Any] = json.loads(run_namespaced(setup, argv, env).stdout)
    refused = seen["info"]["cache"]["refused"]
    assert refused[0].startswith(f"{cache}: cannot write") and "No space left on device" in refused[0], refused
    if full == "the cache dir":
        assert Path(seen["where"]).parent == home / ".cache" / "certifi-native"
        # The bundle, its stamp, and the start-up hook's record: complete files only.
        ours = (seen["where"].rsplit(".", 1)[0], str(Path(seen["where"]).parent / "startup-record"))
        assert [f for f in seen["files"] if not f.startswith(ours)] == []
    else:
        assert seen["where"] == str(PACKAGED) and seen["info"]["cache"]["degraded"] is True
        assert seen["files"] == [], "nothing, not even a temp file, is left on the full disks"
    assert_valid_bundle(seen["where"])
