"""Many threads at once: where(), capath(), refresh() and settings changes from
8 threads, every answer a complete file. With the GIL this checks that nothing
relies on calls never overlapping in Python code; on a free-threaded build
(the module declares it needs no GIL) the calls truly run at once, and the GIL
must stay off after the import."""

from __future__ import annotations

import json
import sys
import sysconfig
from pathlib import Path

import trustme

from conftest import run, write_pem

# Run in a fresh interpreter: the expected bundles first, one thread at a time,
# then 8 threads started together. Each answer is checked where it is got: the
# file exists, OpenSSL loads it, and it holds exactly one of the expected sets
# (a partial or mixed file fails). Prints a JSON summary.
HAMMER = r"""
import json, os, re, ssl, sys, threading, base64
import certifi_native as c

EXTRA = "CERTIFI_NATIVE_EXTRA_CA_CERTS"
extra_file, rounds = sys.argv[1], int(sys.argv[2])
BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)

def ders(data):
    return frozenset(base64.b64decode(b"".join(b.split())) for b in BLOCK.findall(data))

def bundle_set(path):
    with open(path, "rb") as f:
        data = f.read()
    if not data.endswith(b"-----END CERTIFICATE-----\n"):
        raise AssertionError("%s does not end with a whole certificate" % path)
    ssl.create_default_context(cafile=path)  # OpenSSL loads it, or this raises
    return ders(data)

def folder_set(folder):
    names = [n for n in os.listdir(folder) if re.fullmatch(r"[0-9a-f]{8}\.[0-9]+", n)]
    found = set()
    for name in names:
        with open(os.path.join(folder, name), "rb") as f:
            found |= ders(f.read())
    return frozenset(found)

os.environ.pop(EXTRA, None)
plain = bundle_set(c.where())
os.environ[EXTRA] = extra_file
with_extra = bundle_set(c.where())
assert with_extra != plain, "the extra CA made no difference"
expected = {plain: "plain", with_extra: "with extra"}

errors, seen = [], {"where": 0, "capath": 0, "refresh": 0, "settings": 0}
lock = threading.Lock()
start = threading.Barrier(8)

def check(kind, path):
    if kind == "capath":
        if not os.path.isdir(path):
            raise AssertionError("capath() %s is not a folder" % path)
        got, bundle = folder_set(path), os.path.splitext(path)[0] + ".pem"
        if got != bundle_set(bundle):
            raise AssertionError("capath() %s does not hold its bundle's roots" % path)
    else:
        got = bundle_set(path)
    if got not in expected:
        raise AssertionError("%s() gave %s with %d roots, neither expected set" % (kind, path, len(got)))

def worker(kind):
    start.wait()
    for i in range(rounds):
        try:
            if kind == "settings":
                if i % 2:
                    os.environ[EXTRA] = extra_file
                else:
                    os.environ.pop(EXTRA, None)
            elif kind == "refresh":
                c.refresh()
                check("where", c.where())
            elif kind == "capath":
                check("capath", c.capath())
            else:
                check("where", c.where())
        except Exception as error:
            with lock:
                errors.append("%s: %s: %s" % (kind, type(error).__name__, error))
        with lock:
            seen[kind] += 1

kinds = ["where", "where", "where", "capath", "capath", "refresh", "refresh", "settings"]
threads = [threading.Thread(target=worker, args=(k,)) for k in kinds]
for t in threads:
    t.start()
for t in threads:
    t.join()
gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
print(json.dumps({"errors": errors[:20], "error_count": len(errors), "seen": seen, "gil_enabled": gil,
                  "sets": sorted(expected.values())}))
"""


def test_eight_threads_get_complete_files(tmp_path: Path, env: dict[str, str]) -> None:
    extra = write_pem(tmp_path / "extra.pem", trustme.CA(organization_name="threads test CA").cert_pem.bytes())
    rounds = 12
    result = json.loads(run([sys.executable, "-X", "faulthandler", "-c", HAMMER, extra, str(rounds)], env, timeout=600).stdout)
    assert result["error_count"] == 0, result["errors"]
    assert result["seen"] == {"where": 3 * rounds, "capath": 2 * rounds, "refresh": 2 * rounds, "settings": rounds}
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        # Importing a module that does not declare gil_used = false turns the GIL back on.
        assert result["gil_enabled"] is False, "importing certifi_native re-enabled the GIL"
