#!/usr/bin/env python3
"""A tunnel server that speaks only protocol version 1, on the `websockets` library.

It answers Auth with a v1 AuthOk (no trailer, whatever the client offered), sends Heartbeats,
answers each Register with a v1 RegisterOk (no assigned_port) and then offers one Connect for
that service. Every message it receives is printed as "RECV <hex>" (Auth as "AUTH <hex>"), so
the test can check that nothing outside version 1 ever arrives.

Prints "PORT <n>" once listening. Exits when stdin closes.
"""

import asyncio
import os
import struct
import sys
import threading
import time

TUNNEL_ID = bytes.fromhex("00112233445566778899aabbccddeeff")
SERVICE_ID = bytes.fromhex("ffeeddccbbaa99887766554433221100")
CONNECTION_ID = bytes.fromhex("0123456789abcdef0123456789abcdef")


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def message(kind, payload):
    return bytes([kind]) + struct.pack(">I", len(payload)) + payload


def heartbeat():
    return message(0x30, struct.pack(">Q", int(time.time() * 1000)))


async def session(ws):
    import websockets

    try:
        auth = await ws.recv()
        say("AUTH " + auth.hex())
        await ws.send(message(0x02, TUNNEL_ID))  # v1 AuthOk: exactly 21 bytes

        async def heartbeats():
            while True:
                await ws.send(heartbeat())
                await asyncio.sleep(0.2)

        beat = asyncio.ensure_future(heartbeats())
        try:
            async for m in ws:
                if isinstance(m, str):
                    continue
                say("RECV " + m.hex())
                if m[0] == 0x10:  # Register
                    await ws.send(message(0x11, SERVICE_ID))  # v1 RegisterOk: no port
                    addr = b"198.51.100.7:4242"
                    await ws.send(message(0x20, SERVICE_ID + CONNECTION_ID +
                                          struct.pack(">H", len(addr)) + addr))
        finally:
            beat.cancel()
    except websockets.ConnectionClosed:
        pass
    say("CLOSED")


async def main():
    import websockets

    async with websockets.serve(session, "127.0.0.1", 0, compression=None,
                                subprotocols=["zlayer-tunnel.v1"], ping_interval=None) as server:
        say(f"PORT {server.sockets[0].getsockname()[1]}")
        await asyncio.Future()


def exit_when_stdin_closes():
    def watch():
        try:
            sys.stdin.buffer.read()
        finally:
            os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


if __name__ == "__main__":
    exit_when_stdin_closes()
    asyncio.run(main())
