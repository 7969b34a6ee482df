"""What the contract servers (tests/servers/*_contract.py) share: serving an ASGI app in the
test's process.

- `ThreadedServer` runs any ASGI app with uvicorn on 127.0.0.1, on an ephemeral port, in a
  daemon thread; a contract server subclasses it and keeps its `state` next to it.
- `SlowAnswers` holds answers back while a test asks for slow answers (a client timeout after
  the server did what it was asked).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any, Self

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class SlowAnswers:
    """ASGI middleware: while `state.slow` > 0, a request is processed as usual and its answer
    held back `state.slow_s` seconds (the client times out; what it asked for was done)."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with self.state.lock:
            slow = scope["type"] == "http" and self.state.slow > 0
            self.state.slow -= 1 if slow else 0
        if not slow:
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        await asyncio.sleep(self.state.slow_s)
        for message in held:
            await send(message)


class ThreadedServer:
    """An ASGI app served by uvicorn on 127.0.0.1 (an ephemeral port) in a daemon thread.

    `name` is what a failure to start says; `graceful_shutdown_s` bounds how long `stop` lets
    requests in flight finish (None: uvicorn's default, no bound)."""

    def __init__(
        self, app: ASGIApp, name: str = "the contract server", graceful_shutdown_s: int | None = 1
    ) -> None:
        self.name = name
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", timeout_graceful_shutdown=graceful_shutdown_s
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def start(self, timeout: float = 10.0) -> Self:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"{self.name} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()
