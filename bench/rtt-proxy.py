#!/usr/bin/env python3
"""rtt-proxy.py LISTEN_PORT UPSTREAM_PORT MS - a TCP proxy on 127.0.0.1 that holds each
request MS milliseconds before passing it on, so that every request/response exchange on a
connection costs a round trip of MS, as S3 and DynamoDB do from a machine in their region
(~10-30 ms) and moto on loopback does not. Responses pass at once. Runs until killed.
With RTT_LOG=FILE, appends a line per request: when it came (ms since the epoch), its
connection, its request line and, for DynamoDB, its operation; the requests that begin
together there are one round trip of the server's."""
import asyncio
import os
import sys
import time

LISTEN, UPSTREAM, DELAY = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000
LOG = open(os.environ["RTT_LOG"], "a", buffering=1) if os.environ.get("RTT_LOG") else None


def log(conn, data):
    head = data.split(b"\r\n\r\n")[0].decode("latin1").split("\r\n")
    op = [h.split(":", 1)[1].strip() for h in head if h.lower().startswith("x-amz-target:")]
    LOG.write("%.1f %d %s %s\n" % (time.time() * 1000, conn, head[0], op[0] if op else ""))


async def serve(client_r, client_w):
    try:
        up_r, up_w = await asyncio.open_connection("127.0.0.1", UPSTREAM)
    except OSError:
        client_w.close()
        return
    # A request starts when the client sends after the last response began (keep-alive).
    idle = [True]

    async def requests():
        while data := await client_r.read(65536):
            if idle[0]:
                idle[0] = False
                if LOG:
                    log(id(client_r), data)
                await asyncio.sleep(DELAY)
            up_w.write(data)
            await up_w.drain()
        up_w.close()

    async def responses():
        while data := await up_r.read(65536):
            idle[0] = True
            client_w.write(data)
            await client_w.drain()
        client_w.close()

    try:
        await asyncio.gather(requests(), responses())
    except (ConnectionError, OSError):
        pass
    finally:
        for w in (up_w, client_w):
            w.close()


async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", LISTEN)
    async with server:
        await server.serve_forever()


asyncio.run(main())
