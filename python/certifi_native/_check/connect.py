"""Reaching the server: the URL, the https proxy (CONNECT), the handshake, and
the chain the server sends, captured unverified."""

from __future__ import annotations

import base64
import dataclasses
import select
import socket
import ssl
import time
import urllib.parse
import urllib.request
from typing import Any, Callable, List, Optional, Tuple

from .report import CheckError


class Deadline:
    """The one deadline of a whole check (``--timeout``): every connection,
    proxy answer and handshake waits at most until it, however the peer trickles."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def left(self) -> float:
        return self._end - time.monotonic()

    def wait(self, sock: socket.socket, read: bool) -> None:
        """Until ``sock`` is readable (or writable); ``socket.timeout`` past the deadline."""
        left = self.left()
        ready = left > 0 and select.select([sock] if read else [], [] if read else [sock], [], left)
        if not ready or not (ready[0] or ready[1]):
            raise socket.timeout(f"no answer within --timeout {self.seconds:g} s")


@dataclasses.dataclass
class Target:
    url: str
    host: str
    port: int
    proxy: Optional[Tuple[str, int, Optional[str]]]  # host, port, Basic credentials

    @property
    def proxy_url(self) -> Optional[str]:
        return None if self.proxy is None else f"http://{self.proxy[0]}:{self.proxy[1]}"


def _dns_name(host: str, what: str) -> None:
    """Raises ``bad_url`` for a name no resolver takes (a label over 63 characters...)."""
    try:
        host.encode("idna")
    except UnicodeError as err:
        reason = str(err).rpartition("(UnicodeError: ")[2].rstrip(")") or str(err)
        raise CheckError("bad_url", f"bad {what}: the host name {host!r} is not a valid DNS name ({reason})") from None


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
    _dns_name(host, f"URL {url!r}")
    return Target(url, host, 443 if port is None else port, _proxy_for(host))


def _proxy_for(host: str) -> Optional[Tuple[str, int, Optional[str]]]:
    """The HTTP proxy https_proxy/HTTPS_PROXY names for ``host`` (no_proxy honoured)."""
    proxy = urllib.request.getproxies_environment().get("https")
    # With a proxy variable set, proxy_bypass() reads no_proxy (not the OS settings).
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    try:
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
        port = parts.port or 80
    except ValueError as err:
        raise CheckError("bad_url", f"bad proxy URL {proxy!r}: {err}") from None
    if parts.scheme.lower() != "http" or not parts.hostname:
        raise CheckError("bad_url", f"bad proxy URL {proxy!r}: only http:// proxies are supported")
    _dns_name(parts.hostname, f"proxy URL {proxy!r}")
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


def _connect(host: str, port: int, deadline: Deadline) -> socket.socket:
    left = deadline.left()
    if left <= 0:
        raise socket.timeout("no time left")
    return socket.create_connection((host, port), left)


def _open(target: Target, deadline: Deadline) -> socket.socket:
    """A TCP connection to the target, through the proxy's CONNECT tunnel if one is set."""
    if target.proxy is None:
        try:
            return _connect(target.host, target.port, deadline)
        except OSError as err:
            raise _connection_error(err, f"{target.host} port {target.port}") from None
    proxy_host, proxy_port, credentials = target.proxy
    try:
        sock = _connect(proxy_host, proxy_port, deadline)
    except OSError as err:
        raise _connection_error(err, f"the proxy {target.proxy_url}") from None
    try:
        _tunnel(sock, target, credentials, deadline)
    except BaseException:
        sock.close()
        raise
    return sock


# A CONNECT answer is a status line and a few headers; more is not a proxy talking.
_MAX_PROXY_ANSWER = 64 * 1024


def _tunnel(sock: socket.socket, target: Target, credentials: Optional[str], deadline: Deadline) -> None:
    host = target.host.encode("idna").decode("ascii")
    authority = f"[{host}]:{target.port}" if ":" in host else f"{host}:{target.port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if credentials:
        lines.append(f"Proxy-Authorization: Basic {credentials}")
    answer = b""
    try:
        sock.settimeout(max(deadline.left(), 0.001))
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
        sock.setblocking(False)
        # Read to the blank line, not a byte further: what follows is the server's TLS.
        while b"\r\n\r\n" not in answer:
            if len(answer) > _MAX_PROXY_ANSWER:
                why = f"sent {len(answer)} bytes and no end of its answer"
                raise CheckError("proxy_error", f"the proxy {target.proxy_url} {why}")
            deadline.wait(sock, read=True)
            byte = sock.recv(1)
            if not byte:
                raise ConnectionError("it closed the connection before answering")
            answer += byte
    except socket.timeout:
        raise CheckError("timeout", f"timed out waiting for the proxy {target.proxy_url}") from None
    except OSError as err:
        raise CheckError("proxy_error", f"the proxy {target.proxy_url} failed: {err}") from None
    status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or not code.isdigit():
        why = f"not an HTTP answer: {status_line[:80]!r}"
        raise CheckError("proxy_error", f"the proxy {target.proxy_url} failed: {why}")
    if code != "200":
        raise CheckError("proxy_error", f"the proxy {target.proxy_url} refused CONNECT {authority}: {code} {reason}")


def handshake(target: Target, context: ssl.SSLContext, deadline: Deadline) -> ssl.SSLSocket:
    """A TLS connection to the target, its handshake done before the deadline
    (non-blocking: a server that trickles its bytes cannot stretch it)."""
    sock = _open(target, deadline)
    tls: Optional[ssl.SSLSocket] = None
    try:
        sock.setblocking(False)
        tls = context.wrap_socket(sock, server_hostname=target.host, do_handshake_on_connect=False)
        while True:
            try:
                tls.do_handshake()
                return tls
            except ssl.SSLWantReadError:
                deadline.wait(tls, read=True)
            except ssl.SSLWantWriteError:
                deadline.wait(tls, read=False)
    except BaseException:
        # The TLS socket owns the connection once made (wrap_socket detaches
        # sock): closed now, not when collected (PyPy collects late, and the
        # server would wait on a half-open handshake).
        (sock if tls is None else tls).close()
        raise


# OpenSSL's reasons when the peer does not speak TLS at all (an http:// port...).
_NOT_TLS = {
    "WRONG_VERSION_NUMBER",
    "HTTP_REQUEST",
    "PACKET_LENGTH_TOO_LONG",
    "RECORD_LAYER_FAILURE",
    "UNKNOWN_PROTOCOL",
}


def _not_tls(where: str, reason: object) -> CheckError:
    return CheckError("not_tls", f"no TLS handshake with {where} ({reason}): is it an https port?")


def capture(target: Target, deadline: Deadline) -> Tuple[List[bytes], bool]:
    """The certificates the server sends (DER, leaf first), verified or not,
    and whether that is the whole chain (False: only the leaf could be read)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    where = f"{target.host} port {target.port}"
    try:
        with handshake(target, context, deadline) as tls:
            return _sent_chain(tls)
    except CheckError:
        raise
    except socket.timeout:
        raise CheckError("timeout", f"timed out waiting for a TLS handshake from {where}") from None
    except ssl.SSLError as err:
        reason = getattr(err, "reason", None)
        if reason == "EXCESSIVE_MESSAGE_SIZE":
            raise CheckError(
                "tls_error",
                f"{where} speaks TLS but sends a handshake message larger than OpenSSL accepts "
                "(a certificate chain over about 100 KB): the server's chain is far too large",
            ) from None
        if reason in _NOT_TLS or isinstance(err, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
            raise _not_tls(where, reason or err) from None
        raise CheckError("tls_error", f"the TLS handshake with {where} failed: {reason or err}") from None
    except ConnectionError as err:
        raise _not_tls(where, err.strerror or err) from None
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
