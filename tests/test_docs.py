"""The docs check: every `$ certifi-native ...` example in README.md and
docs/*.md is run, and its output must have the shape the docs show (the
labels, the row names, the diagnosis kinds, the exit code), so docs and
behaviour cannot drift apart.

How an example is read, in a fenced block:

- a line `$ certifi-native ARGS [# comment]` is the command (run as the
  console script of the installed wheel, in a clean environment);
- the lines after it, up to the next `$ ` line or the block's end, are its
  output; `…` (or `...`) alone on a line stands for any lines; an
  `[exit N]` line gives the exit code (default 0); an example showing no
  output is checked for its exit code alone;
- `https://localhost:PORT` in the command is replaced by a local server.

Which server, and which environment, is said by a marker on the line just
above the block (an HTML comment, invisible on GitHub):

- `<!-- docs-check: scenario NAME -->`: run against ``SCENARIOS[NAME]`` below;
- `<!-- docs-check: not run: REASON -->`: not run; the test reports it as a
  skip with REASON (say what covers it instead).

A block without a marker runs with no server: a command there that names an
https:// URL fails the check, asking for a marker. Nothing is skipped silently.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import pytest
import trustme

from conftest import clean_env, https_server, run

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"^<!--\s*docs-check:\s*(scenario\s+(?P<scenario>[\w-]+)|not run:\s*(?P<reason>.+?))\s*-->$")
URL = re.compile(r"https://localhost:\d+")


@dataclass
class Example:
    where: str  # file:line
    command: str
    output: List[str] = field(default_factory=list)
    scenario: Optional[str] = None
    not_run: Optional[str] = None

    @property
    def exit_code(self) -> int:
        for line in self.output:
            found = re.search(r"\[exit (\d+)\]", line)
            if found:
                return int(found.group(1))
        return 0


def examples() -> List[Example]:
    found: List[Example] = []
    for doc in DOCS:
        lines = doc.read_text(encoding="utf-8").splitlines()
        in_block, marker, current = False, None, None
        for number, line in enumerate(lines, 1):
            if line.startswith("```"):
                if not in_block:
                    previous = next((l for l in reversed(lines[: number - 1]) if l.strip()), "")
                    marker = MARKER.match(previous.strip())
                in_block, current = not in_block, None
                continue
            if not in_block:
                continue
            if line.startswith("$ "):
                current = None
                if line.startswith("$ certifi-native"):
                    current = Example(
                        f"{doc.relative_to(ROOT)}:{number}",
                        line[2:],
                        scenario=marker.group("scenario") if marker else None,
                        not_run=marker.group("reason") if marker else None,
                    )
                    found.append(current)
            elif current is not None:
                current.output.append(line)
    return found


# --- the shape of an output ---------------------------------------------------------

_ROW = re.compile(r"^(ok|FAIL)\s+(.+?) \[(.*?)\]: ")
_SEVERITY = re.compile(r"^(ERROR|WARNING|NOTE) \[(\w+)\]")
_RESULT = re.compile(r"^Result: (\S+ here (?:verifies|does NOT verify))")
_HEX = re.compile(r"[0-9a-f]{6,}")


def _row_name(label: str) -> str:
    """`certifi 2017.4.17` -> `certifi`; `REQUESTS_CA_BUNDLE (/p)` -> `REQUESTS_CA_BUNDLE`."""
    name = label.split(" (", 1)[0].split(",", 1)[0]
    return re.sub(r" [\d.]+(\.post\d+)?$", "", name)


# Lines whose label is built from parts of them: a row (its verdict, name and
# readers), a diagnosis (its severity and kind), the result (its verdict).
_LABELLED: List[Tuple["re.Pattern[str]", Callable[["re.Match[str]"], str]]] = [
    (_ROW, lambda m: f"{m.group(1)} {_row_name(m.group(2))} [{m.group(3)}]"),
    (_SEVERITY, lambda m: f"{m.group(1)} [{m.group(2)}]"),
    (_RESULT, lambda m: f"Result: {m.group(1)}"),
]


def label(line: str) -> Optional[str]:
    """What of a line must match between the docs and a real run (None: nothing)."""
    text = line.strip()
    if not text:
        return None
    if text in ("…", "..."):
        return "…"
    if re.fullmatch(r"\[exit \d+\]", text):
        return None  # the exit code is compared on its own
    text = re.sub(r"\s*\[exit \d+\]$", "", text)
    for pattern, render in _LABELLED:
        matched = pattern.match(text)
        if matched:
            return render(matched)
    if text.startswith("/"):  # a path: its file name's shape (hex runs by length)
        return "path " + _HEX.sub(lambda m: f"<hex{len(m.group(0))}>", text.rsplit("/", 1)[-1])
    if re.match(r"^\[\d+\] ", text):
        return "[n]"
    for start in ("certifi-native check", "The server sends", "issued by", "valid", "SHA-256", "Python", "fix:"):
        if text.startswith(start):
            return start
    if text.startswith("Client: "):
        return "Client: " + text.split()[1]
    key = re.match(r"^([\w-]+(?: [\w'-]+)*?)(?: \[[^\]]*\])?:", text)
    return f"{key.group(1)}:" if key else text.split()[0]


def shape(lines: List[str]) -> List[str]:
    """The labels of ``lines``, runs of one label collapsed (a store has any number of sources)."""
    out: List[str] = []
    for line in lines:
        found = label(line)
        if found is not None and (not out or out[-1] != found):
            out.append(found)
    return out


def matches(documented: List[str], actual: List[str]) -> bool:
    """Whether ``actual`` is ``documented`` with each `…` standing for any labels."""
    if not documented:
        return not actual
    head, rest = documented[0], documented[1:]
    if head == "…":
        return any(matches(rest, actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and actual[0] == head and matches(rest, actual[1:])


def test_shape_reads_labels_not_values() -> None:
    assert shape(["  FAIL certifi 2017.4.17 [no client here reads it]: 154 roots in /x; OpenSSL: y"]) == [
        "FAIL certifi [no client here reads it]"
    ]
    assert shape(["source:  system: 1", "source:  mozilla: 2", "  ERROR [unknown_root] The root"]) == [
        "source:", "ERROR [unknown_root]",
    ]
    assert shape(["/home/me/.cache/certifi-native/cacert-system-1a2b3c4d.capath"]) != shape(
        ["/tmp/x/cacert-system-1a2b3c4d5e6f7a8b.capath"]
    )
    assert matches(["a:", "…", "c:"], ["a:", "b:", "x:", "c:"]) and not matches(["a:", "c:"], ["a:", "b:", "c:"])


# --- the scenarios -------------------------------------------------------------------------

Scenario = Callable[[Path], "contextlib.AbstractContextManager[Tuple[str, Dict[str, str]]]"]


def _roots(tmp: Path) -> Tuple[trustme.CA, trustme.CA, Path]:
    root = trustme.CA(organization_name="Example Corp Root CA")
    intermediate = trustme.CA(parent_cert=root, organization_name="Example Corp Issuing CA")
    extra = tmp / "company-root.pem"
    extra.write_bytes(root.cert_pem.bytes())
    return root, intermediate, extra


@contextlib.contextmanager
def company_root(tmp: Path) -> Iterator[Tuple[str, Dict[str, str]]]:
    """A company root trusted by certifi-native (an extra CA file); the server sends its intermediate."""
    _, intermediate, extra = _roots(tmp)
    with https_server(intermediate.issue_cert("localhost")) as url:
        yield url, {"CERTIFI_NATIVE_EXTRA_CA_CERTS": str(extra)}


@contextlib.contextmanager
def leaf_only(tmp: Path) -> Iterator[Tuple[str, Dict[str, str]]]:
    """As ``company-root``, but the server sends only its own certificate."""
    _, intermediate, extra = _roots(tmp)
    with https_server(intermediate.issue_cert("localhost"), send_chain=False) as url:
        yield url, {"CERTIFI_NATIVE_EXTRA_CA_CERTS": str(extra)}


@contextlib.contextmanager
def stale_requests_bundle(tmp: Path) -> Iterator[Tuple[str, Dict[str, str]]]:
    """As ``company-root``, with REQUESTS_CA_BUNDLE exported long ago: a file without the root."""
    _, intermediate, extra = _roots(tmp)
    old = tmp / "old-bundle.pem"
    old.write_bytes(trustme.CA(organization_name="Old Root CA").cert_pem.bytes())
    with https_server(intermediate.issue_cert("localhost")) as url:
        yield url, {"CERTIFI_NATIVE_EXTRA_CA_CERTS": str(extra), "REQUESTS_CA_BUNDLE": str(old)}


SCENARIOS: Dict[str, Scenario] = {
    "company-root": company_root,
    "leaf-only": leaf_only,
    "stale-requests-bundle": stale_requests_bundle,
}


@contextlib.contextmanager
def no_server(tmp: Path) -> Iterator[Tuple[str, Dict[str, str]]]:
    yield "", {}


# --- the check -----------------------------------------------------------------------------

EXAMPLES = examples()


def test_the_docs_have_examples() -> None:
    assert len(EXAMPLES) >= 5, [e.where for e in EXAMPLES]


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.where for e in EXAMPLES])
def test_doc_example_runs_as_shown(example: Example, tmp_path: Path) -> None:
    if example.not_run is not None:
        pytest.skip(f"{example.where}: marked not run: {example.not_run}")
    if example.scenario is not None and example.scenario not in SCENARIOS:
        pytest.fail(f"{example.where}: unknown scenario {example.scenario!r} (known: {', '.join(SCENARIOS)})")
    command = example.command.split(" #", 1)[0].strip()
    if URL.search(command) and example.scenario is None:
        pytest.fail(f"{example.where}: {command!r} needs a server: add <!-- docs-check: scenario NAME --> above its block")
    if example.scenario is not None and sys.version_info < (3, 10):
        # The docs show what check says with the whole chain (test_check.py skips the same cases).
        pytest.skip(f"{example.where}: Python 3.9 cannot capture the chain a server sends")
    scenario = SCENARIOS[example.scenario] if example.scenario else no_server
    script = Path(sys.executable).parent / "certifi-native"
    with scenario(tmp_path) as (url, extra):
        argv = [str(script), *shlex.split(URL.sub(url, command))[1:]]
        proc = run(argv, clean_env(tmp_path / "home", **extra), check=False)
    assert proc.returncode == example.exit_code, f"{example.where}: {command}\n{proc.stdout}{proc.stderr}"
    documented = shape(example.output)
    if documented:
        actual = shape(proc.stdout.splitlines() + proc.stderr.splitlines())
        assert matches(documented, actual), (
            f"{example.where}: {command}: the output's shape differs from the docs'\n"
            f"docs: {documented}\nreal: {actual}\n--- real output\n{proc.stdout}{proc.stderr}"
        )
