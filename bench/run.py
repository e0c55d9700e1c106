"""certifi-native's benchmark: every variant side by side, in one run.

    python bench/run.py            full run (a few minutes): writes bench/RESULTS.md,
                                   bench/results.json and the table in bench/README.md
    python bench/run.py --quick    smoke run (CI): every cell must be a number or a stated n/a

Run it from the dev venv (``bash scripts/dev bench``), which has trustme and
the tests' helpers. bench/README.md says what each figure means and how it
is kept fair.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import trustme

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "tests"))
import conftest  # noqa: E402  (the tests' scrubbed env, private OS store and HTTPS server)
from startup_hooks import callgrind_instructions, make_venvs, record_missed  # noqa: E402  (bench/ is on sys.path)

WORKER = BENCH / "worker.py"
PROGRESS: List[Path] = []  # phase two's log, readable while its output is captured
README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


@dataclass(frozen=True)
class Variant:
    key: str
    title: str
    venv: str


VARIANTS = [
    Variant("bare", "bare venv", "bare"),
    Variant("certifi", "certifi", "certifi"),
    Variant("cn-file", "certifi-native (file)", "certifi-native"),
    Variant("cn-capath", "certifi-native (capath)", "certifi-native"),
    Variant("truststore", "truststore (inject_into_ssl)", "truststore"),
    Variant("pip-system-certs", "pip-system-certs", "pip-system-certs"),
    Variant("certifi-linux", "certifi-linux", "certifi-linux"),
    # The floor: a file holding only the one root the server's chain needs (certifi's venv, no hook).
    Variant("floor", "one-root file (floor)", "certifi"),
]
BY_KEY = {v.key: v for v in VARIANTS}

# What each venv holds besides the two clients; "{wheel}" is the certifi-native wheel.
CLIENTS = ["requests", "httpx"]
# The "installed, no code change" rows' other clients: only where those rows are measured.
MORE_CLIENTS = ["urllib3", "aiohttp", "botocore"]
VENVS: Dict[str, List[str]] = {
    "bare": [],
    "certifi": [*CLIENTS, *MORE_CLIENTS],
    "certifi-native": ["{wheel}", *CLIENTS, *MORE_CLIENTS],
    "truststore": ["truststore", *CLIENTS, *MORE_CLIENTS],
    "pip-system-certs": ["pip-system-certs", *CLIENTS],
    "certifi-linux": ["certifi-linux", *CLIENTS],
}


@dataclass(frozen=True)
class Figure:
    key: str
    title: str
    baseline: str  # the variant its ratios are against
    how: str  # "whole": the runner times a whole process; "process": timed inside a fresh process; "worker": worker.py


FIGURES = [
    Figure("startup", "start-up `python -c pass`", "bare", "whole"),
    Figure("where_process", "whole `python -c 'import …; where()'`, warm cache", "certifi", "whole"),
    Figure("import_where", "`import` + `where()`, warm cache, fresh process", "certifi", "process"),
    Figure("build_cold", "first `where()`, empty cache (cold build)", "certifi", "process"),
    Figure("build_warm", "first `where()`, warm cache", "certifi", "process"),
    Figure("context", "SSLContext creation", "certifi", "worker"),
    Figure("requests_new", "`requests.get`, new connection per call", "certifi", "worker"),
    Figure("requests_session", "`requests.Session.get`, reused connection", "certifi", "worker"),
    Figure("httpx_new", "`httpx.get`, new connection per call", "certifi", "worker"),
    Figure("httpx_client", "`httpx.Client.get`, reused connection", "certifi", "worker"),
    # Installed, no code change: each client's defaults (certifi.where(), REQUESTS_CA_BUNDLE),
    # so certifi-native's row is activation plus the redirect (docs/capath.md).
    Figure("installed_requests", "installed, no code change: `requests.get`, new connection", "certifi", "worker"),
    Figure("installed_httpx_create", "installed, no code change: `httpx.Client()` creation", "certifi", "worker"),
    Figure("installed_httpx", "installed, no code change: `httpx.Client()` + get", "certifi", "worker"),
    Figure("installed_urllib3", "installed, no code change: `urllib3.PoolManager(ca_certs=certifi.where())` + get", "certifi", "worker"),
    Figure("installed_aiohttp", "installed, no code change: aiohttp session + get, context from `certifi.where()`", "certifi", "worker"),
    Figure("installed_botocore", "installed, no code change: botocore `URLLib3Session` + send", "certifi", "worker"),
]
INSTALLED = [f.key for f in FIGURES if f.key.startswith("installed_")]
FIGURE_BY_KEY = {f.key: f for f in FIGURES}

# The code timed inside a fresh process: (set-up, timed) per variant. `preloaded`
# tells whether a start-up hook had already imported the module.
PROCESS_CODE: Dict[str, Dict[str, Tuple[str, str]]] = {
    "import_where": {
        "certifi": ("", "import certifi; certifi.where()"),
        "certifi-linux": ("", "import certifi; certifi.where()"),
        "cn-file": ("", "import certifi_native; certifi_native.where()"),
        "cn-capath": ("", "import certifi_native; certifi_native.capath()"),
    },
    "build_cold": {
        "cn-file": ("import certifi_native", "certifi_native.where()"),
        "cn-capath": ("import certifi_native", "certifi_native.capath()"),
    },
}
PROCESS_CODE["build_warm"] = PROCESS_CODE["build_cold"]
PROCESS_CODE["where_process"] = PROCESS_CODE["import_where"]  # timed from outside, whole
MODULE = {"certifi": "certifi", "certifi-linux": "certifi", "cn-file": "certifi_native", "cn-capath": "certifi_native"}
TIMED = """import sys, time
preloaded = {module!r} in sys.modules
{setup}
start, cpu = time.perf_counter(), time.process_time()
{timed}
print(time.perf_counter() - start, time.process_time() - cpu, preloaded)
"""

# Rounds (variants alternate within each) and calls per worker process.
FULL = {"startup": 30, "process": 20, "worker": 10, "calls": 6, "reused_calls": 12}
QUICK = {"startup": 2, "process": 2, "worker": 1, "calls": 2, "reused_calls": 2}
# Which count each worker figure uses: new connections are slow, the rest cheap.
CALLS = {
    "context": "calls",
    "requests_new": "calls",
    "requests_session": "reused_calls",
    "httpx_new": "calls",
    "httpx_client": "reused_calls",
    **{figure: "calls" for figure in INSTALLED},
}
# Who gets the "installed" rows (and nothing else for the floor).
INSTALLED_VARIANTS = ("certifi", "cn-file", "truststore", "floor")


def not_applicable(figure: str, variant: str, features: Dict[str, Any], os_store: str) -> Optional[str]:
    """Why a cell has no number by design (None: it is measured)."""
    if variant == "bare":
        return None if figure.startswith("startup") else "the bare venv is the start-up baseline only"
    if figure in INSTALLED and variant not in INSTALLED_VARIANTS:
        return "measured for certifi, certifi-native (installed), truststore and the floor only"
    if variant == "floor" and figure not in INSTALLED:
        return "the floor is measured in the installed rows only"
    if figure.startswith("startup"):
        if variant == "cn-capath":
            return "same start-up as the file row"
        if variant == "cn-file" and not features.get("startup_hook"):
            return "start-up hook not in this build"
        return None
    if figure in PROCESS_CODE and variant not in PROCESS_CODE[figure]:
        return {
            "certifi": "a static file: nothing to build",
            "certifi-linux": "names the OS file as is: nothing to build",
        }.get(variant, "no bundle file: the OS store is loaded into each context")
    if variant == "cn-capath":
        needs = "ssl_context" if figure in ("context", "httpx_new", "httpx_client") else "capath"
        if not features.get(needs):
            return f"{needs}() not in this build"
    if os_store and variant not in ("certifi", "bare", "floor") and FIGURE_BY_KEY[figure].how == "worker":
        return os_store
    return None


# --- set-up (in the host's namespace, with the host's environment for pip) ---


def base_python() -> str:
    """The interpreter behind the dev venv: every measured venv is made from it."""
    return getattr(sys, "_base_executable", sys.executable)


def pip(*args: str) -> Optional[str]:
    """Runs the dev venv's pip (with the host's environment: it reaches the registry); an error message or None."""
    argv = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    done = subprocess.run(argv, capture_output=True, text=True)
    return None if done.returncode == 0 else f"pip {args[0]} failed: {(done.stderr or done.stdout).strip()[-300:]}"


def fill_wheelhouse(wheelhouse: Path, refresh: bool) -> Optional[str]:
    """Every variant's packages, resolved together once, so that the venvs
    install offline, fast, and with the same versions of the shared packages."""
    wanted = sorted({p for packages in VENVS.values() for p in packages if p != "{wheel}"})
    marker = wheelhouse / "bench-packages.json"
    if not refresh and marker.is_file() and json.loads(marker.read_text()) == wanted:
        return None
    say(f"downloading {', '.join(wanted)} and their dependencies into {wheelhouse}")
    error = pip("download", "-q", "-d", str(wheelhouse), *wanted)
    if not error:
        marker.write_text(json.dumps(wanted))
    return error


def make_venv(folder: Path, packages: List[str], wheelhouse: Path) -> Optional[str]:
    """A fresh venv without pip holding ``packages``; an error message or None."""
    shutil.rmtree(folder, ignore_errors=True)
    made = subprocess.run([base_python(), "-m", "venv", "--without-pip", str(folder)], capture_output=True, text=True)
    if made.returncode:
        return f"venv failed: {made.stderr.strip()[-300:]}"
    if not packages:
        return None
    target = str(folder / "bin" / "python")
    return pip("--python", target, "install", "-q", "--no-index", "--find-links", str(wheelhouse), *packages)


def set_up(args: argparse.Namespace, work: Path) -> Dict[str, Any]:
    wheel = args.wheel or max(ROOT.glob("dist/certifi_native-*.whl"), key=os.path.getmtime, default=None)
    if wheel is None:
        sys.exit("no wheel in dist/: build one first (bash scripts/dev run)")
    wheelhouse = BENCH / "results" / "wheelhouse"
    install_errors: Dict[str, str] = {}
    download_error = fill_wheelhouse(wheelhouse, refresh=not args.quick)
    venvs = work / "venvs"
    say(f"fresh venvs in {venvs} (certifi-native from {Path(wheel).name})")
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        jobs = {
            name: pool.submit(make_venv, venvs / name, [p.format(wheel=wheel) for p in packages], wheelhouse)
            for name, packages in VENVS.items()
        }
    for name, job in jobs.items():
        error = job.result()
        if error:
            install_errors[name] = f"{download_error or ''} {error}".strip()
            say(f"venv {name}: {install_errors[name]}")

    instructions = set_up_instructions(venvs, str(wheel), args.quick)

    ca = trustme.CA(organization_name="certifi-native bench CA")
    ca.cert_pem.write_to_path(str(work / "ca.pem"))
    ca.private_key_pem.write_to_path(str(work / "ca.key"))
    # The OS-store tools trust the CA through the store mounted over /etc/ssl/certs;
    # certifi through its own bundle: this venv's copy, with the CA appended (same
    # size as the real one plus one root, read the way requests and httpx read it).
    store = conftest.make_store(work / "store", ca.cert_pem.bytes(), with_host=True)
    if "certifi" not in install_errors:
        bundle = next((venvs / "certifi").glob("lib/python*/site-packages/certifi/cacert.pem"))
        bundle.write_bytes(bundle.read_bytes() + ca.cert_pem.bytes())
    return {
        "venvs": str(venvs),
        "install_errors": install_errors,
        "store": str(store),
        "quick": args.quick,
        "out": str(args.out),
        "wheel": str(wheel),
        "instructions": instructions,
    }


# --- start-up instructions (callgrind): stable on a shared machine -------------

# The Pythons the start-up instruction ratio is measured on (a full run; --quick: this one).
INSTRUCTION_PYTHONS = ("3.9", "3.11", "3.13")


def pyenv_python(version: str) -> Optional[str]:
    """``version``'s interpreter under $(pyenv root)/versions, if installed."""
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    if shutil.which("pyenv"):
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip() or root
    found = sorted(Path(root, "versions").glob(f"{version}.*/bin/python{version}"))
    return str(found[-1]) if found else None


def set_up_instructions(venvs: Path, wheel: str, quick: bool) -> Dict[str, Dict[str, str]]:
    """Per Python: a bare venv, the floor's and one with the wheel alone, all
    without pip like the bench's other venvs; the wheel is installed by that
    Python's own pip (from a helper venv: the dev venv's pip may not run on the
    oldest Python), so the bytecode is that Python's; or why there is none."""
    versions = [f"{sys.version_info[0]}.{sys.version_info[1]}"] if quick else list(INSTRUCTION_PYTHONS)
    out: Dict[str, Dict[str, str]] = {}
    for version in versions:
        python = base_python() if quick else pyenv_python(version)
        if python is None:
            out[version] = {"na": f"no Python {version} under $(pyenv root)/versions"}
            continue
        try:
            made = make_venvs(python, venvs / f"instructions-{version}", wheel, ("bare", "floor-pth", "cn"))
        except subprocess.CalledProcessError as error:
            why = (error.stderr or error.stdout or "").strip()[-200:]
            out[version] = {"na": f"{' '.join(map(str, error.cmd[1:3]))} failed: {why}"}
            continue
        out[version] = {"bare": str(made["bare"]), "floor": str(made["floor-pth"]), "cn": str(made["cn"])}
    return out


# --- measuring (inside the private mount namespace) ---------------------------


def say(message: str) -> None:
    line = f"[bench {time.strftime('%H:%M:%S')}] {message}"
    print(line, file=sys.stderr, flush=True)
    for log in PROGRESS:
        with log.open("a") as progress:
            print(line, file=progress)


class KeepAlive(conftest._Quiet):
    """The tests' handler, keeping connections open (HTTP/1.1), so that a reused
    session is measured as one. Headers and body are two writes: without
    TCP_NODELAY, Nagle holds the body until the client's delayed ACK (~40 ms)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True


def rotations(keys: Sequence[str], rounds: int) -> Iterator[str]:
    """Each round visits every variant, starting one further each time: no variant is always first."""
    for round_ in range(rounds):
        shift = round_ % len(keys) if keys else 0
        yield from list(keys[shift:]) + list(keys[:shift])


class Bench:
    def __init__(self, state: Dict[str, Any], work: Path, url: str) -> None:
        self.state, self.work, self.url = state, work, url
        self.rounds = QUICK if state["quick"] else FULL
        self.os_store = state.get("no_namespace", "")
        self.cells: Dict[str, Dict[str, Dict[str, Any]]] = {f.key: {} for f in FIGURES}
        self.probes: Dict[str, Dict[str, Any]] = {}
        self.notes: List[str] = []
        self.startup_instructions: Dict[str, Dict[str, Any]] = {}

    def python(self, variant: str) -> str:
        return str(Path(self.state["venvs"]) / BY_KEY[variant].venv / "bin" / "python")

    def env(self, variant: str, **extra: str) -> Dict[str, str]:
        # One HOME (and so one certifi-native cache) per venv, scrubbed like the tests'.
        return conftest.clean_env(self.work / "homes" / BY_KEY[variant].venv, **extra)

    def features(self, variant: str) -> Dict[str, Any]:
        features: Dict[str, Any] = self.probes.get(variant, {}).get("features", {})
        return features

    def probe(self) -> None:
        for variant in VARIANTS:
            error = self.state["install_errors"].get(variant.venv)
            if error:
                self.probes[variant.key] = {"error": f"install failed: {error}"}
                continue
            start = conftest.run([self.python(variant.key), "-c", "pass"], self.env(variant.key), check=False)
            if start.stdout or start.stderr or start.returncode:
                printed = start.stdout + start.stderr
                self.notes.append(f"{variant.title}: `python -c pass` exited {start.returncode}, printed {printed!r}")
            if variant.key == "bare":
                self.probes["bare"] = {}
                continue
            argv = [self.python(variant.key), str(WORKER), "probe", variant.key]
            done = conftest.run(argv, self.env(variant.key), check=False)
            try:
                self.probes[variant.key] = json.loads(done.stdout)
            except ValueError:
                self.probes[variant.key] = {"error": f"probe failed: {done.stderr.strip()[-300:]}"}

    def todo(self, how: str) -> Dict[str, List[str]]:
        """For each figure measured ``how``: the variants that get a number; the rest get their n/a or error now."""
        plan: Dict[str, List[str]] = {}
        for figure in (f for f in FIGURES if f.how == how):
            plan[figure.key] = []
            for variant in VARIANTS:
                error = self.probes[variant.key].get("error")
                why = not_applicable(figure.key, variant.key, self.features(variant.key), self.os_store)
                if why:
                    self.cells[figure.key][variant.key] = {"na": why}
                elif error:
                    self.cells[figure.key][variant.key] = {"error": error}
                else:
                    plan[figure.key].append(variant.key)
        return plan

    def add(self, figure: str, variant: str, samples: Any) -> None:
        """Records [wall, cpu] pairs in seconds, or an {"na"|"error": why} for the cell."""
        cell = self.cells[figure].setdefault(variant, {"wall": [], "cpu": []})
        if "wall" not in cell:
            return  # already an error: keep the first one
        if isinstance(samples, dict):
            self.cells[figure][variant] = samples
        else:
            cell["wall"].extend(round(wall, 7) for wall, _ in samples)
            cell["cpu"].extend(round(cpu, 7) for _, cpu in samples)

    def whole_processes(self) -> None:
        """`python -c CODE` timed from outside (posix_spawn + wait4: little overhead of our own),
        with the variant's start-up hooks active: what a user's fresh process costs."""
        for figure, variants in self.todo("whole").items():
            rounds = self.rounds["startup" if figure == "startup" else "process"]
            say(f"{figure}: {rounds} rounds x {len(variants)} variants")
            for variant in rotations(variants, rounds):
                code = "pass" if figure == "startup" else PROCESS_CODE[figure][variant][1]
                argv = [self.python(variant), "-c", code]
                start = time.perf_counter()
                quiet = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
                pid = os.posix_spawn(argv[0], argv, self.env(variant), file_actions=quiet)
                _, status, usage = os.wait4(pid, 0)
                wall = time.perf_counter() - start
                if status:
                    self.add(figure, variant, {"error": f"`python -c {code!r}` exited with status {status}"})
                    continue
                self.add(figure, variant, [(wall, usage.ru_utime + usage.ru_stime)])

    def in_process(self) -> None:
        for figure, variants in self.todo("process").items():
            say(f"{figure}: {self.rounds['process']} rounds x {len(variants)} variants")
            for variant in rotations(variants, self.rounds["process"]):
                setup, timed = PROCESS_CODE[figure][variant]
                code = TIMED.format(module=MODULE[variant], setup=setup, timed=timed)
                # No start-up hook: the import and the first where() happen in the timed code.
                extra = {"CERTIFI_NATIVE_AUTO": "0"}
                if figure == "build_cold":
                    (self.work / "cold").mkdir(exist_ok=True)
                    extra["XDG_CACHE_HOME"] = str(Path(tempfile.mkdtemp(dir=self.work / "cold")) / "cache")
                done = conftest.run([self.python(variant), "-c", code], self.env(variant, **extra), check=False)
                if done.returncode:
                    self.add(figure, variant, {"error": done.stderr.strip().splitlines()[-1][:300]})
                    continue
                wall, cpu, preloaded = done.stdout.split()
                self.add(figure, variant, [(float(wall), float(cpu))])
                if preloaded == "True":
                    self.cells[figure][variant]["preloaded"] = True

    def clients(self) -> None:
        plan = self.todo("worker")
        variants = [v.key for v in VARIANTS if any(v.key in vs for vs in plan.values())]
        say(f"clients: {self.rounds['worker']} rounds x {len(variants)} variants against {self.url}")
        for variant in rotations(variants, self.rounds["worker"]):
            counts = {figure: self.rounds[CALLS[figure]] for figure, vs in plan.items() if variant in vs}
            spec = {"variant": variant, "url": self.url, "counts": counts, "one_root": str(self.work / "ca.pem")}
            argv = [self.python(variant), str(WORKER), "measure", json.dumps(spec)]
            done = conftest.run(argv, self.env(variant), check=False)
            try:
                measured = json.loads(done.stdout)
            except ValueError:
                measured = {f: {"error": f"worker failed: {done.stderr.strip()[-300:]}"} for f in counts}
            for figure, samples in measured.items():
                self.add(figure, variant, samples)

    def instructions(self) -> None:
        """Start-up instructions per Python: `python -c pass`, bare venv against the
        wheel's (one warm-up start first, then checked to answer from the record), hash seed fixed."""
        for version, pair in self.state["instructions"].items():
            if "na" in pair:
                self.startup_instructions[version] = dict(pair)
                continue
            if shutil.which("valgrind") is None:
                self.startup_instructions[version] = {"na": "valgrind is not installed"}
                continue
            say(f"start-up instructions (callgrind), Python {version}")
            env = conftest.clean_env(self.work / "homes" / f"instructions-{version}", PYTHONHASHSEED="0")
            counts: Dict[str, Any] = {}
            for kind in ("bare", "floor", "cn"):
                subprocess.run([pair[kind], "-c", "pass"], env=env, capture_output=True)  # the record, warm caches
                counts[kind] = callgrind_instructions([pair[kind], "-c", "pass"], env)
            missed = record_missed(Path(pair["cn"]), env)
            if missed:  # the figure is about a normal start: it must be one
                self.startup_instructions[version] = {"error": missed}
            elif counts["bare"] and counts["floor"] and counts["cn"]:
                counts["ratio"] = counts["cn"] / counts["bare"]
                counts["floor_ratio"] = counts["floor"] / counts["bare"]
                self.startup_instructions[version] = counts
            else:
                self.startup_instructions[version] = {"error": "callgrind gave no count"}

    def summarize(self) -> None:
        for cells in self.cells.values():
            for cell in cells.values():
                if cell.get("wall"):
                    walls = sorted(cell["wall"])
                    cell["median"] = statistics.median(walls)
                    cell["p25"], cell["p75"] = walls[len(walls) // 4], walls[(3 * len(walls)) // 4]
                    cell["cpu_median"] = statistics.median(cell["cpu"])
                    cell["n"] = len(walls)


def measure(state_path: Path) -> int:
    state = json.loads(state_path.read_text())
    work = state_path.resolve().parent  # absolute: a relative XDG_CACHE_HOME is ignored
    PROGRESS.append(work / "progress.log")
    ca = trustme.CA.from_pem((work / "ca.pem").read_bytes(), (work / "ca.key").read_bytes())
    began = time.time()
    load_before = os.getloadavg()
    with conftest.https_server(ca.issue_cert("localhost", "127.0.0.1"), handler=KeepAlive) as url:
        bench = Bench(state, work, url)
        say("probing the venvs (and warming certifi-native's cache)")
        bench.probe()
        bench.whole_processes()
        bench.in_process()
        bench.clients()
        bench.instructions()
    bench.summarize()
    results = {
        "machine": machine(bench.probes.get("certifi", {}), load_before),
        "seconds": round(time.time() - began, 1),
        "quick": state["quick"],
        "rounds": bench.rounds,
        "wheel": Path(state["wheel"]).name,
        "probes": bench.probes,
        "notes": bench.notes,
        "figures": bench.cells,
        "instructions": bench.startup_instructions,
    }
    out = Path(state["out"])
    out.mkdir(parents=True, exist_ok=True)
    table = render(results)
    (out / "results.json").write_text(json.dumps(results, separators=(",", ":")) + "\n")
    (out / "RESULTS.md").write_text(f"# certifi-native benchmark (bench/run.py)\n\n{table}")
    if out == BENCH:
        update_readme(table)
    print(table)
    say(f"wrote {out / 'RESULTS.md'} and {out / 'results.json'} in {results['seconds']} s")
    unexplained = [
        f"{figure} / {variant}: {cell.get('error', 'no number')}"
        for figure, cells in bench.cells.items()
        for variant, cell in cells.items()
        if "median" not in cell and "na" not in cell
    ]
    unexplained += [f"start-up instructions / {v}: {c['error']}" for v, c in bench.startup_instructions.items() if "error" in c]
    for line in unexplained:
        say(f"NO NUMBER: {line}")
    return 1 if unexplained else 0


def machine(probe: Dict[str, Any], load_before: Sequence[float]) -> Dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": probe.get("python", platform.python_version()),
        "openssl": probe.get("openssl", "unknown"),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "uptime_after": uptime,
    }


# --- the report -----------------------------------------------------------------


def milliseconds(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.3g} ms" if ms >= 1 else f"{ms:.2f} ms"


# The goals of issues 2, 3 and 4: (figure, variant, kind, limit, text).
GOALS = [
    ("startup", "cn-file", "ratio<=", 1.05, "issue 3: start-up with certifi-native <= 1.05x a bare venv"),
    ("import_where", "cn-file", "ratio<=", 1.0, "issue 2: `import certifi_native; where()` no slower than certifi's"),
    ("build_cold", "cn-file", "ms<", 10.0, "issue 2: cold bundle build < 10 ms"),
    ("context", "cn-capath", "ms<=", 1.0, "issue 4: `ssl_context()` creation <= 1 ms"),
    ("requests_new", "cn-capath", "ratio<=", 0.25, "issue 4: `requests.get` via `capath()` >= 4x faster than certifi"),
    ("requests_new", "cn-file", "ratio<=", 1.05, "issue 4: `requests.get` via the file <= 1.05x certifi"),
    ("installed_requests", "cn-file", "floor<=", 1.1, "issue 13: fresh `requests.get`, installed, <= 1.1x the one-root floor"),
    ("installed_requests", "cn-file", "ratio<=", 0.25, "issue 13: fresh `requests.get`, installed, >= 4x faster than certifi"),
    ("installed_httpx_create", "cn-file", "ms<=", 1.0, "issue 13: `httpx.Client()` creation, installed, <= 1 ms"),
]
# Start-up instructions (callgrind), per Python: issue 13's limit and goal.
INSTRUCTION_LIMIT, INSTRUCTION_GOAL = 1.02, 1.01


def ratio(cells: Dict[str, Dict[str, Any]], figure: Figure, variant: str, key: str = "median") -> Optional[float]:
    """``variant``'s median over the baseline's (``key``: "median" wall, "cpu_median" CPU)."""
    base, cell = cells.get(figure.baseline, {}), cells.get(variant, {})
    if key in base and key in cell and base[key] > 0:
        return float(cell[key] / base[key])
    return None


PRELOADED = "a start-up hook had imported the module: its cost is in the whole-process rows"


class Footnotes:
    """Reasons for the cells without a number, lettered in order of first use."""

    def __init__(self) -> None:
        self.texts: List[str] = []

    def mark(self, text: str) -> str:
        if text not in self.texts:
            self.texts.append(text)
        return f"({chr(ord('a') + self.texts.index(text))})"

    def lines(self) -> List[str]:
        return [f"({chr(ord('a') + i)}) {text}  " for i, text in enumerate(self.texts)]


def table(figures: Dict[str, Any], key: str, notes: Footnotes) -> List[str]:
    """One Markdown table, a figure per row, a variant per column: ``key``'s medians and ratios."""
    header = ["median" + (" CPU" if key == "cpu_median" else " wall")] + [v.title for v in VARIANTS]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for figure in FIGURES:
        row = [figure.title]
        for variant in VARIANTS:
            cell = figures[figure.key].get(variant.key, {"na": "not measured"})
            if key in cell:
                text = milliseconds(cell[key])
                r = ratio(figures[figure.key], figure, variant.key, key)
                if r is not None:
                    text += f" ({r:.2f}x)"
                if cell.get("preloaded"):
                    text += " " + notes.mark(PRELOADED)
                row.append(text)
            elif "na" in cell:
                row.append("n/a " + notes.mark(cell["na"]))
            else:
                row.append("**error** " + notes.mark(cell.get("error", "no number")))
        lines.append("| " + " | ".join(row) + " |")
    return lines


def goal_lines(figures: Dict[str, Any]) -> List[str]:
    lines = []
    for figure_key, variant, kind, limit, text in GOALS:
        cell = figures[figure_key].get(variant, {})
        if "median" not in cell:
            lines.append(f"- {text}: not measured ({cell.get('na') or cell.get('error', 'no number')})")
            continue
        figure = FIGURE_BY_KEY[figure_key]
        if kind.startswith("floor"):
            floor = figures[figure_key].get("floor", {})
            if "median" not in floor:
                lines.append(f"- {text}: no floor to compare with")
                continue
            wall = cell["median"] / floor["median"]
            shown = f"{wall:.2f}x wall ({cell['cpu_median'] / floor['cpu_median']:.2f}x CPU)"
        elif kind.startswith("ratio"):
            wall = ratio(figures[figure_key], figure, variant)
            cpu = ratio(figures[figure_key], figure, variant, "cpu_median")
            if wall is None or cpu is None:
                lines.append(f"- {text}: no baseline to compare with")
                continue
            shown = f"{wall:.2f}x wall ({cpu:.2f}x CPU)"
        else:
            wall, cpu = cell["median"] * 1000, cell["cpu_median"] * 1000
            shown = f"{wall:.3g} ms wall ({cpu:.3g} ms CPU)"
        met = wall <= limit if kind.endswith("<=") else wall < limit
        lines.append(f"- {text}: {shown}, {'met' if met else '**missed**'}")
    return lines


def instruction_lines(measured: Dict[str, Dict[str, Any]]) -> List[str]:
    """The start-up instruction table: `python -c pass`, bare venv against the wheel's."""
    lines = [
        "| Python | bare venv | floor: a `.pth` importing one empty module | certifi-native installed (record hit) | ratio (floor's) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for version, cell in measured.items():
        if "ratio" in cell:
            lines.append(
                f"| {version} | {cell['bare']:,} | {cell['floor']:,} | {cell['cn']:,} "
                f"| {cell['ratio']:.4f}x ({cell['floor_ratio']:.4f}x) |"
            )
        else:
            lines.append(f"| {version} | n/a | n/a | n/a | {cell.get('na') or cell.get('error')} |")
    ratios = [c["ratio"] for c in measured.values() if "ratio" in c]
    if ratios:
        worst = max(ratios)
        verdict = "met" if worst <= INSTRUCTION_LIMIT else "**missed**"
        goal = "met" if worst <= INSTRUCTION_GOAL else "not met"
        lines += ["", f"- issue 13: start-up instructions <= {INSTRUCTION_LIMIT}x a bare venv: worst {worst:.4f}x, {verdict} "
                  f"(goal {INSTRUCTION_GOAL}x: {goal})"]
    return lines


def render(results: Dict[str, Any]) -> str:
    m = results["machine"]
    figures = results["figures"]
    notes = Footnotes()
    features = results["probes"].get("cn-file", {}).get("features", {})
    roots = ", ".join(f"{BY_KEY[k].title} {p['roots']}" for k, p in results["probes"].items() if p.get("roots"))
    versions = {}
    for probe in results["probes"].values():
        versions.update(probe.get("versions", {}))
    r = results["rounds"]
    out = [
        f"Measured {m['date']} on {m['cpu']}, {m['cores']} cores, {m['kernel']}; Python {m['python']}, {m['openssl']}.",
        f"Load average before/after: {m['load_before']} / {m['load_after']} (`uptime`: {m['uptime_after']}).",
        f"{'QUICK SMOKE RUN: the numbers mean nothing. ' if results['quick'] else ''}"
        f"Rounds: start-up {r['startup']}, fresh-process figures {r['process']}, client workers {r['worker']} "
        f"({r['calls']} timed calls per new-connection and context figure, {r['reused_calls']} per reused one); "
        f"{results['seconds']} s in all.",
        "",
        *table(figures, "median", notes),
        "",
        "CPU time of the measuring process (user+sys; the server's share is not in it): "
        "steadier than wall time when the machine is loaded.",
        "",
        *table(figures, "cpu_median", notes),
        "",
        "Ratios: start-up against the bare venv, everything else against certifi. Lower is faster.",
        "",
        *notes.lines(),
        "",
        "Goals (judged on wall time):",
        *goal_lines(figures),
        "",
        "Start-up instructions (`valgrind --tool=callgrind`, `python -c pass`, hash seed 0, one warm-up start; "
        "instruction counts do not depend on the machine's load):",
        "",
        *instruction_lines(results.get("instructions", {})),
        "",
        f"This build ({results['wheel']}): capath() {'yes' if features.get('capath') else 'no'}, "
        f"ssl_context() {'yes' if features.get('ssl_context') else 'no'}, "
        f"start-up hook {', '.join(features.get('startup_hook') or []) or 'no'}.",
        f"Roots each client loads: {roots}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) + ".",
        *(f"- {n}" for n in results["notes"]),
    ]
    return "\n".join(out) + "\n"


def update_readme(table: str) -> None:
    readme = BENCH / "README.md"
    text = readme.read_text()
    if README_START in text and README_END in text:
        head, rest = text.split(README_START, 1)
        tail = rest.split(README_END, 1)[1]
        readme.write_text(f"{head}{README_START}\n{table}{README_END}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: few rounds, numbers not meaningful")
    parser.add_argument("--wheel", help="the certifi-native wheel (default: the newest in dist/)")
    parser.add_argument(
        "--out", type=Path, help="where RESULTS.md and results.json go (default: bench/; with --quick, the work folder)"
    )
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # phase two, inside the namespace
    args = parser.parse_args()
    if args.measure:
        return measure(args.measure)

    work = BENCH / "results" / ("quick" if args.quick else "full")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    args.out = (args.out or (work if args.quick else BENCH)).resolve()
    state = set_up(args, work)
    state_path = work / "state.json"
    why = conftest._namespace_refusal()
    if why:
        state["no_namespace"] = f"no private mount namespace for the OS store ({why})"
        state_path.write_text(json.dumps(state))
        return measure(state_path)
    state_path.write_text(json.dumps(state))
    say(f"measuring in a private mount namespace; progress in {work / 'progress.log'}")
    phase_two = [sys.executable, __file__, "--measure", str(state_path)]
    done = conftest.run_with_store(Path(state["store"]), phase_two, dict(os.environ), check=False, timeout=3600)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
