"""``python -m certifi_native``: print where() (as certifi does), or the bundle, or a report.

Each subcommand is one entry of ``COMMANDS``: its help, a function adding its
arguments, and a function running it (returning the exit code)."""

import argparse
import json
import math
import os
import sys
from typing import Any, Callable, Dict, List, NoReturn, Optional, Tuple

from . import build, capath, contents, info, where


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One clear line instead of argparse's usage block.
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


# --- info ------------------------------------------------------------------------


def _info_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the report as JSON (every drop listed)")
    parser.add_argument("--all", action="store_true", help="list every drop, duplicates included, one line each")


def _run_info(args: argparse.Namespace) -> int:
    report = info()
    _print_os_text(json.dumps(report, indent=2, sort_keys=True) if args.json else _summary(report, args.all))
    return 0


def _summary(report: Dict[str, Any], every_drop: bool = False) -> str:
    cache = report["cache"]
    lines: List[str] = [
        f"certifi-native {report['version']} (Mozilla set: webpki-root-certs {report['mozilla_set_version']})",
        f"bundle:  {cache['path']}",
        f"capath:  {cache['capath'] or '-'}" + ("" if cache["capath_built"] else " (not built yet)"),
        f"roots:   {report['roots']} (mode {report['mode']}"
        + (", the OS store was empty: Mozilla fallback" if report["mozilla_fallback"] else "")
        + ")",
    ]
    for source in report["sources"]:
        lines.append(
            f"source:  {source['label']}: {source['loaded']} loaded, {source['kept']} kept, "
            f"{source['dropped']} dropped, {source['errors']} errors"
        )
    lines.extend(_drop_lines(report["dropped"], every_drop))
    lines.extend(f"error:   [{e['source']}] {e['reason']}" for e in report["errors"])
    lines.extend(f"note:    {note}" for note in report["notes"])
    lines.extend(f"repair:  {line}" for line in report.get("repairs", ()))
    if cache["degraded"]:
        lines.append(f"DEGRADED: {cache['degraded_reason']}")
    lines.extend(f"refused: {why}" for why in cache["refused"])
    lines.extend(_activation(report["activation"]))
    return "\n".join(lines)


def _drop_lines(dropped: List[Dict[str, Any]], every_drop: bool) -> List[str]:
    """One line per drop, except that drops of one source for the very same
    reason (merged mode's duplicates) are one line with their count, unless ``every_drop``."""
    groups: Dict[Tuple[str, str], List[Dict[str, Any]]] = {}
    for drop in dropped:
        groups.setdefault((drop["source"], drop["reason"]), []).append(drop)
    lines = []
    for (source, reason), drops in groups.items():
        if len(drops) > 1 and not every_drop:
            lines.append(f"dropped: [{source}] {reason}: {len(drops)} roots (info --all lists each)")
            continue
        lines.extend(f"dropped: [{source}] {reason}: {d['subject'] or d['sha256']}" for d in drops)
    return lines


def _activation(done: Dict[str, Any]) -> List[str]:
    """What the start-up hook did in this interpreter (see _activate.py)."""
    if not done["ran"]:
        return [f"activation: did not run: {done['why']}"]
    lines = [f"activation: ran at start-up (CERTIFI_NATIVE_AUTO={done['auto'] or 'unset'})"]
    lines.extend(f"  {label}: {done[key]}" for key, label in _ACTIVATION_PARTS if key in done)
    if done["bundle_from"]:
        lines.append(f"  bundle path from: the {done['bundle_from']}")
    if done["error"]:
        lines.append(f"  ERROR: {done['error']}")
    return lines


_ACTIVATION_PARTS = (
    ("requests_ca_bundle", "REQUESTS_CA_BUNDLE"),
    ("certifi", "certifi"),
    ("certifi_appended", "certifi's cacert.pem"),
    ("session_verify", "requests"),
)


def _print_os_text(text: str) -> None:
    """A line that may hold paths as the OS gives them: a non-UTF-8 name
    (surrogate-escaped in ``str``) is written back as its own bytes instead
    of making the encoder raise."""
    out = getattr(sys.stdout, "buffer", None)
    if out is None:  # a text-only stand-in for stdout
        print(text)
        return
    encoding = sys.stdout.encoding or "utf-8"
    try:
        data = (text + "\n").encode(encoding, "surrogateescape")
    except UnicodeEncodeError:  # a character the terminal's encoding lacks
        data = (text + "\n").encode(encoding, "backslashreplace")
    sys.stdout.flush()
    out.write(data)
    sys.stdout.flush()


# --- capath, build ---------------------------------------------------------------


def _run_capath(args: argparse.Namespace) -> int:
    _print_os_text(capath())
    return 0


def _build_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache-dir", metavar="DIR", help="build in DIR alone, readable by all (see docs/cache.md)")


def _run_build(args: argparse.Namespace) -> int:
    try:
        _print_os_text(build(args.cache_dir))
    except OSError as err:
        print(f"certifi-native build: {err}", file=sys.stderr)
        return 1
    return 0


# --- check -----------------------------------------------------------------------

CLIENTS = ("requests", "httpx", "urllib", "ssl")
MAX_TIMEOUT = 86400.0


def seconds(text: str) -> float:
    """A positive, finite number of seconds, at most a day (argparse names this function in its error)."""
    value = float(text)
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
        raise ValueError(text)
    return value


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="https://host[:port] (the scheme may be left out)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (schema: docs/check.md)")
    parser.add_argument(
        "--client",
        choices=CLIENTS,
        default="requests",
        help="whose rules pick the bundle that decides the verdict (default requests)",
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=10.0,
        metavar="S",
        help="seconds the whole check may take, all its connections together (default 10)",
    )


def _run_check(args: argparse.Namespace) -> int:
    """`check`: the report, or one line on stderr when no TLS connection can be made."""
    from ._check import CheckError, check, error_dict  # imported on use: the plain CLI stays lean

    try:
        report = check(args.url, args.timeout, args.client)
    except CheckError as err:
        if args.json:
            print(json.dumps(error_dict(args.url, err), indent=2, sort_keys=True))
        else:
            print(f"certifi-native check: {err.message}", file=sys.stderr)
        return err.exit_code
    print(json.dumps(report.as_dict(), indent=2, sort_keys=True) if args.json else report)
    return report.exit_code


# --- the command line --------------------------------------------------------------

Command = Tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


# name -> (help, add its arguments, run it)
COMMANDS: Dict[str, Command] = {
    "info": ("explain what the bundle holds and why", _info_arguments, _run_info),
    "capath": ("print the path of the hashed CA folder (OpenSSL's CApath layout)", _no_arguments, _run_capath),
    "build": ("build the bundle now and print its path (for read-only images)", _build_arguments, _run_build),
    "check": ("explain why a server's certificate does or does not verify", _check_arguments, _run_check),
}


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="certifi-native",
        description="With no command, print the path of the CA bundle, like `python -m certifi`.",
    )
    parser.add_argument(
        "-c", "--contents", action="store_true", help="print the bundle's contents instead of its path"
    )
    parser.add_argument(
        "--version", action="store_true", help="print our version, the Mozilla set's, and the Python and OpenSSL in use"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (text, add_arguments, _) in COMMANDS.items():
        add_arguments(commands.add_parser(name, help=text, description=text))
    return parser


def _version() -> str:
    import ssl

    from . import __version__

    try:
        from . import _native

        mozilla = f"webpki-root-certs {_native.MOZILLA_SET_VERSION}"
    except ImportError as error:
        mozilla = f"unknown: the native module cannot be loaded ({error})"
    return "\n".join(
        [
            f"certifi-native {__version__}",
            f"Mozilla set: {mozilla}",
            f"Python {sys.version.split()[0]} ({sys.executable}), {ssl.OPENSSL_VERSION}",
        ]
    )


def main(argv: Optional[List[str]] = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    alone = [flag for flag, given in (("-c/--contents", args.contents), ("--version", args.version)) if given]
    if len(alone) > 1 or (alone and args.command):
        parser.error(f"{alone[0]} goes alone: not with {alone[1] if len(alone) > 1 else args.command}")
    try:
        if args.command:
            code = COMMANDS[args.command][2](args)
        else:
            # A trailing newline after the bundle too, as `python -m certifi -c` prints it.
            _print_os_text(_version() if args.version else contents() if args.contents else where())
            code = 0
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left (`| head`): what it wanted it has. Quiet, and no
        # second error when Python flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
