"""certifi parity: the two functions, the CLI, and the typing marker."""

from __future__ import annotations

import sys
from pathlib import Path

import certifi_native
from conftest import run, run_py


def test_imported_from_the_installed_wheel() -> None:
    assert "site-packages" in certifi_native.__file__, certifi_native.__file__


def test_where_is_an_absolute_existing_bundle(env: dict[str, str]) -> None:
    out = run_py("import certifi_native as c; print(c.where()); print(len(c.contents()))", env).stdout.split()
    path = Path(out[0])
    assert path.is_absolute() and path.is_file()
    text = path.read_text("ascii")
    assert int(out[1]) == len(text)
    assert "-----BEGIN CERTIFICATE-----" in text
    assert text.endswith("-----END CERTIFICATE-----\n")
    if sys.platform.startswith("linux"):  # the XDG cache folder; macOS and Windows have their own
        assert str(path).startswith(env["XDG_CACHE_HOME"])


def test_cli_matches_the_api(env: dict[str, str]) -> None:
    where = run([sys.executable, "-m", "certifi_native"], env).stdout
    assert where == run_py("import certifi_native as c; print(c.where())", env).stdout
    shown = run([sys.executable, "-m", "certifi_native", "-c"], env).stdout
    assert shown == Path(where.strip()).read_text("ascii") + "\n"  # print()ed, as `python -m certifi -c` does


def test_py_typed_and_stub_ship() -> None:
    package = Path(certifi_native.__file__).parent
    assert (package / "py.typed").is_file()
    assert (package / "_native.pyi").is_file()


def test_bad_arguments_give_one_line_and_exit_2(env: dict[str, str]) -> None:
    proc = run([sys.executable, "-m", "certifi_native", "--bogus"], env, check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--bogus" in proc.stderr
    assert proc.stdout == ""
