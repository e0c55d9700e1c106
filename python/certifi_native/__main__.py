"""``python -m certifi_native``: print where() (as certifi does), or the bundle, or a report."""

import argparse
import json
import os
import sys
from typing import Any, Dict, List, NoReturn, Optional

from . import build, capath, contents, info, where


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One clear line instead of argparse's usage block.
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="certifi-native",
        description="With no command, print the path of the CA bundle, like `python -m certifi`.",
    )
    parser.add_argument(
        "-c", "--contents", action="store_true", help="print the bundle's contents instead of its path"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    info_cmd = commands.add_parser("info", help="explain what the bundle holds and why")
    info_cmd.add_argument("--json", action="store_true", help="print the report as JSON")
    commands.add_parser("capath", help="print the path of the hashed CA folder (OpenSSL's CApath layout)")
    build_cmd = commands.add_parser("build", help="build the bundle now and print its path (for read-only images)")
    build_cmd.add_argument("--cache-dir", metavar="DIR", help="build in DIR alone, readable by all (see docs/cache.md)")
    check_cmd = commands.add_parser("check", help="explain why a server's certificate does or does not verify")
    check_cmd.add_argument("url", help="https://host[:port] (the scheme may be left out)")
    check_cmd.add_argument("--json", action="store_true", help="print the report as JSON (schema: docs/check.md)")
    check_cmd.add_argument(
        "--timeout", type=seconds, default=10.0, metavar="S", help="seconds allowed per connection (default 10)"
    )
    return parser


def seconds(text: str) -> float:
    """A positive number of seconds (argparse names this function in its error)."""
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


def _check(url: str, as_json: bool, timeout: float) -> int:
    """`check`: the report, or one line on stderr when no TLS connection can be made."""
    from ._check import CheckError, check, error_dict  # imported on use: the plain CLI stays lean

    try:
        report = check(url, timeout)
    except CheckError as err:
        if as_json:
            print(json.dumps(error_dict(url, err), indent=2, sort_keys=True))
        else:
            print(f"certifi-native check: {err.message}", file=sys.stderr)
        return err.exit_code
    print(json.dumps(report.as_dict(), indent=2, sort_keys=True) if as_json else report)
    return report.exit_code


def _summary(report: Dict[str, Any]) -> str:
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
    lines.extend(f"dropped: [{d['source']}] {d['reason']}: {d['subject'] or d['sha256']}" for d in report["dropped"])
    lines.extend(f"error:   [{e['source']}] {e['reason']}" for e in report["errors"])
    lines.extend(f"note:    {note}" for note in report["notes"])
    lines.extend(f"repair:  {line}" for line in report["repairs"])
    if cache["degraded"]:
        lines.append(f"DEGRADED: {cache['degraded_reason']}")
    lines.extend(f"refused: {why}" for why in cache["refused"])
    lines.extend(_activation(report["activation"]))
    return "\n".join(lines)


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


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check":
        return _check(args.url, args.json, args.timeout)
    if args.command == "info":
        report = info()
        _print_os_text(json.dumps(report, indent=2, sort_keys=True) if args.json else _summary(report))
    elif args.command == "capath":
        _print_os_text(capath())
    elif args.command == "build":
        try:
            _print_os_text(build(args.cache_dir))
        except OSError as err:
            print(f"certifi-native build: {err}", file=sys.stderr)
            return 1
    elif args.contents:
        sys.stdout.write(contents())
    else:
        _print_os_text(where())
    return 0


if __name__ == "__main__":
    sys.exit(main())
