"""Reaching the server: the URL, the https proxy (CONNECT), the handshake, and
the chain the server sends, captured unverified."""

from __future__ import annotations

import base64
import dataclasses
import http.client
import socket
import ssl
import urllib.parse
import urllib.request
from typing import Any, Callable, List, Optional, Tuple

from .report import CheckError


@dataclasses.dataclass
class Target:
    url: str
    host: str
    port: int
    proxy: Optional[Tuple[str, int, Optional[str]]]  # host, port, Basic credentials

    @property
    def proxy_url(self) -> Optional[str]:
        return None if self.proxy is None else f"http://{self.proxy[0]}:{self.proxy[1]}"


def parse_target(url: str) -> Target:
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError as err:
        raise CheckError("bad_url", f"bad URL {url!r}: {err}") from None
    if parts.scheme.lower() != "https":
        raise CheckError("bad_url", f"bad URL {url!r}: check needs an https:// URL")
    if not parts.hostname:
        raise CheckError("bad_url", f"bad URL {url!r}: no host name")
    if port == 0:
        raise CheckError("bad_url", f"bad URL {url!r}: port 0")
    host = parts.hostname
    return Target(url, host, 443 if port is None else port, _proxy_for(host))


def _proxy_for(host: str) -> Optional[Tuple[str, int, Optional[str]]]:
    """The HTTP proxy https_proxy/HTTPS_PROXY names for ``host`` (no_proxy honoured)."""
    proxy = urllib.request.getproxies_environment().get("https")
    # With a proxy variable set, proxy_bypass() reads no_proxy (not the OS settings).
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    parts = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
    try:
        port = parts.port or 80
    except ValueError as err:
        raise CheckError("bad_url", f"bad proxy URL {proxy!r}: {err}") from None
    if parts.scheme.lower() != "http" or not parts.hostname:
        raise CheckError("bad_url", f"bad proxy URL {proxy!r}: only http:// proxies are supported")
    credentials = None
    if parts.username is not None:
        pair = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        credentials = base64.b64encode(pair.encode()).decode("ascii")
    return parts.hostname, port, credentials


def _connection_error(err: OSError, what: str) -> CheckError:
    if isinstance(err, socket.gaierror):
        return CheckError("host_not_found", f"cannot resolve {what}: {err.strerror}")
    if isinstance(err, ConnectionRefusedError):
        return CheckError("refused", f"connection refused by {what}: nothing listens on that port")
    if isinstance(err, socket.timeout):
        return CheckError("timeout", f"timed out connecting to {what}")
    return CheckError("unreachable", f"cannot reach {what}: {err.strerror or err}")


def _open(target: Target, timeout: float) -> socket.socket:
    """A TCP connection to the target, through the proxy's CONNECT tunnel if one is set."""
    if target.proxy is None:
        try:
            return socket.create_connection((target.host, target.port), timeout)
        except OSError as err:
            raise _connection_error(err, f"{target.host} port {target.port}") from None
    proxy_host, proxy_port, credentials = target.proxy
    try:
        sock = socket.create_connection((proxy_host, proxy_port), timeout)
    except OSError as err:
        raise _connection_error(err, f"the proxy {target.proxy_url}") from None
    try:
        _tunnel(sock, target, credentials)
    except BaseException:
        sock.close()
        raise
    return sock


def _tunnel(sock: socket.socket, target: Target, credentials: Optional[str]) -> None:
    host = target.host.encode("idna").decode("ascii")
    authority = f"[{host}]:{target.port}" if ":" in host else f"{host}:{target.port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if credentials:
        lines.append(f"Proxy-Authorization: Basic {credentials}")
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
        # The proxy sends nothing after its answer until the TLS client speaks.
        response = http.client.HTTPResponse(sock, method="CONNECT")
        response.begin()
    except socket.timeout:
        raise CheckError("timeout", f"timed out waiting for the proxy {target.proxy_url}") from None
    except (OSError, http.client.HTTPException) as err:
        raise CheckError("proxy_error", f"the proxy {target.proxy_url} failed: {err!r}") from None
    if response.status != 200:
        raise CheckError(
            "proxy_error",
            f"the proxy {target.proxy_url} refused CONNECT {authority}: {response.status} {response.reason}",
        )


def handshake(target: Target, context: ssl.SSLContext, timeout: float) -> ssl.SSLSocket:
    sock = _open(target, timeout)
    try:
        return context.wrap_socket(sock, server_hostname=target.host)
    except BaseException:
        sock.close()
        raise


def capture(target: Target, timeout: float) -> Tuple[List[bytes], bool]:
    """The certificates the server sends (DER, leaf first), verified or not,
    and whether that is the whole chain (False: only the leaf could be read)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    where = f"{target.host} port {target.port}"
    try:
        with handshake(target, context, timeout) as tls:
            return _sent_chain(tls)
    except CheckError:
        raise
    except socket.timeout:
        raise CheckError("timeout", f"timed out waiting for a TLS handshake from {where}") from None
    except (ssl.SSLError, ConnectionError) as err:
        reason = getattr(err, "reason", None) or err.strerror or err
        raise CheckError(
            "not_tls", f"no TLS handshake with {where} ({reason}): is it an https port?"
        ) from None
    except OSError as err:
        raise _connection_error(err, where) from None


def _sent_chain(tls: ssl.SSLSocket) -> Tuple[List[bytes], bool]:
    public: Optional[Callable[[], Any]] = getattr(tls, "get_unverified_chain", None)
    if public is not None:  # Python 3.13+: DER bytes
        return list(public() or []), True
    private: Optional[Callable[[], Any]] = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)
    if private is not None:  # Python 3.10-3.12: _ssl.Certificate objects
        import _ssl

        return [cert.public_bytes(_ssl.ENCODING_DER) for cert in private() or []], True
    leaf = tls.getpeercert(binary_form=True)  # Python 3.9: the leaf alone
    return ([leaf] if leaf else []), False
