"""The start-up hook files as each Python's ``site`` treats them, read from
``python -v``'s trace: on 3.15+ (PEP 829) the ``.start`` file's entry point
runs and the ``.pth`` import line is suppressed; before 3.15 the ``.pth`` line
runs and the ``.start`` file is ignored. Either way activation runs once.

What to expect is read from the installed files (the wheel's RECORD), not
from their names here, so it follows a rename of the hook files or module."""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import run

# Start-up as ``site`` does it, under ``python -v -S``: ``site.main()`` run by
# hand with a profiler that counts the calls of the hook's callable (module and
# name from argv) and how many of them did work (called further Python code),
# rather than returning at once as a repeated call must.
COUNTED_START = r"""
import json, sys
module, name = sys.argv[1], sys.argv[2]
calls, worked = [], set()
def profile(frame, event, arg):
    if event != "call":
        return
    code = frame.f_code
    if code.co_name == name and frame.f_globals.get("__name__") == module:
        calls.append(id(frame))
    elif frame.f_back is not None and id(frame.f_back) in calls and frame.f_back.f_code.co_name == name:
        worked.add(id(frame.f_back))
sys.setprofile(profile)
import site
site.main()
sys.setprofile(None)
import certifi_native
print(json.dumps({"calls": len(calls), "worked": len(worked), "status": certifi_native.info()["activation"]}))
"""


def hook_files(suffix: str) -> list[Path]:
    """Our files of that suffix at the site-packages root, from the wheel's RECORD."""
    files = importlib.metadata.distribution("certifi-native").files or []
    return [Path(str(f.locate())) for f in files if "/" not in str(f) and str(f).endswith(suffix)]


def pth_modules(pth: Path) -> list[str]:
    """The modules a .pth file's import lines import (``import a.b; a.b.f()``)."""
    modules = []
    for line in pth.read_text("utf-8").splitlines():
        if line.startswith(("import ", "import\t")):
            first = line.split(";", 1)[0][len("import") :]
            modules += [name.strip().split(" as ")[0].strip() for name in first.split(",")]
    return modules


def entry_points(start: Path) -> list[str]:
    """A .start file's ``pkg.mod:callable`` lines."""
    lines = (line.strip() for line in start.read_text("utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def hook_callable() -> tuple[str, str]:
    """The module and function the hook runs: the .start file's entry point
    (the .pth import line calls the same one)."""
    (start,) = hook_files(".start")
    (entry_point,) = entry_points(start)
    module, _, name = entry_point.partition(":")
    return module, name


def traced(env: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """``python -v``'s trace (stderr) of a start-up, and what the profiler counted."""
    proc = run([sys.executable, "-v", "-S", "-c", COUNTED_START, *hook_callable()], env)
    return proc.stderr, json.loads(proc.stdout)


def reads_of(hook_file: Path, trace: str) -> int:
    """How many times ``site`` read the file (a venv's folder may be gone
    through twice, and 3.11-3.14 then read the .pth twice: the hook must still
    do its work once)."""
    return trace.count(f"Processing {hook_file.suffix} file: {str(hook_file)!r}")


def test_the_wheel_ships_a_pth_and_its_start_twin() -> None:
    pths, starts = hook_files(".pth"), hook_files(".start")
    assert pths and starts, "no start-up hook files in the wheel's RECORD"
    assert {p.with_suffix("") for p in starts} <= {p.with_suffix("") for p in pths}, "a .start without its .pth"
    assert all(p.is_file() for p in pths + starts)
    for pth in pths:
        assert pth_modules(pth), f"{pth} has no import line"
    for start in starts:
        assert entry_points(start), f"{start} has no entry point"


@pytest.mark.skipif(sys.version_info < (3, 15), reason="PEP 829 .start files are read by Python 3.15+")
def test_on_315_the_start_file_runs_and_suppresses_the_pth_line(env: dict[str, str]) -> None:
    trace, counted = traced(env)
    (start,) = hook_files(".start")
    pth = start.with_suffix(".pth")
    passes = reads_of(start, trace)
    (entry_point,) = entry_points(start)
    assert passes >= 1, f"site never read {start}"
    assert trace.count(f"import lines in {pth} are suppressed due to matching {start} file.") == passes
    assert f"Exec'ing from {pth}:" not in trace
    assert trace.count(f"Executing entry point: {entry_point} from {start}") == passes
    assert counted["calls"] == passes and counted["worked"] == 1, counted
    assert counted["status"]["ran"] is True and counted["status"].get("error") is None, counted


@pytest.mark.skipif(sys.version_info >= (3, 15), reason="from 3.15 on the .start file replaces the .pth line")
def test_before_315_the_pth_line_runs_it_once_and_the_start_file_is_ignored(env: dict[str, str]) -> None:
    trace, counted = traced(env)
    (pth,) = hook_files(".pth")
    if sys.version_info >= (3, 11):  # older site.py does not trace .pth files
        passes = reads_of(pth, trace)
        assert passes >= 1, f"site never read {pth}"
        assert counted["calls"] == passes, counted
    for start in hook_files(".start"):
        assert str(start) not in trace, f"{start} was read by Python {sys.version_info[:2]}"
    assert counted["calls"] >= 1 and counted["worked"] == 1, counted
    assert counted["status"]["ran"] is True and counted["status"].get("error") is None, counted
