"""The one HTTP client factory: every network call goes through a client made here.

Clients are httpx's (its API, its errors, its redirects and hooks), but their connections are
aiohttp's (`AiohttpTransport`): with httpcore each POST cost a saturated worker 1 to 3 ms of CPU
at 50 requests in flight (its pool rescans every queued request on each change, and without
sniffio every lock it makes retries a failing import), against 0.2 to 0.3 ms through aiohttp
(compiled parser, one pool per client), measured. aiohttp is already there for Faust's web
server. A `transport=` given to `make_client` (a test's MockTransport) is used instead.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import yarl

from alertcast import __version__

USER_AGENT = f"alertcast/{__version__} (+https://example.invalid/alertcast)"
#: Like httpx's own pool: at most this many connections per client, idle ones kept this long.
MAX_CONNECTIONS, KEEPALIVE_S = 100, 5.0
#: httpx decides these headers (or leaves them out on purpose): aiohttp must not add its own.
_HTTPX_HEADERS = ("User-Agent", "Content-Type", "Accept", "Accept-Encoding")
_CHUNK = 64 * 1024


def _options(timeout_s: float, connect_s: float) -> dict[str, Any]:
    return {
        "timeout": httpx.Timeout(timeout_s, connect=min(timeout_s, connect_s)),
        "headers": {"User-Agent": USER_AGENT},
        "follow_redirects": False,
    }


def make_client(timeout_s: float = 10.0, connect_s: float = 5.0, **kwargs: Any) -> httpx.AsyncClient:
    """Timeouts are always set: a network that hangs must not hold a delivery forever.

    `verify` (a CA file, an SSLContext, or False) is the transport's, as with httpx alone."""
    if "transport" not in kwargs:
        kwargs["transport"] = AiohttpTransport(verify=kwargs.pop("verify", True))
    return httpx.AsyncClient(**_options(timeout_s, connect_s), **kwargs)


def make_sync_client(timeout_s: float = 10.0, connect_s: float = 5.0) -> httpx.Client:
    """The same client for code that runs in a thread of its own (the charter's LanguageTool
    check, inside compose)."""
    return httpx.Client(**_options(timeout_s, connect_s))


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx requests sent on an aiohttp connection pool, with httpx's errors.

    The errors keep their meaning for the delivery ledger (`channels.account.maybe_sent`): a
    connection never made is `ConnectError` or `ConnectTimeout` (nothing was sent), anything
    after is a read, protocol or timeout error (the post may have gone out).
    The session is made on first use, in the running loop (aiohttp binds a session to one
    loop; clients are built at import, before any loop runs)."""

    def __init__(self, verify: ssl.SSLContext | str | bool = True) -> None:
        self._ssl: ssl.SSLContext | bool = False if verify is False else httpx.create_ssl_context(verify)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _session_here(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or session.closed or self._loop is not loop:
            connector = aiohttp.TCPConnector(
                limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_S, ssl=self._ssl
            )
            session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,  # httpx decodes, by the response's Content-Encoding
                cookie_jar=aiohttp.DummyCookieJar(),  # httpx keeps the cookies
                skip_auto_headers=_HTTPX_HEADERS,
                max_line_size=65536,
                max_field_size=65536,
            )
            self._session, self._loop = session, loop
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        connect, pool = timeouts.get("connect"), timeouts.get("pool")
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=timeouts.get("read"),
        )
        body = await request.aread()
        try:
            response = await self._session_here().request(
                request.method,
                yarl.URL(str(request.url), encoded=True),  # httpx quoted it already
                headers=_as_written(request.headers),
                data=body or None,
                allow_redirects=False,
                timeout=timeout,
            )
        except Exception as error:
            mapped = _httpx_error(error, request, answered=False)
            if mapped is None:
                raise
            raise mapped from error
        return httpx.Response(
            status_code=response.status,
            headers=list(response.raw_headers),
            stream=_Body(response, request),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
        )

    async def aclose(self) -> None:
        """Closes the session of the running loop; one of another loop is only dropped."""
        session, self._session = self._session, None
        here = self._loop is asyncio.get_running_loop()
        if session is not None and not session.closed and here:
            await session.close()


def _as_written(headers: httpx.Headers) -> list[tuple[str, str]]:
    """The request's headers with the case of their names as the caller wrote them (a receiver
    may read them case-sensitively)."""
    return [(name.decode(headers.encoding), value.decode(headers.encoding)) for name, value in headers.raw]


class _Body(httpx.AsyncByteStream):
    """The response body as it arrives (a poller caps what it reads of a feed)."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_chunked(_CHUNK):
                yield chunk
        except Exception as error:
            mapped = _httpx_error(error, self._request, answered=True)
            if mapped is None:
                raise
            raise mapped from error

    async def aclose(self) -> None:
        self._response.release()


def _httpx_error(error: Exception, request: httpx.Request, *, answered: bool) -> httpx.TransportError | None:
    """aiohttp's error as the httpx error it stands for (`answered`: while reading the body);
    None for anything else (raised as it is)."""
    text = str(error) or type(error).__name__
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(text, request=request)
    if isinstance(error, aiohttp.ClientConnectorError):  # refused, unreachable, DNS, TLS handshake
        return httpx.ConnectError(text, request=request)
    if isinstance(error, aiohttp.SocketTimeoutError | asyncio.TimeoutError):
        return httpx.ReadTimeout(text, request=request)
    if isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(text, request=request)
    if isinstance(error, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(text, request=request)
    if isinstance(error, aiohttp.ClientError | OSError):  # reset while sending or reading
        return httpx.ReadError(text, request=request) if answered else httpx.WriteError(text, request=request)
    return None
