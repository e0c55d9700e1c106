"""Start-up instructions per kind of start-up hook file, on the Python running this.

    python3.15 bench/startup_hooks.py --wheel dist/certifi_native-....whl

``python -c pass`` in: a bare venv; a venv whose ``.pth`` imports one empty
module (the floor of an import-line hook); one whose ``.start`` (PEP 829,
Python 3.15+) names one empty function (the floor of an entry-point hook);
the wheel's venv as shipped (its ``.pth`` import line); and the wheel's venv
with a ``.start`` twin added (``certifi_native_hook:activate``, which on 3.15+
suppresses the ``.pth`` line: what shipping one would cost). Counted by
``valgrind --tool=callgrind`` (hash seed 0, one warm-up start each, which
also leaves the start-up record). Standard library only, so any interpreter
can run it (CPython 3.14 and 3.15 come from the Debian chroot:
``bash scripts/chroot run python3.15 bench/startup_hooks.py --wheel ...``);
``run.py`` uses its helpers for the start-up table of every full run.
Writes ``bench/results/startup-hooks-<version>.json`` and prints a table.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

BENCH = Path(__file__).resolve().parent

# The floor for any hook of this shape: a .pth line that imports one module
# doing nothing (what every start pays before the hook's own work).
FLOOR_PTH = "import certifi_native_floor; certifi_native_floor.activate()\n"
FLOOR_START = "certifi_native_floor:activate\n"
FLOOR_MODULE = "def activate():\n    pass\n"
TWIN_START = "certifi_native_hook:activate\n"
KINDS = {
    "bare": "bare venv",
    "floor-pth": "floor: a `.pth` importing one empty module",
    "floor-start": "floor: a `.start` naming one empty function",
    "cn": "certifi-native as shipped (the `.pth` line)",
    "cn-start": "certifi-native with a `.start` twin",
}


def callgrind_instructions(argv: List[str], env: Dict[str, str]) -> Optional[int]:
    """Instructions ``argv`` executes (valgrind --tool=callgrind), None if it cannot say."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        env=env, capture_output=True, text=True, timeout=300,
    )
    found = [line.rsplit(":", 1)[1].strip() for line in done.stderr.splitlines() if "Collected :" in line]
    return int(found[-1]) if done.returncode == 0 and found else None


def record_missed(python: Path, env: Dict[str, str]) -> Optional[str]:
    """None when a start of ``python`` answers from the start-up record (the
    normal start the counts are about); else what it did instead."""
    code = "import certifi_native_hook as h; print(h._done.get('bundle_from'))"
    done = subprocess.run([str(python), "-c", code], env=env, capture_output=True, text=True)
    answer = done.stdout.strip() or done.stderr.strip()[-200:]
    return None if answer == "start-up record" else f"the start-up record missed: {answer}"


def write_floor(python: Path, site: Path, kind: str) -> None:
    """The empty hook module, compiled by ``python``, and the file that runs
    it (``kind``: pth or start)."""
    (site / "certifi_native_floor.py").write_text(FLOOR_MODULE)
    (site / f"certifi_native_floor.{kind}").write_text(FLOOR_PTH if kind == "pth" else FLOOR_START)
    _step([str(python), "-m", "compileall", "-q", str(site / "certifi_native_floor.py")])


def site_packages(python: Path) -> Path:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return Path(_step([str(python), "-c", code]).stdout.strip())


def _step(argv: List[str]) -> "subprocess.CompletedProcess[str]":
    """Runs ``argv``; ``CalledProcessError`` (with its output) if it fails."""
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    return subprocess.run(argv, capture_output=True, text=True, check=True, env=env)


def make_venvs(python: str, work: Path, wheel: str, kinds: Sequence[str] = tuple(KINDS)) -> Dict[str, Path]:
    """One venv of ``python`` per kind in ``work`` (made afresh), without pip
    like run.py's others; the wheel goes in with a helper venv's pip, so the
    bytecode is that Python's. ``CalledProcessError`` if a step fails."""
    installer = work / "pip" / "bin" / "python"
    shutil.rmtree(installer.parent.parent, ignore_errors=True)
    _step([python, "-m", "venv", str(installer.parent.parent)])
    pythons = {}
    for kind in kinds:
        folder = work / kind
        shutil.rmtree(folder, ignore_errors=True)
        _step([python, "-m", "venv", "--without-pip", str(folder)])
        pythons[kind] = venv_python = folder / "bin" / "python"
        site = site_packages(venv_python)
        if kind.startswith("floor-"):
            write_floor(venv_python, site, kind.split("-", 1)[1])
        elif kind.startswith("cn"):
            _step([str(installer), "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(site), wheel])
            if kind == "cn-start":
                (site / "certifi_native_activate.start").write_text(TWIN_START)
    return pythons


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheel", required=True, help="the certifi-native wheel this Python takes")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed", file=sys.stderr)
        return 1
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    with tempfile.TemporaryDirectory(prefix="startup-hooks-") as scratch:
        work = Path(scratch)
        pythons = make_venvs(sys.executable, work, args.wheel)
        home = work / "home"
        home.mkdir()
        env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
        counts: Dict[str, Optional[int]] = {}
        for kind, python in pythons.items():
            subprocess.run([str(python), "-c", "pass"], env=env, check=True)  # the record, warm caches
            missed = record_missed(python, env) if kind.startswith("cn") else None
            if missed:
                print(f"{KINDS[kind]}: {missed}", file=sys.stderr)
            counts[kind] = None if missed else callgrind_instructions([str(python), "-c", "pass"], env)
    bare = counts["bare"]
    print(f"Python {sys.version.split()[0]}: `python -c pass`, instructions (callgrind)\n")
    print("| venv | instructions | against the bare venv |\n| --- | --- | --- |")
    for kind, title in KINDS.items():
        count = counts[kind]
        ratio = f"{count / bare:.3f}x" if count and bare else "n/a"
        print(f"| {title} | {count:,} | {ratio} |" if count else f"| {title} | n/a | n/a |")
    out = BENCH / "results" / f"startup-hooks-{version}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"python": sys.version, "wheel": os.path.basename(args.wheel), "counts": counts}, indent=1))
    return 0 if all(counts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
