"""CA certificates appended to certifi's own ``cacert.pem``, carried into ours.

Before certifi-native was installed, the TLS-inspection recipe
``cat corp-root.pem >> "$(python -m certifi)"`` appended to certifi's file;
a start-up hook that runs before ours (a ``.pth`` file whose name sorts
first) appends there too. Pointing certifi at our bundle would drop
those CAs. So when certifi is pointed, the text after certifi's file as
installed (its size and SHA-256 in certifi's RECORD) is appended to the
bundle we serve, the way the recipe appends: the core then keeps what passes
its judging and reports it in ``info()`` (core/src/appended.rs). A file
changed otherwise, or without a RECORD (a distribution's certifi), is left
to itself.
"""

import base64
import hashlib
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import List, Optional, Tuple

BEGIN = b"-----BEGIN CERTIFICATE-----"
END = b"-----END CERTIFICATE-----"
# Far above certifi's file (300 KB); what a bundle never needs.
MAX_BYTES = 16 << 20


def carry(certifi: "ModuleType", served: str, packaged: str) -> "Optional[str]":
    """Appends to ``served`` the certificates appended to certifi's file that
    ``served`` lacks. What happened, for status(); None when nothing was
    appended to certifi's file."""
    appended = certificates(appended_text(certifi))
    if not appended:
        return None
    told = f"{len(appended)} certificate(s) appended to certifi's cacert.pem"
    if os.path.realpath(served) == os.path.realpath(packaged):
        return f"{told} not carried: the packaged file is served (no cache folder could be written)"
    with open(served, "rb") as bundle:
        held = {_body(block) for block in certificates(bundle.read(MAX_BYTES))}
    missing = [block for block in appended if _body(block) not in held]
    if missing:
        with open(served, "ab") as bundle:
            bundle.write(b"".join(b"\n" + block + b"\n" for block in missing))
    return f"{told} carried into {served} ({len(missing)} appended now; info() tells what was kept)"


def appended_text(certifi: "ModuleType") -> bytes:
    """The bytes after certifi's ``cacert.pem`` as its RECORD says it was
    installed; b"" when none, or when its installed text itself was changed."""
    package = os.path.dirname(os.path.abspath(certifi.__file__ or ""))
    recorded = _recorded(os.path.dirname(package), os.path.basename(package) + "/cacert.pem", certifi)
    if recorded is None:
        return b""
    size, digest = recorded
    path = os.path.join(package, "cacert.pem")
    if os.stat(path).st_size <= size:
        return b""
    with open(path, "rb") as installed:
        data = installed.read(MAX_BYTES)
    if base64.urlsafe_b64encode(hashlib.sha256(data[:size]).digest()).rstrip(b"=").decode() != digest:
        return b""
    return data[size:]


def _recorded(site: str, row_path: str, certifi: "ModuleType") -> "Optional[Tuple[int, str]]":
    """The size and urlsafe-base64 SHA-256 of ``row_path`` in certifi's RECORD
    in ``site``: its own version's folder when there is one (this runs at each
    import of certifi: no listing of site-packages then), else any certifi one."""
    own = f"certifi-{getattr(certifi, '__version__', '')}.dist-info"
    entries = [own] if os.path.isdir(os.path.join(site, own)) else os.listdir(site)
    for entry in entries:
        if not (entry.startswith("certifi-") and entry.endswith(".dist-info")):
            continue
        try:
            with open(os.path.join(site, entry, "RECORD"), encoding="utf-8") as record:
                rows = record.read(1 << 20).splitlines()
        except OSError:
            continue
        for row in rows:
            path, _, rest = row.partition(",")
            algorithm_digest, _, size = rest.partition(",")
            if path == row_path and algorithm_digest.startswith("sha256=") and size.isdigit():
                return int(size), algorithm_digest[len("sha256="):]
    return None


def certificates(text: bytes) -> "List[bytes]":
    """The PEM certificate blocks of ``text``, BEGIN to END lines included."""
    blocks = []
    start = text.find(BEGIN)
    while start != -1:
        end = text.find(END, start)
        if end == -1:
            break
        blocks.append(text[start:end + len(END)])
        start = text.find(BEGIN, end)
    return blocks


def _body(block: bytes) -> bytes:
    """A block's base64 without line ends, so CRLF and LF copies compare equal."""
    return b"".join(block[len(BEGIN):-len(END)].split())
