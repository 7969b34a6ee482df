"""The HTTP client factory: httpx's API and errors over aiohttp's connections (alertcast.http).

Against real sockets on 127.0.0.1: what a receiver sees, what a caller reads, and which httpx
error each kind of network failure becomes (the delivery ledger tells "never sent" from "maybe
sent" by it: channels.account.maybe_sent).
"""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from alertcast.channels.account import maybe_sent
from alertcast.http import USER_AGENT, make_client

BIG = b"0123456789abcdef" * 20_000  # 320 KB: several chunks


def raw_headers(request: web.Request) -> list[tuple[str, str]]:
    """The headers as they came on the wire, names in their case."""
    return [(name.decode(), value.decode()) for name, value in request.raw_headers]


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[tuple[list[tuple[str, str]], bytes]]]]:
    seen: list[tuple[list[tuple[str, str]], bytes]] = []

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append((raw_headers(request), body))
        return web.Response(status=201, body=b"created:" + body, headers={"Location": "/posts/7"})

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=BIG)

    async def zipped(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress("déjà vu".encode()), headers={"Content-Encoding": "gzip"})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response()

    app = web.Application()
    app.router.add_post("/echo", echo)
    app.router.add_get("/big", big)
    app.router.add_get("/zipped", zipped)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


async def test_a_post_arrives_with_its_headers_as_written_and_the_answer_is_read(
    server: tuple[str, list[tuple[list[tuple[str, str]], bytes]]],
) -> None:
    base, seen = server
    async with make_client(5.0) as client:
        answer = await client.post(
            f"{base}/echo", content=b'{"a":1}', headers={"X-Alertcast-Timestamp": "1700000000"}
        )
    assert answer.status_code == 201
    assert answer.content == b'created:{"a":1}'
    assert answer.headers["location"] == "/posts/7"
    headers, body = seen[0]
    assert body == b'{"a":1}'
    assert ("X-Alertcast-Timestamp", "1700000000") in headers  # the case a receiver may rely on
    assert dict(headers)["User-Agent"] == USER_AGENT
    assert "Content-Type" not in dict(headers)  # none given, none invented


async def test_a_body_streams_in_chunks_and_httpx_decodes_gzip(
    server: tuple[str, list[tuple[list[tuple[str, str]], bytes]]],
) -> None:
    base, _ = server
    async with make_client(5.0) as client:
        async with client.stream("GET", f"{base}/big") as response:
            chunks = [chunk async for chunk in response.aiter_raw()]
        zipped = await client.get(f"{base}/zipped")
    assert b"".join(chunks) == BIG
    assert len(chunks) > 1
    assert zipped.text == "déjà vu"


async def test_a_refused_connection_is_a_connect_error_never_sent() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: the connection is refused
        async with make_client(2.0) as client:
            with pytest.raises(httpx.ConnectError) as raised:
                await client.post(f"http://127.0.0.1:{port}/hook", content=b"{}")
    assert not maybe_sent(raised.value)


async def test_no_answer_in_time_is_a_read_timeout_maybe_sent(
    server: tuple[str, list[tuple[list[tuple[str, str]], bytes]]],
) -> None:
    base, _ = server
    async with make_client(0.3) as client:
        with pytest.raises(httpx.ReadTimeout) as raised:
            await client.get(f"{base}/slow")
    assert maybe_sent(raised.value)


async def test_a_connection_closed_without_an_answer_is_a_protocol_error_maybe_sent() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    listening = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        async with make_client(2.0) as client:
            with pytest.raises(httpx.RemoteProtocolError) as raised:
                await client.get(f"http://127.0.0.1:{port}/")
    finally:
        listening.close()
        await listening.wait_closed()
    assert maybe_sent(raised.value)


async def test_a_given_transport_is_used_instead() -> None:
    async with make_client(transport=httpx.MockTransport(lambda request: httpx.Response(418))) as client:
        assert (await client.get("http://example.invalid/")).status_code == 418


async def test_one_client_serves_one_loop_after_another(
    server: tuple[str, list[tuple[list[tuple[str, str]], bytes]]],
) -> None:
    """Clients are built at import, before any loop; a test may run them in several loops."""
    base, _ = server
    client = make_client(5.0)
    assert (await client.post(f"{base}/echo", content=b"1")).status_code == 201

    def in_another_loop() -> int:
        async def call() -> int:
            return (await client.post(f"{base}/echo", content=b"2")).status_code

        return asyncio.run(call())

    # The server runs in this loop: the other loop's call needs this one free meanwhile.
    assert await asyncio.to_thread(in_another_loop) == 201
    await client.aclose()
