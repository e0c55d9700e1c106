"""The start-up hook trusts a record only as ``where()`` would trust the cache:
a private file (not followed through a symbolic link) in a private folder, and
a complete record. Each case takes a record the hook accepts and spoils one
thing; the hook must then miss (load the native module) instead of trusting it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
from conftest import built_wheel, make_venv, run_py

REPORT = """
import json, os, sys
import certifi_native._activate as activation
print(json.dumps({"status": activation.status(), "requests": os.environ.get("REQUESTS_CA_BUNDLE")}))
"""


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    return make_venv(tmp_path_factory.mktemp("record") / "venv", wheelhouse, built_wheel())


def started(venv: Path, env: dict[str, str]) -> Any:
    return json.loads(run_py(REPORT, env, str(venv)).stdout)


@pytest.fixture
def record(venv: Path, env: dict[str, str]) -> Path:
    """A record the hook accepts (checked), in this test's own cache folder."""
    assert started(venv, env)["status"]["bundle_from"] == "native module"
    assert started(venv, env)["status"]["bundle_from"] == "start-up record"
    path = Path(env["XDG_CACHE_HOME"]) / "certifi-native" / "startup-record"
    assert path.is_file()
    return path


def rewrite(record: Path, edit: Callable[[list[str]], list[str]]) -> None:
    lines = record.read_text("utf-8").splitlines()
    record.write_text("\n".join(edit(lines)) + "\n", "utf-8")


def without(prefix: str, containing: str = "") -> Callable[[list[str]], list[str]]:
    """Removes the lines after the header that start with ``prefix`` (and hold ``containing``)."""

    def edit(lines: list[str]) -> list[str]:
        kept = lines[:1] + [line for line in lines[1:] if not (line.startswith(prefix) and containing in line)]
        assert len(kept) < len(lines), f"no {prefix!r} line to remove"
        return kept

    return edit


def built_at(offset: int | None) -> Callable[[list[str]], list[str]]:
    """The stamp's first line with a build time ``offset`` seconds from now (None: without one)."""
    import time

    def edit(lines: list[str]) -> list[str]:
        out = []
        for line in lines:
            if line.startswith("certifi-native ") and " valid-until " in line:
                head, until = line.rsplit(" valid-until ", 1)
                head = head.split(" built-at ")[0]  # the one core/src/cache.rs wrote, replaced
                stamp = "" if offset is None else f" built-at {int(time.time()) + offset}"
                line = f"{head}{stamp} valid-until {until}"
            out.append(line)
        return out

    return edit


def test_a_rewritten_but_complete_record_still_hits(venv: Path, env: dict[str, str], record: Path) -> None:
    """The control for the cases below: rewriting the file alone is no miss."""
    rewrite(record, lambda lines: lines)
    assert started(venv, env)["status"]["bundle_from"] == "start-up record"
    rewrite(record, built_at(-60))  # a build time in the past is fine
    assert started(venv, env)["status"]["bundle_from"] == "start-up record"


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(without("bundle "), id="no bundle fingerprint"),
        pytest.param(without("certifi-native ", " valid-until "), id="no expiry line"),
        pytest.param(without("env "), id="no settings lines"),
        pytest.param(without("env HOME="), id="a settings line missing"),
        pytest.param(built_at(3600), id="built after now: the clock went back"),
        pytest.param(built_at(None), id="no build time in the stamp line"),
    ],
)
def test_an_incomplete_record_is_a_miss(
    venv: Path, env: dict[str, str], record: Path, edit: Callable[[list[str]], list[str]]
) -> None:
    rewrite(record, edit)
    after = started(venv, env)
    assert after["status"]["bundle_from"] == "native module", after
    assert Path(after["requests"]).is_file()


def test_a_record_reached_through_a_symbolic_link_is_a_miss(
    venv: Path, env: dict[str, str], record: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere-record"
    shutil.move(str(record), elsewhere)
    record.symlink_to(elsewhere)
    assert started(venv, env)["status"]["bundle_from"] == "native module"


def test_a_cache_folder_reached_through_a_symbolic_link_is_a_miss(
    venv: Path, env: dict[str, str], record: Path, tmp_path: Path
) -> None:
    folder = record.parent
    moved = tmp_path / "moved-cache"
    shutil.move(str(folder), moved)
    folder.symlink_to(moved)
    after = started(venv, env)
    assert after["status"]["bundle_from"] == "native module"
    assert not after["requests"].startswith(str(folder))  # where() refuses it too


def test_a_cache_folder_others_can_write_is_a_miss(venv: Path, env: dict[str, str], record: Path) -> None:
    os.chmod(record.parent, 0o777)
    after = started(venv, env)
    assert after["status"]["bundle_from"] == "native module"
    assert not after["requests"].startswith(str(record.parent))  # where() refuses it too


def test_a_cache_folder_another_user_owns_is_a_miss(
    venv: Path, env: dict[str, str], record: Path, second_user: tuple[int, int]
) -> None:
    os.chown(record.parent, *second_user)
    after = started(venv, env)
    assert after["status"]["bundle_from"] == "native module"
    assert not after["requests"].startswith(str(record.parent))


def test_a_fifo_at_the_record_path_does_not_hang_the_replay(venv: Path, env: dict[str, str], record: Path) -> None:
    """The hook's own read (the native side's write of a new record is another
    matter: see core/src/record.rs). run() fails if the replay blocks."""
    record.unlink()
    os.mkfifo(record)
    code = "import certifi_native_hook as hook; print(hook._recorded_bundle())"
    assert run_py(code, {**env, "CERTIFI_NATIVE_AUTO": "0"}, str(venv), timeout=60).stdout == "None\n"
