"""A small loopback TCP proxy owned by the tests: lose responses (the venue processed, we never hear)."""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; `lose_responses` swallows upstream bytes until reset."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.lose_responses = False
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def __aenter__(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection(*self.target)
        a = asyncio.ensure_future(self._pipe(reader, up_w, lossy=False))
        b = asyncio.ensure_future(self._pipe(up_r, writer, lossy=True))
        self._tasks.update((a, b))
        await asyncio.gather(a, b, return_exceptions=True)
        self._tasks.difference_update((a, b))
        for w in (writer, up_w):
            with contextlib.suppress(Exception):
                w.close()

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, lossy: bool) -> None:
        try:
            while data := await src.read(65536):
                if lossy and self.lose_responses:
                    continue
                dst.write(data)
                await dst.drain()
        finally:
            with contextlib.suppress(Exception):
                dst.close()
