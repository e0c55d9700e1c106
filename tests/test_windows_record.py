"""The start-up record's registry lines (Windows), replayed in pure Python.

No Windows Python runs here, so the registry is a stand-in for ``winreg``
with the same calls and answers (``OpenKey`` as a context manager raising
``OSError`` for a missing key, ``QueryInfoKey`` giving subkeys, values and the
last-write FILETIME): the one place the test suite uses a stand-in. The lines
are the ones core/src/registry.rs writes; the wine stage checks that side.
"""

from __future__ import annotations

import os
import sys
import time
import types
from pathlib import Path
from typing import Iterator, Optional

import pytest

import certifi_native_hook as _hook

ROOT_STORE = r"HKLM\SOFTWARE\Microsoft\SystemCertificates\Root\Certificates"
USER_ROOT_STORE = r"HKCU\SOFTWARE\Microsoft\SystemCertificates\Root\Certificates"
AUTHROOT_LIST = r"HKLM\SOFTWARE\Microsoft\SystemCertificates\AuthRoot\AutoUpdate"


class Registry:
    """A stand-in for ``winreg``: keys by (hive, name) -> (subkeys, values, last write)."""

    HKEY_LOCAL_MACHINE = 0x80000002
    HKEY_CURRENT_USER = 0x80000001

    def __init__(self) -> None:
        self.keys: dict[tuple[int, str], tuple[int, int, int]] = {}
        self.opened: list[str] = []

    def set(self, key: str, info: Optional[tuple[int, int, int]]) -> None:
        hive, _, name = key.partition("\\")
        handle = (self.HKEY_LOCAL_MACHINE if hive == "HKLM" else self.HKEY_CURRENT_USER, name)
        if info is None:
            self.keys.pop(handle, None)
        else:
            self.keys[handle] = info

    def OpenKey(self, root: int, name: str) -> "Key":  # noqa: N802 (winreg's names)
        self.opened.append(name)
        if (root, name) not in self.keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return Key(self.keys[(root, name)])

    def QueryInfoKey(self, key: "Key") -> tuple[int, int, int]:  # noqa: N802
        return key.info


class Key:
    def __init__(self, info: tuple[int, int, int]) -> None:
        self.info = info

    def __enter__(self) -> "Key":
        return self

    def __exit__(self, *_: object) -> None:
        pass


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    stand_in = Registry()
    module = types.ModuleType("winreg")
    for name in ("HKEY_LOCAL_MACHINE", "HKEY_CURRENT_USER", "OpenKey", "QueryInfoKey"):
        setattr(module, name, getattr(stand_in, name))
    monkeypatch.setitem(sys.modules, "winreg", module)
    for name in [n for n in os.environ if n.startswith("CERTIFI_NATIVE_")]:
        monkeypatch.delenv(name)
    yield stand_in





def record(bundle: Path, *reg_lines: str) -> list[str]:
    """A record as core/src/record.rs writes it (the stamp copied at its end)."""
    from certifi_native import _activate

    # Every variable record.rs always writes, with this process's values (a complete record).
    settings = [f"env {name}={os.environ.get(name, '')}" for name in _hook._ALWAYS_RECORDED]
    return [
        "certifi-native startup-record 1",
        *settings,
        f"path {bundle}",
        f"certifi-native 0.1.0 built-at {int(time.time()) - 60} valid-until {int(time.time()) + 3600}",
        *reg_lines,
        f"bundle {_activate._fingerprint(str(bundle), regular_only=True)}",
    ]


def test_registry_lines_hit_while_the_keys_are_unchanged_and_miss_after(registry: Registry, tmp_path: Path) -> None:
    from certifi_native import _activate

    bundle = tmp_path / "cacert-system-0123456789abcdef.pem"
    bundle.write_text("bundle")
    registry.set(ROOT_STORE, (150, 0, 134405889313170590))
    registry.set(AUTHROOT_LIST, (0, 1, 134405889400000000))
    lines = record(
        bundle,
        # As the wine run wrote them (core/src/roots/windows.rs watches 16 keys).
        rf"reg 150:0:134405889313170590 {ROOT_STORE}",
        rf"reg missing {USER_ROOT_STORE}",
        rf"reg 0:1:134405889400000000 {AUTHROOT_LIST}",
    )
    assert _activate._replay(lines) == str(bundle)
    assert registry.opened == [name.partition("\\")[2] for name in (ROOT_STORE, USER_ROOT_STORE, AUTHROOT_LIST)]

    registry.set(ROOT_STORE, (151, 0, 134405889500000000))  # certutil -addstore Root
    assert _activate._replay(lines) is None
    registry.set(ROOT_STORE, (150, 0, 134405889313170590))
    assert _activate._replay(lines) == str(bundle)

    registry.set(USER_ROOT_STORE, (1, 0, 134405889600000000))  # the user's store appears
    assert _activate._replay(lines) is None
    registry.set(USER_ROOT_STORE, None)

    registry.set(AUTHROOT_LIST, (0, 1, 134405889700000000))  # Windows cached a new list
    assert _activate._replay(lines) is None
    registry.set(AUTHROOT_LIST, None)  # or removed it
    assert _activate._replay(lines) is None


def test_odd_registry_lines_miss_and_never_raise(registry: Registry, tmp_path: Path) -> None:
    from certifi_native import _activate

    bundle = tmp_path / "cacert-system-0123456789abcdef.pem"
    bundle.write_text("bundle")
    registry.set(ROOT_STORE, (150, 0, 1))
    for line in ("reg", "reg 150:0:1", r"reg 150:0:1 HKCR\Something"):
        assert _activate._replay(record(bundle, line)) is None, line
    # An unknown hive reads as missing, as registry.rs reads it.
    assert _activate._replay(record(bundle, r"reg missing HKCR\Something")) == str(bundle)


def test_without_winreg_a_registry_line_is_a_miss(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from certifi_native import _activate

    monkeypatch.setitem(sys.modules, "winreg", None)  # import winreg raises ImportError
    bundle = tmp_path / "cacert-system-0123456789abcdef.pem"
    bundle.write_text("bundle")
    assert _activate._replay(record(bundle, f"reg 150:0:1 {ROOT_STORE}")) is None
