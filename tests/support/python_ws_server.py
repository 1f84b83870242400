#!/usr/bin/env python3
"""Independent peers for the WebSocket client tests.

  --mode ws     a server built on the `websockets` library (Debian python3-websockets 10.4)
  --mode raw    a hand-written server that answers the upgrade with crafted responses and
                sends crafted frames, for the cases a correct library refuses to produce
  --mode proxy  an HTTP CONNECT proxy

Prints "PORT <n>" once listening, then one line per notable event (the tests wait for them).
Exits when stdin closes, so a crashed test never leaves a server behind.
"""

import argparse
import asyncio
import base64
import hashlib
import os
import ssl
import struct
import sys
import threading
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def exit_when_stdin_closes():
    def watch():
        try:
            sys.stdin.buffer.read()
        finally:
            os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def stream_block(index, size):
    """Deterministic test data: block `index` of a stream (the client checks hashes only)."""
    seed = hashlib.sha256(index.to_bytes(8, "big")).digest()
    return (seed * (size // len(seed) + 1))[:size]


# ---------------------------------------------------------------- websockets server

async def ws_handler(ws):
    import websockets

    target = urlsplit(ws.path)
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    route = target.path
    try:
        if route == "/echo":
            async for msg in ws:
                await ws.send(msg)
        elif route == "/text":
            await ws.send("text that the client must ignore")
            await ws.send(b"after-text")
            async for _ in ws:
                pass
        elif route == "/fragmented":
            parts = [bytes([i % 251]) * 20000 for i in range(3)]
            await ws.send(parts)  # one message in three frames
            await ws.send(b"unfragmented")
            async for _ in ws:
                pass
        elif route == "/ping":
            waiter = await ws.ping(b"are you there")
            await asyncio.wait_for(waiter, 5)
            await ws.send(b"pong-received")
            async for _ in ws:
                pass
        elif route.startswith("/close/"):
            code = int(route.split("/")[2])
            await ws.recv()
            await ws.close(code, "server bye")
            await ws.wait_closed()
            say(f"SERVER-CLOSE-ECHO {ws.close_code}")
        elif route == "/burst":
            n = int(query.get("n", "50"))
            size = int(query.get("size", "100"))
            for i in range(n):
                await ws.send(i.to_bytes(4, "big") + bytes(max(0, size - 4)))
            say("BURST-SENT")
            async for msg in ws:
                await ws.send(msg)
        elif route == "/bulk":
            await bulk(ws, int(query["n"]))
        else:
            await ws.close(4404, "no such route")
    except websockets.ConnectionClosed:
        pass
    finally:
        await ws.wait_closed()
        say(f"CLOSE {route} {ws.close_code} {ws.close_reason}")


async def bulk(ws, total):
    """Receives `total` bytes while sending `total` bytes, then reports both digests."""
    sent_hash = hashlib.sha256()
    recv_hash = hashlib.sha256()

    async def reader():
        got = 0
        while got < total:
            msg = await ws.recv()
            recv_hash.update(msg)
            got += len(msg)

    async def writer():
        left, index = total, 0
        while left > 0:
            block = stream_block(index, min(65536, left))
            sent_hash.update(block)
            await ws.send(block)
            left -= len(block)
            index += 1
        await ws.send(b"sent:" + sent_hash.hexdigest().encode())

    await asyncio.gather(reader(), writer())
    await ws.send(b"recv:" + recv_hash.hexdigest().encode())
    async for _ in ws:
        pass


async def process_request(path, headers):
    route = urlsplit(path).path
    if route == "/missing":
        return HTTPStatus.NOT_FOUND, [("Content-Type", "text/plain")], b"not found\n"
    if route == "/hang":
        await asyncio.sleep(3600)
    return None


async def run_ws(args, ssl_ctx):
    import websockets

    async with websockets.serve(
        ws_handler,
        args.host,
        args.port,
        ssl=ssl_ctx,
        subprotocols=["zlayer-tunnel.v1"],
        compression=None,
        max_size=None,
        process_request=process_request,
        ping_interval=None,
    ) as server:
        say(f"PORT {server.sockets[0].getsockname()[1]}")
        await asyncio.Future()


# ---------------------------------------------------------------- raw server

def frame(opcode, payload=b"", fin=True, rsv=0, mask=None, length=None):
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    n = len(payload) if length is None else length
    mask_bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 65536:
        head += bytes([mask_bit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack(">Q", n)
    if mask:
        head += mask
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + payload


RAW_FRAMES = {
    "masked": frame(2, b"hello", mask=b"\x01\x02\x03\x04"),
    "rsv": frame(2, b"hello", rsv=4),
    "opcode": frame(3, b"hello"),
    "bigping": frame(9, b"x" * 126),
    "fragping": frame(9, b"x", fin=False),
    "cont": frame(0, b"orphan"),
    "toobig": frame(2, b"", length=70000),
    "badclose": frame(8, struct.pack(">H", 1005)),
    "huge": frame(2, b"", length=1 << 63),
    "nested": frame(2, b"a", fin=False) + frame(2, b"b"),
    "shortclose": frame(8, b"\x03"),
    "closeutf8": frame(8, struct.pack(">H", 1000) + b"\xc3\x28"),
    "pipelined": frame(2, b"one") + frame(2, b"two") + frame(2, b"three"),
    "interleaved": frame(2, b"frag-a,", fin=False) + frame(9, b"mid") + frame(0, b"frag-b,", fin=False)
    + frame(0, b"frag-c", fin=True),
    "noclose": b"",
}


async def read_client_frames(reader):
    """Parses (masked) client frames and reports them; never answers a close."""
    while True:
        head = await reader.readexactly(2)
        opcode, n = head[0] & 0x0F, head[1] & 0x7F
        if n == 126:
            n = struct.unpack(">H", await reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", await reader.readexactly(8))[0]
        mask = await reader.readexactly(4) if head[1] & 0x80 else b"\0\0\0\0"
        data = bytearray(await reader.readexactly(n))
        for i in range(n):
            data[i] ^= mask[i % 4]
        if opcode == 8:
            code = struct.unpack(">H", data[:2])[0] if len(data) >= 2 else 1005
            say(f"RAW-CLOSE {code} {bytes(data[2:]).decode(errors='replace')}")
        elif opcode == 10:
            say(f"RAW-PONG {bytes(data).decode(errors='replace')}")
        elif opcode == 2:
            say(f"RAW-MSG {len(data)}")


async def raw_client(reader, writer):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        path = lines[0].split(" ")[1]
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        say(f"RAW-REQUEST {path} ua={headers.get('user-agent', '-')} x-test={headers.get('x-test', '-')}")
        key = headers.get("sec-websocket-key", "").encode()
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        kind = path.strip("/").split("/")
        good = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
                f"Sec-WebSocket-Accept: {accept}"]
        if kind[0] == "bad-accept":
            good[3] = "Sec-WebSocket-Accept: " + base64.b64encode(b"x" * 20).decode()
        elif kind[0] == "extension":
            good.append("Sec-WebSocket-Extensions: permessage-deflate")
        elif kind[0] == "bad-protocol":
            good.append("Sec-WebSocket-Protocol: something-else")
        elif kind[0] == "no-upgrade":
            del good[1]
        elif kind[0] == "huge-header":
            good.append("X-Filler: " + "a" * 20000)
        response = ("\r\n".join(good) + "\r\n\r\n").encode()
        if kind[0] == "frames":
            response += RAW_FRAMES[kind[1]]
        writer.write(response)
        await writer.drain()
        await read_client_frames(reader)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        say("RAW-EOF")
        writer.close()


async def run_raw(args):
    server = await asyncio.start_server(raw_client, args.host, args.port)
    say(f"PORT {server.sockets[0].getsockname()[1]}")
    await asyncio.Future()


# ---------------------------------------------------------------- CONNECT proxy

async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(262144)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass


async def proxy_client(args, reader, writer):
    try:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        lines = head.split("\r\n")
        method, target, _ = lines[0].split(" ")
        auth = "-"
        for line in lines[1:]:
            if line.lower().startswith("proxy-authorization:"):
                scheme, value = line.split(":", 1)[1].strip().split(" ", 1)
                auth = base64.b64decode(value).decode() if scheme.lower() == "basic" else value
        say(f"PROXY {method} {target} auth={auth}")
        if args.refuse or method != "CONNECT":
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        if args.auth and auth != args.auth:
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        host, port = target.rsplit(":", 1)
        up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        up_writer.close()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def run_proxy(args):
    server = await asyncio.start_server(lambda r, w: proxy_client(args, r, w), args.host, args.port)
    say(f"PORT {server.sockets[0].getsockname()[1]}")
    await asyncio.Future()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["ws", "raw", "proxy"], default="ws")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--refuse", action="store_true")
    parser.add_argument("--auth")
    args = parser.parse_args()
    exit_when_stdin_closes()

    ssl_ctx = None
    if args.cert:
        ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_ctx.load_cert_chain(args.cert, args.key)

    if args.mode == "ws":
        asyncio.run(run_ws(args, ssl_ctx))
    elif args.mode == "raw":
        asyncio.run(run_raw(args))
    else:
        asyncio.run(run_proxy(args))


if __name__ == "__main__":
    main()
