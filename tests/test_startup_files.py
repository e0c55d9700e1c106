"""The start-up hook file as each Python's ``site`` treats it, read from
``python -v``'s trace: the ``.pth`` import line runs activation once, on 3.15+
too (PEP 829 keeps import lines working through 3.17). The wheel ships no
``.start`` file: on 3.15 one entry point costs every start 1.75x the
instructions of a bare one (site imports pkgutil and re to resolve it;
bench/startup_hooks.py, docs/activation.md), and would run after every other
``.pth`` import line.

What to expect is read from the installed files (the wheel's RECORD), not
from their names here, so it follows a rename of the hook files or module."""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path
from typing import Any

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


def hook_callable() -> tuple[str, str]:
    """The module and function the .pth import line runs (``import m; m.f()``)."""
    (pth,) = hook_files(".pth")
    (module,) = pth_modules(pth)
    (line,) = [line for line in pth.read_text("utf-8").splitlines() if line.startswith("import ")]
    call = line.split(";", 1)[1].strip()
    assert call.startswith(f"{module}.") and call.endswith("()"), line
    return module, call[len(module) + 1 : -2]


def traced(env: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """``python -v``'s trace (stderr) of a start-up, and what the profiler counted."""
    proc = run([sys.executable, "-v", "-S", "-c", COUNTED_START, *hook_callable()], env)
    return proc.stderr, json.loads(proc.stdout)


def reads_of(hook_file: Path, trace: str) -> int:
    """How many times ``site`` read the file (a venv's folder may be gone
    through twice, and 3.11-3.14 then read the .pth twice: the hook must still
    do its work once)."""
    return trace.count(f"Processing {hook_file.suffix} file: {str(hook_file)!r}")


def test_the_wheel_ships_one_pth_and_no_start_file() -> None:
    (pth,) = hook_files(".pth")
    assert pth.is_file() and pth_modules(pth), f"{pth} has no import line"
    assert hook_files(".start") == [], "a .start file costs every 3.15 start 1.75x (see the module's docstring)"


def test_the_pth_line_runs_activation_once(env: dict[str, str]) -> None:
    trace, counted = traced(env)
    (pth,) = hook_files(".pth")
    passes = reads_of(pth, trace)
    if sys.version_info >= (3, 11):  # older site.py does not trace .pth files
        assert passes >= 1, f"site never read {pth}"
        assert counted["calls"] == passes, counted
    if sys.version_info >= (3, 15):  # PEP 829: deprecated, still run, and said so only under -v
        assert f"import lines in {pth} are deprecated" in trace
        assert trace.count(f"Exec'ing from {pth}:") == passes
        assert "Executing entry point" not in trace
    assert counted["calls"] >= 1 and counted["worked"] == 1, counted
    assert counted["status"]["ran"] is True and counted["status"].get("error") is None, counted
