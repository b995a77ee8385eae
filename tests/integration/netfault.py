"""A loopback TCP proxy whose faults a test controls: added latency, dropped connections.

The broker advertises the proxy's port (``LocalKafka(advertised_port=...)``), so every
connection a client opens after bootstrap goes through it too. Runs in the test's event
loop; ``close`` stops it and every connection it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field


@dataclass
class FaultyProxy:
    """Forwards ``127.0.0.1:listen_port`` to ``127.0.0.1:target_port``."""

    listen_port: int
    target_port: int
    latency: float = 0.0  # seconds added to every chunk, each direction
    refusing: bool = False  # new connections are closed at once
    dropped: int = 0  # connections cut by ``drop_all``
    accepted: int = 0
    _server: asyncio.Server | None = None
    _pipes: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.listen_port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.accepted += 1
        pipes = [
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pipes:
                task.cancel()
                self._pipes.discard(task)
            for w in (writer, up_writer):
                w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await reader.read(65536):
                if self.latency:
                    await asyncio.sleep(self.latency)
                writer.write(chunk)
                await writer.drain()

    def drop_all(self) -> int:
        """Cut every open connection mid-stream (both directions); how many were cut."""
        cut = len(self._pipes) // 2
        for task in list(self._pipes):
            task.cancel()
        self.dropped += cut
        return cut

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self.drop_all()
            await self._server.wait_closed()
