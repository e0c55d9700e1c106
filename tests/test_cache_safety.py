"""What an adversarial review broke in the cache (issue 14, findings 3 to 6):
non-UTF-8 paths, a clock far ahead or set back, folders on the cache folder's
path that others control, and the hashed folder's modes."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import certifi_native
import pytest
import trustme
from certifi_native import _native
from conftest import (
    as_user,
    bundle_ders,
    clean_env,
    der_of,
    https_server,
    probe,
    run,
    run_py,
    write_pem,
)

PACKAGED = Path(certifi_native.__file__).parent / "cacert.pem"


def mode(path: str | Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


# --- 14.3: non-UTF-8 paths ----------------------------------------------------

# where(), capath(), info()'s path and what activation exported, as bytes (hex).
SEEN_AS_BYTES = r"""
import json, os, certifi_native as c
paths = {"where": c.where(), "capath": c.capath(), "info": c.info()["cache"]["path"],
         "exported": os.environ.get("REQUESTS_CA_BUNDLE", "")}
print(json.dumps({k: os.fsencode(v).hex() for k, v in paths.items()}))
"""

NOT_UTF8 = b"caf\xe9-\xff"  # Latin-1 bytes: no UTF-8 decoder takes them


@pytest.mark.parametrize("variable", ["HOME", "XDG_CACHE_HOME", "CERTIFI_NATIVE_CACHE_DIR", "TMPDIR"])
def test_a_non_utf8_folder_gives_paths_that_exist(variable: str, tmp_path: Path, home: Path) -> None:
    folder = os.fsencode(tmp_path) + b"/" + NOT_UTF8
    os.mkdir(folder, 0o700)
    env = clean_env(home)
    env[variable] = os.fsdecode(folder)  # subprocess passes it back as the same bytes
    if variable == "HOME":
        del env["XDG_CACHE_HOME"]
    if variable == "TMPDIR":
        env["XDG_CACHE_HOME"] = "/dev/null/cache"  # the user's cache folder cannot be made
    seen = {k: bytes.fromhex(v) for k, v in json.loads(run_py(SEEN_AS_BYTES, env).stdout).items()}
    assert seen["where"].startswith(folder + b"/"), seen
    assert os.path.isfile(seen["where"]) and os.path.isdir(seen["capath"])
    assert seen["info"] == seen["exported"] == seen["where"]
    assert len(bundle_ders(Path(os.fsdecode(seen["where"])).read_text("ascii"))) >= 100
    # The CLI prints the path as the OS's bytes, as `python -m certifi` would need.
    printed = subprocess.run([sys.executable, "-m", "certifi_native"], env=env, capture_output=True, check=True)
    assert printed.stdout == seen["where"] + b"\n"
    summary = subprocess.run([sys.executable, "-m", "certifi_native", "info"], env=env, capture_output=True, check=True)
    assert b"bundle:  " + seen["where"] + b"\n" in summary.stdout


def test_two_ssl_cert_files_differing_in_invalid_bytes_get_two_bundles(
    tmp_path: Path, home: Path, ca: trustme.CA, other_ca: trustme.CA
) -> None:
    # Lossy text would name both "ca-\ufffd.pem": one bundle for two stores.
    files: list[tuple[str, trustme.CA]] = []
    for name, test_ca in [(b"ca-\xff.pem", ca), (b"ca-\xfe.pem", other_ca)]:
        raw = os.fsencode(tmp_path) + b"/" + name
        with open(raw, "wb") as file:
            file.write(test_ca.cert_pem.bytes())
        files.append((os.fsdecode(raw), test_ca))
    wheres = []
    for _round in range(2):
        for path, test_ca in files:
            where = probe(clean_env(home, SSL_CERT_FILE=path))["where"]
            assert bundle_ders(Path(where).read_text("ascii")) == [der_of(test_ca.cert_pem.bytes())]
            wheres.append(where)
    assert len(set(wheres)) == 2 and wheres[:2] == wheres[2:], wheres


# --- 14.4: the clock -------------------------------------------------------------

needs_faketime = pytest.mark.skipif(
    shutil.which("faketime") is None, reason="needs faketime (Debian package faketime: scripts/dev installs it)"
)


def probe_at(env: dict[str, str], when: str | None) -> dict[str, Any]:
    """``probe``, under faketime when ``when`` is given."""
    code = "import json, certifi_native as c; print(json.dumps({'where': c.where(), 'info': c.info()}))"
    argv = [sys.executable, "-c", code]
    proc = run(["faketime", when, *argv] if when else argv, env)
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@needs_faketime
@pytest.mark.parametrize("when", ["2036-06-01 00:00:00", "2100-01-01 00:00:00"])
@pytest.mark.parametrize("cache", ["empty", "warm"])
def test_a_run_with_the_clock_far_ahead_does_not_poison_later_runs(when: str, cache: str, env: dict[str, str]) -> None:
    if cache == "warm":
        before = probe_at(env, None)
    ahead = probe_at(env, when)
    if when.startswith("2100"):
        # Every root has expired by then: a bundle without a root is never
        # written; the packaged set is served, and info() says why.
        assert ahead["where"] == str(PACKAGED) and ahead["info"]["cache"]["served_from"] == "packaged"
        assert "no usable root" in ahead["info"]["cache"]["degraded_reason"]
        assert "2100-01-01" in ahead["info"]["cache"]["degraded_reason"]
    else:
        assert ahead["info"]["cache"]["degraded"] is False
    later = probe_at(env, None)
    again = probe_at(env, None)
    text = Path(later["where"]).read_text("ascii")
    assert later["info"]["cache"]["degraded"] is False and later["where"] == again["where"]
    assert later["info"]["roots"] == len(bundle_ders(text)) >= 100
    if cache == "warm":
        assert later["where"] == before["where"] and later["info"]["roots"] == before["info"]["roots"]
    if when.startswith("2036"):
        # The run ahead dropped the roots that expire before 2036; a normal
        # run sees the clock before that build and rebuilds.
        assert ahead["where"] == later["where"] and ahead["info"]["roots"] < later["info"]["roots"]
        first_line = Path(later["where"]).with_suffix(".stamp").read_text("ascii").split("\n")[0].split(" ")
        assert first_line[2] == "built-at" and int(first_line[3]) < 2_000_000_000  # before 2033


# --- 14.5: folders on the cache folder's path ---------------------------------------


@pytest.mark.parametrize(
    "variable",
    ["CERTIFI_NATIVE_CACHE_DIR", "XDG_CACHE_HOME", "HOME", "TMPDIR"],
)
@pytest.mark.parametrize("folder_mode", [0o777, 0o1777])
def test_a_folder_others_can_write_on_the_path_is_refused_unless_sticky(
    variable: str, folder_mode: int, tmp_path: Path, home: Path
) -> None:
    open_folder = tmp_path / "open"
    open_folder.mkdir()
    open_folder.chmod(folder_mode)
    below = open_folder / "below"
    env = clean_env(home)
    env[variable] = str(below)
    expected = {
        "CERTIFI_NATIVE_CACHE_DIR": below,
        "XDG_CACHE_HOME": below / "certifi-native",
        "HOME": below / ".cache" / "certifi-native",
        "TMPDIR": below / f"certifi-native-{os.geteuid()}",
    }[variable]
    if variable == "HOME":
        del env["XDG_CACHE_HOME"]
    if variable == "TMPDIR":
        env["XDG_CACHE_HOME"] = "/dev/null/cache"
    seen = probe(env)
    refused = [why for why in seen["info"]["cache"]["refused"] if why.startswith(f"{expected}: ")]
    if folder_mode & stat.S_ISVTX:  # as /tmp: others cannot move what is ours
        assert Path(seen["where"]).parent == expected and refused == []
    else:
        assert refused == [
            f"{expected}: {open_folder} (on its path) can be written by other users (mode 777, not sticky)"
        ], seen["info"]["cache"]["refused"]
        assert not Path(seen["where"]).is_relative_to(open_folder) and not below.exists()


@pytest.mark.parametrize("how", ["owned by the other user", "writable by the other user's group"])
def test_a_folder_on_the_path_another_user_controls_is_refused(
    how: str, tmp_path: Path, home: Path, second_user: tuple[int, int]
) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    if how.startswith("owned"):
        os.chown(theirs, *second_user)
        why = f"is owned by uid {second_user[0]}"
    else:
        os.chown(theirs, 0, second_user[1])
        theirs.chmod(0o775)
        why = "can be written by other users (mode 775, not sticky)"
    cache = theirs / "cache"
    seen = probe(clean_env(home, CERTIFI_NATIVE_CACHE_DIR=str(cache)))
    assert seen["info"]["cache"]["refused"] == [f"{cache}: {theirs} (on its path) {why}"]
    assert Path(seen["where"]).parent == home / ".cache" / "certifi-native"
    assert not cache.exists(), "nothing is created where the other user could swap it"


def test_a_symlink_on_the_path_is_followed_and_its_target_checked(tmp_path: Path, home: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    cache = tmp_path / "link" / "cache"
    assert Path(probe(clean_env(home, CERTIFI_NATIVE_CACHE_DIR=str(cache)))["where"]).parent == cache
    real.chmod(0o777)
    refused = probe(clean_env(home, CERTIFI_NATIVE_CACHE_DIR=str(cache)))["info"]["cache"]["refused"]
    assert refused == [f"{cache}: {real} (on its path) can be written by other users (mode 777, not sticky)"]


# --- 14.6: the hashed folder --------------------------------------------------------

UMASK_000_CAPATH = "import os; os.umask(0); import certifi_native as c; print(c.capath())"


@pytest.mark.parametrize("cache_mode", [0o700, 0o755])
def test_the_hashed_folder_has_its_modes_whatever_the_umask(cache_mode: int, tmp_path: Path, home: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(cache_mode)
    env = clean_env(home, CERTIFI_NATIVE_CACHE_DIR=str(cache))
    folder = Path(run_py(UMASK_000_CAPATH, env).stdout.strip())
    assert folder.parent == cache and folder.is_dir()
    assert mode(folder) == cache_mode, "0700 in a private cache folder, 0755 in a shared one"
    files = list(folder.iterdir())
    assert len(files) >= 100 and {mode(f) for f in files} == {0o644}
    bundle = cache / (folder.stem + ".pem")
    assert {mode(bundle), mode(bundle.with_suffix(".stamp")), mode(cache / "startup-record")} == {0o644}


def test_a_hashed_folder_others_can_write_is_rebuilt(tmp_path: Path, home: Path) -> None:
    env = clean_env(home, CERTIFI_NATIVE_CACHE_DIR=str(tmp_path / "cache"))
    folder = Path(run_py("import certifi_native as c; print(c.capath())", env).stdout.strip())
    names = sorted(p.name for p in folder.iterdir())
    folder.chmod(0o777)  # as an older version left it under umask 000
    assert Path(run_py("import certifi_native as c; print(c.capath())", env).stdout.strip()) == folder
    assert mode(folder) == 0o700 and sorted(p.name for p in folder.iterdir()) == names


# Makes one context from capath(), says "ready", then for each URL read from
# stdin says whether a handshake through that same context verified.
HANDSHAKES = r"""
import os, ssl, sys, urllib.request
os.umask(0)
import certifi_native
context = ssl.create_default_context(capath=certifi_native.capath())
print("ready", flush=True)
for url in sys.stdin:
    try:
        urllib.request.urlopen(url.strip(), context=context, timeout=30).read()
        print("verified", flush=True)
    except Exception as error:
        print(type(error).__name__, flush=True)
"""


def test_another_user_cannot_add_a_root_to_a_running_context(
    shared_dir: Path, home: Path, ca: trustme.CA, second_user: tuple[int, int]
) -> None:
    # A cache folder others may read (as `build --cache-dir` makes it), and a
    # process with umask 000 that makes a context from the hashed folder.
    cache = shared_dir / "cache"
    cache.mkdir()
    cache.chmod(0o755)
    env = clean_env(home, CERTIFI_NATIVE_CACHE_DIR=str(cache))
    argv = [sys.executable, "-c", HANDSHAKES]
    with subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            assert proc.stdout.readline() == "ready\n"
            folder = next(cache.glob("*.capath"))
            assert mode(folder) == 0o755 and {mode(f) for f in folder.iterdir()} == {0o644}
            # The other user's CA, under the name OpenSSL looks it up by.
            name = f"{_native.subject_hash(der_of(ca.cert_pem.bytes()))}.0"
            theirs = write_pem(shared_dir / "theirs.pem", ca.cert_pem.bytes())
            theirs.chmod(0o644)
            plant = run(as_user(second_user, ["cp", theirs, folder / name]), env, check=False)
            assert plant.returncode != 0 and "Permission denied" in plant.stderr
            with https_server(ca.issue_cert("localhost", "127.0.0.1")) as url:
                proc.stdin.write(url + "\n")
                proc.stdin.flush()
                assert proc.stdout.readline() == "URLError\n", "the running context does not trust their CA"
        finally:
            proc.stdin.close()
            proc.kill()
