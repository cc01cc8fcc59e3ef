#!/usr/bin/env python3
"""Helpers of bench/streams.sh (Python 3 standard library only, asyncio).

  streams.py sse-upstream --port P [--interval 2]   an SSE server: every connection gets one event every interval
  streams.py ws-upstream  --port P                  a WebSocket echo server (RFC 6455, no extensions)
  streams.py client --mode sse|ws --port P --path /x [--key K] [--n 3000] [--hold 20] [--interval 2]

The client opens N streams (at most 200 connecting at once), prints "OPEN <n>" once every stream has been opened,
keeps them all for HOLD seconds, then closes them and prints one JSON line: streams opened/failed/dropped early,
events (SSE) or echoed messages (WebSocket) received, and sequence gaps (an event that never arrived). Every event
carries a per-stream sequence number, so "every event delivered" is checked, not assumed. On WebSocket the client
sends one message every interval and counts the echoes. Everything is bounded: connects time out after 30 s, opening all streams
after 120 + N/20 s, closing them after 60 s.
"""
import argparse
import asyncio
import base64
import hashlib
import json
import os
import struct
import sys
import time

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC11B65"


async def read_head(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


# ---------------------------------------------------------------- upstreams

async def sse_upstream(port, interval):
    async def handle(reader, writer):
        try:
            await read_head(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            await writer.drain()
            closed = asyncio.ensure_future(reader.read(1))  # the peer hanging up ends the stream
            seq = 0
            while not closed.done():
                event = b'id: %d\ndata: {"seq":%d,"text":"token token token token"}\n\n' % (seq, seq)
                writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                await writer.drain()
                seq += 1
                await asyncio.wait([closed], timeout=interval)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


async def ws_read_frame(reader):
    b0, b1 = await reader.readexactly(2)
    length = b1 & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", await reader.readexactly(8))[0]
    mask = await reader.readexactly(4) if b1 & 0x80 else None
    payload = await reader.readexactly(length)
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return b0 & 0x0F, payload


def ws_frame(opcode, payload, masked):
    head = bytes([0x80 | opcode])
    n = len(payload)
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))


async def ws_upstream(port):
    async def handle(reader, writer):
        try:
            _, headers = await read_head(reader)
            accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + WS_GUID).digest())
            writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            await writer.drain()
            while True:
                opcode, payload = await ws_read_frame(reader)
                if opcode == 0x8:
                    writer.write(ws_frame(0x8, payload[:2], masked=False))
                    await writer.drain()
                    break
                if opcode == 0x9:
                    writer.write(ws_frame(0xA, payload, masked=False))
                elif opcode in (0x1, 0x2):
                    writer.write(ws_frame(opcode, payload, masked=False))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, KeyError, OSError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


# ---------------------------------------------------------------- client

class Totals:
    def __init__(self):
        self.opened = 0
        self.failed = 0
        self.dropped = 0  # streams that ended before the client closed them
        self.sent = 0
        self.received = 0
        self.gaps = 0
        self.errors = {}

    def fail(self, reason):
        self.failed += 1
        self.errors[reason] = self.errors.get(reason, 0) + 1


async def sse_stream(args, totals, stop, on_open):
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", args.port), 30)
    try:
        auth = b"Authorization: Bearer %s\r\n" % args.key.encode() if args.key else b""
        writer.write(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n%s\r\n" % (args.path.encode(), auth))
        status, _ = await asyncio.wait_for(read_head(reader), 30)
        if " 200 " not in status + " ":
            totals.fail(status[9:12])
            return
        on_open()
        expected = 0
        while not stop.is_set():
            line_task = asyncio.ensure_future(reader.readline())
            stop_task = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait([line_task, stop_task], return_when=asyncio.FIRST_COMPLETED)
            if line_task not in done:
                line_task.cancel()
                break
            stop_task.cancel()
            line = line_task.result()
            if not line:
                totals.dropped += 1
                break
            if line.startswith(b"id: "):
                seq = int(line[4:])
                totals.received += 1
                if seq != expected:
                    totals.gaps += abs(seq - expected)
                expected = seq + 1
    finally:
        writer.close()


async def ws_stream(args, totals, stop, on_open):
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", args.port), 30)
    try:
        auth = b"Authorization: Bearer %s\r\n" % args.key.encode() if args.key else b""
        key = base64.b64encode(os.urandom(16))
        writer.write(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n%s\r\n" % (args.path.encode(), key, auth))
        status, _ = await asyncio.wait_for(read_head(reader), 30)
        if " 101 " not in status + " ":
            totals.fail(status[9:12])
            return
        on_open()

        sent = [0]

        async def sender():
            while not stop.is_set():
                writer.write(ws_frame(0x1, b'{"seq":%d,"text":"token token token token"}' % sent[0], masked=True))
                await writer.drain()
                sent[0] += 1
                totals.sent += 1
                try:
                    await asyncio.wait_for(stop.wait(), args.interval)
                except asyncio.TimeoutError:
                    pass

        send_task = asyncio.ensure_future(sender())
        expected = 0
        try:
            # After the stop, the echoes of messages already sent are still awaited (at most 5 s), so every message
            # sent is accounted for.
            while not (stop.is_set() and expected >= sent[0]):
                frame_task = asyncio.ensure_future(ws_read_frame(reader))
                if not stop.is_set():
                    stop_task = asyncio.ensure_future(stop.wait())
                    await asyncio.wait([frame_task, stop_task], return_when=asyncio.FIRST_COMPLETED)
                    stop_task.cancel()
                if not frame_task.done() and expected < sent[0]:
                    await asyncio.wait([frame_task], timeout=5)
                if not frame_task.done():
                    frame_task.cancel()
                    break
                try:
                    opcode, payload = frame_task.result()
                except asyncio.IncompleteReadError:
                    totals.dropped += 1
                    break
                if opcode == 0x1:
                    seq = json.loads(payload)["seq"]
                    totals.received += 1
                    if seq != expected:
                        totals.gaps += abs(seq - expected)
                    expected = seq + 1
        finally:
            send_task.cancel()
    finally:
        writer.close()


async def client(args):
    totals = Totals()
    stop = asyncio.Event()
    all_open = asyncio.Event()
    gate = asyncio.Semaphore(200)
    stream = sse_stream if args.mode == "sse" else ws_stream

    def check_all_open():
        if totals.opened + totals.failed >= args.n:
            all_open.set()

    async def one():
        ready = asyncio.Event()

        def on_open():
            totals.opened += 1
            ready.set()
            check_all_open()

        try:
            async with gate:  # released once this stream is open (or failed): at most 200 connecting at a time
                task = asyncio.ensure_future(stream(args, totals, stop, on_open))
                ready_wait = asyncio.ensure_future(ready.wait())
                await asyncio.wait([task, ready_wait], return_when=asyncio.FIRST_COMPLETED)
                ready_wait.cancel()
            await task
        except (ConnectionError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as error:
            if ready.is_set():
                totals.dropped += 1
            else:
                totals.fail(type(error).__name__)
        finally:
            check_all_open()

    started = time.monotonic()
    tasks = [asyncio.ensure_future(one()) for _ in range(args.n)]
    try:
        await asyncio.wait_for(all_open.wait(), 120 + args.n / 20)
    except asyncio.TimeoutError:
        pass
    ramp = time.monotonic() - started
    open_at_hold = totals.opened
    print("OPEN %d" % open_at_hold, flush=True)
    await asyncio.sleep(args.hold)
    stop.set()
    await asyncio.wait(tasks, timeout=60)
    for task in tasks:
        task.cancel()
    print(json.dumps({"mode": args.mode, "path": args.path, "streams": args.n, "opened": totals.opened, "open_at_hold": open_at_hold,
                      "failed": totals.failed, "dropped": totals.dropped, "sent": totals.sent, "received": totals.received,
                      "gaps": totals.gaps, "ramp_s": round(ramp, 1), "hold_s": args.hold, "errors": totals.errors}),
          flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["sse-upstream", "ws-upstream", "client"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--mode", choices=["sse", "ws"], default="sse")
    parser.add_argument("--path", default="/")
    parser.add_argument("--key", default="")
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--hold", type=float, default=20.0)
    args = parser.parse_args()
    if args.command == "sse-upstream":
        asyncio.run(sse_upstream(args.port, args.interval))
    elif args.command == "ws-upstream":
        asyncio.run(ws_upstream(args.port))
    else:
        asyncio.run(client(args))


if __name__ == "__main__":
    sys.exit(main())
