#!/usr/bin/env python3
"""A TCP proxy in front of the test registry that makes it slow, or makes it stop sending.

    slow_proxy.py LISTEN_PORT UPSTREAM_PORT --rate KB_PER_S [--stall-after BYTES]

Requests go to 127.0.0.1:UPSTREAM_PORT unchanged; answers come back at most KB_PER_S kilobytes a
second per connection. With --stall-after, a connection that has sent BYTES of answers keeps
its socket open and sends nothing more (a registry that hangs mid-download).
"""

import argparse
import asyncio

CHUNK = 4096


async def pump(reader, writer, rate=None, stall_after=None):
    sent = 0
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            if stall_after is not None and sent + len(data) > stall_after:
                await asyncio.sleep(3600)
            writer.write(data)
            await writer.drain()
            sent += len(data)
            if rate:
                ahead = sent / rate - (loop.time() - start)
                if ahead > 0:
                    await asyncio.sleep(ahead)
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("listen", type=int)
    p.add_argument("upstream", type=int)
    p.add_argument("--rate", type=float, required=True, help="KB/s per connection")
    p.add_argument("--stall-after", type=int, default=None)
    a = p.parse_args()

    async def handle(cr, cw):
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", a.upstream)
        except OSError:
            cw.close()
            return
        await asyncio.gather(
            pump(cr, uw),
            pump(ur, cw, rate=a.rate * 1000, stall_after=a.stall_after),
        )

    server = await asyncio.start_server(handle, "127.0.0.1", a.listen)
    async with server:
        await server.serve_forever()


asyncio.run(main())
