"""The in-process half of the benchmark: runs inside one variant's venv, in
the scrubbed environment and the private OS store that run.py set up, and
prints JSON on stdout.

    python worker.py probe VARIANT            what this venv holds (versions, features, bundle sizes)
    python worker.py measure SPEC_JSON        the clients' figures, {figure: [[wall, cpu], ...] | {"na"|"error": why}}

Each variant gets a verifying client the way its own documentation says
(see ``Recipe``); the code timed around it is the same for all.
"""

from __future__ import annotations

import json
import os
import ssl
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

# The distributions whose versions the results record.
DISTRIBUTIONS = (
    "certifi",
    "certifi-native",
    "truststore",
    "pip-system-certs",
    "certifi-linux",
    "requests",
    "urllib3",
    "httpx",
    "httpcore",
    "aiohttp",
    "botocore",
)


class NotInBuild(Exception):
    """The certifi-native wheel under test lacks the function a row needs."""


def native_function(name: str) -> Callable[[], Any]:
    import certifi_native

    function = getattr(certifi_native, name, None)
    if function is None:
        raise NotInBuild(f"certifi_native.{name}() is not in this build")
    return function  # type: ignore[no-any-return]


class Recipe:
    """certifi's way: requests and httpx default to ``certifi.where()``
    (run.py appended the test CA to this venv's copy of certifi's bundle)."""

    # The "installed" rows: None runs each client's defaults; the floor names
    # a file holding only the test CA.
    one_root: Optional[str] = None

    def setup(self) -> None:
        pass

    def context(self) -> ssl.SSLContext:
        """A new verifying client context, as an application makes one."""
        import certifi

        return ssl.create_default_context(cafile=certifi.where())

    def requests_verify(self) -> Dict[str, Any]:
        """Keyword arguments for ``requests.get``: none means requests' default."""
        return {}

    def httpx_verify(self) -> Any:
        return True


class NativeFile(Recipe):
    """certifi-native's bundle file, passed explicitly (the start-up hook,
    where present, makes the defaults do the same)."""

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=native_function("where")())

    def requests_verify(self) -> Dict[str, Any]:
        return {"verify": native_function("where")()}

    def httpx_verify(self) -> Any:
        return self.context()


class NativeCapath(Recipe):
    """certifi-native's fast path: the hashed folder for requests, ``ssl_context()`` elsewhere."""

    def context(self) -> ssl.SSLContext:
        context: ssl.SSLContext = native_function("ssl_context")()
        return context

    def requests_verify(self) -> Dict[str, Any]:
        return {"verify": native_function("capath")()}

    def httpx_verify(self) -> Any:
        return self.context()


class Truststore(Recipe):
    """``truststore.inject_into_ssl()`` before the clients are imported, then their defaults."""

    def setup(self) -> None:
        import truststore

        truststore.inject_into_ssl()

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context()


class SystemContext(Recipe):
    """pip-system-certs: its start-up hook injects truststore; the clients' defaults."""

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context()


class Floor(Recipe):
    """The floor: every client given a file holding only the one root the chain needs."""

    def __init__(self, one_root: str) -> None:
        self.one_root = one_root


RECIPES: Dict[str, Callable[[], Recipe]] = {
    "certifi": Recipe,
    "cn-file": NativeFile,
    "cn-capath": NativeCapath,
    "truststore": Truststore,
    "pip-system-certs": SystemContext,
    # certifi-linux patches certifi.where() to name the OS bundle: certifi's way.
    "certifi-linux": Recipe,
}


def timed(call: Callable[[], object], count: int) -> List[Tuple[float, float]]:
    """One untimed warm-up call (it also checks that the call works), then
    ``count`` timed calls: (wall, this process's CPU) in seconds each."""
    call()
    samples = []
    for _ in range(count):
        start, cpu = time.perf_counter(), time.process_time()
        call()
        samples.append((time.perf_counter() - start, time.process_time() - cpu))
    return samples


def ok(response: Any) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code}")


def requests_new(recipe: Recipe, url: str, count: int) -> List[Tuple[float, float]]:
    import requests

    return timed(lambda: ok(requests.get(url, timeout=30, **recipe.requests_verify())), count)


def requests_session(recipe: Recipe, url: str, count: int) -> List[Tuple[float, float]]:
    import requests

    # verify per call: a Session.verify would lose to REQUESTS_CA_BUNDLE (requests' rule).
    with requests.Session() as session:
        return timed(lambda: ok(session.get(url, timeout=30, **recipe.requests_verify())), count)


def httpx_new(recipe: Recipe, url: str, count: int) -> List[Tuple[float, float]]:
    import httpx

    return timed(lambda: ok(httpx.get(url, timeout=30, verify=recipe.httpx_verify())), count)


def httpx_client(recipe: Recipe, url: str, count: int) -> List[Tuple[float, float]]:
    import httpx

    with httpx.Client(verify=recipe.httpx_verify(), timeout=30) as client:
        return timed(lambda: ok(client.get(url)), count)


def context(recipe: Recipe, url: str, count: int) -> List[Tuple[float, float]]:
    return timed(recipe.context, count)


def cafile(recipe: Recipe) -> str:
    """The file the installed rows' explicit-file clients load: certifi's (ours when activated), or the floor's."""
    if recipe.one_root:
        return recipe.one_root
    import certifi

    return certifi.where()


def installed_requests(recipe: Recipe, url: str, count: int) -> List[Tuple[float, float]]:
    import requests

    verify: Dict[str, Any] = {"verify": recipe.one_root} if recipe.one_root else {}
    return timed(lambda: ok(requests.get(url, timeout=30, **verify)), count)


def httpx_verify_default(recipe: Recipe) -> Any:
    # httpx.Client() loads certifi.where() into a new context: the floor does the same with its file.
    return ssl.create_default_context(cafile=recipe.one_root) if recipe.one_root else True


def installed_httpx_create(recipe: Recipe, url: str, count: int) -> List[Tuple[float, float]]:
    import httpx

    return timed(lambda: httpx.Client(verify=httpx_verify_default(recipe)).close(), count)


def installed_httpx(recipe: Recipe, url: str, count: int) -> List[Tuple[float, float]]:
    import httpx

    def call() -> None:
        with httpx.Client(verify=httpx_verify_default(recipe), timeout=30) as client:
            ok(client.get(url))

    return timed(call, count)


def installed_urllib3(recipe: Recipe, url: str, count: int) -> List[Tuple[float, float]]:
    import urllib3

    def call() -> None:
        response = urllib3.PoolManager(ca_certs=cafile(recipe)).request("GET", url, timeout=30)
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")

    return timed(call, count)


def installed_aiohttp(recipe: Recipe, url: str, count: int) -> List[Tuple[float, float]]:
    import asyncio

    import aiohttp

    async def one() -> None:
        context = ssl.create_default_context(cafile=cafile(recipe))
        async with aiohttp.ClientSession() as session:
            async with session.get(url, ssl=context) as response:
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}")

    loop = asyncio.new_event_loop()
    try:
        return timed(lambda: loop.run_until_complete(one()), count)
    finally:
        loop.close()


def installed_botocore(recipe: Recipe, url: str, count: int) -> List[Tuple[float, float]]:
    from botocore.awsrequest import AWSRequest
    from botocore.httpsession import URLLib3Session

    # What botocore's clients pass: REQUESTS_CA_BUNDLE if set (by activation), else True (certifi).
    verify: Any = recipe.one_root or os.environ.get("REQUESTS_CA_BUNDLE", True)

    def call() -> None:
        session = URLLib3Session(verify=verify)
        try:
            ok(session.send(AWSRequest(method="GET", url=url).prepare()))
        finally:
            session.close()

    return timed(call, count)


FIGURES: Dict[str, Callable[[Recipe, str, int], List[Tuple[float, float]]]] = {
    "installed_requests": installed_requests,
    "installed_httpx_create": installed_httpx_create,
    "installed_httpx": installed_httpx,
    "installed_urllib3": installed_urllib3,
    "installed_aiohttp": installed_aiohttp,
    "installed_botocore": installed_botocore,
    "context": context,
    "requests_new": requests_new,
    "requests_session": requests_session,
    "httpx_new": httpx_new,
    "httpx_client": httpx_client,
}


def measure(spec: Dict[str, Any]) -> Dict[str, Any]:
    recipe = Floor(spec["one_root"]) if spec["variant"] == "floor" else RECIPES[spec["variant"]]()
    recipe.setup()
    out: Dict[str, Any] = {}
    for figure, count in spec["counts"].items():
        try:
            out[figure] = FIGURES[figure](recipe, spec["url"], count)
        except NotInBuild as why:
            out[figure] = {"na": f"{why}"}
        except Exception as error:  # reported in the table, not hidden
            out[figure] = {"error": f"{type(error).__name__}: {error}"[:300]}
    return out


def pem_count(path: Optional[str]) -> Optional[int]:
    if path is None or not os.path.isfile(path):
        return None
    with open(path, encoding="latin-1") as bundle:
        return bundle.read().count("-----BEGIN CERTIFICATE-----")


def probe(variant: str) -> Dict[str, Any]:
    """Versions, which planned certifi-native features this build has, and
    how many roots each row's client loads; also warms certifi-native's cache."""
    from importlib import metadata

    versions: Dict[str, str] = {}
    for name in DISTRIBUTIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    out: Dict[str, Any] = {
        "python": sys.version.split()[0],
        "openssl": ssl.OPENSSL_VERSION,
        "versions": versions,
    }
    if variant == "floor":
        out["roots"] = 1
    elif variant in ("cn-file", "cn-capath"):
        import certifi_native

        files = metadata.distribution("certifi-native").files or []
        out["features"] = {
            "capath": hasattr(certifi_native, "capath"),
            "ssl_context": hasattr(certifi_native, "ssl_context"),
            # A start-up hook sits at the site-packages root: no folder in its path.
            "startup_hook": sorted(str(f) for f in files if "/" not in str(f) and str(f).endswith((".pth", ".start"))),
        }
        out["roots"] = pem_count(certifi_native.where())
        if out["features"]["capath"]:
            out["capath_files"] = len(os.listdir(native_function("capath")()))
    elif variant in ("certifi", "certifi-linux"):
        import certifi

        out["roots"] = pem_count(certifi.where())
        out["bundle"] = certifi.where()
    else:
        # truststore and pip-system-certs load OpenSSL's default verify paths.
        out["roots"] = pem_count(ssl.get_default_verify_paths().cafile)
    return out


def main() -> None:
    command, argument = sys.argv[1], sys.argv[2]
    result = probe(argument) if command == "probe" else measure(json.loads(argument))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
