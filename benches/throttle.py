#!/usr/bin/env python3
"""A TCP relay that limits the bandwidth from a server to its clients, like a WAN link.

Usage: throttle.py LISTEN_PORT TARGET_PORT RATE_MB_S

Listens on 127.0.0.1:LISTEN_PORT and relays every connection to 127.0.0.1:TARGET_PORT.
Bytes from the server to the client share one token bucket of RATE_MB_S megabytes (10^6)
a second across all connections (one link, not one per connection); the client's
requests pass unthrottled. `tc` on the loopback device would slow every local
connection, the client's own leg to the proxy included, which a WAN upstream does not.
Prints "ready" once it listens; runs until killed.
"""

import asyncio
import sys
import time

PIECE = 64 << 10


class Bucket:
    """Tokens in bytes, refilled at `rate` a second, at most a tenth of a second's worth
    banked so an idle link cannot burst far above its rate."""

    def __init__(self, rate):
        self.rate = rate
        self.tokens = 0.0
        self.last = time.monotonic()
        self.lock = asyncio.Lock()

    async def take(self, n):
        async with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.tokens + (now - self.last) * self.rate, self.rate / 10)
                self.last = now
                if self.tokens >= n:
                    self.tokens -= n
                    return
                await asyncio.sleep((n - self.tokens) / self.rate)


async def pipe(reader, writer, bucket):
    try:
        while data := await reader.read(PIECE):
            if bucket:
                await bucket.take(len(data))
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main():
    listen, target, rate = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    bucket = Bucket(rate * 1e6)

    async def relay(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pipe(client_reader, server_writer, None),
            pipe(server_reader, client_writer, bucket),
        )

    server = await asyncio.start_server(relay, "127.0.0.1", listen)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
