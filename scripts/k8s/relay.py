#!/usr/bin/env python3
"""A byte relay between a TCP port and a Unix socket, used to carry a port-forward across the node's network
namespace (a Unix socket lives in the file system, which both sides share; TCP ports do not).

  relay.py unix-to-tcp SOCKET HOST PORT    listen on SOCKET, connect each client to HOST:PORT
  relay.py tcp-to-unix HOST PORT SOCKET    listen on HOST:PORT, connect each client to SOCKET
"""
import asyncio, os, sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


def handler(connect):
    async def handle(reader, writer):
        try:
            r2, w2 = await connect()
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, w2), pipe(r2, writer))

    return handle


async def main(argv):
    mode = argv[0]
    if mode == "unix-to-tcp":
        sock, host, port = argv[1], argv[2], int(argv[3])
        if os.path.exists(sock):
            os.unlink(sock)
        server = await asyncio.start_unix_server(handler(lambda: asyncio.open_connection(host, port)), sock)
        os.chmod(sock, 0o600)
    elif mode == "tcp-to-unix":
        host, port, sock = argv[1], int(argv[2]), argv[3]
        server = await asyncio.start_server(handler(lambda: asyncio.open_unix_connection(sock)), host, port)
    else:
        sys.exit(__doc__)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1:]))
    except KeyboardInterrupt:
        pass
