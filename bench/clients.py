"""Load generator: client processes, each holding K WebSocket clients in one room.

A process holds named sets of sockets (one per target, so every target stays connected while
the steps alternate between them) and obeys commands from the orchestrator over a pipe:

    ("connect", name, [(url, headers), ...], origin, first_sid, history)
                                                            -> {"ok", "errors", "seconds"}
    ("backfill", name)                     -> {"recovered", "failed_requests", "unsynced"}
    ("close", name or None)                                      -> {"closed"}
    ("run", name, step, rate, seconds, start_at_ns)              -> {"sent", "lag_ms", ...}
    ("stats", step)                                         -> {"received", "idle_s"}
    ("collect", step)                                       -> latencies as compact arrays
    ("quiet",)                                              -> {"idle_s", "late"}
    ("exit",)

A bench message's text is "bench <step> <sender> <seq> <t_ns>" where t_ns is the sender's
time.monotonic_ns() just before the send. CLOCK_MONOTONIC is system-wide on Linux, so a
receiver in another process computes send-to-receive latency from it directly. Receivers find
the text inside whatever JSON frame the server sends (our payload or the client's own frame
echoed by the baselines) without parsing the JSON, so the generator stays cheap.

Back-fill, as the page does it (static/js/lib/thread.js): for a socket set opened with a
`history` path (ours), each socket keeps `through`, the highest message id up to which it has
everything. A live message with id through+1 advances it; a higher id is a gap, and the socket
fetches `history/?after=<through>` (page by page), at most once per GAP_BACKFILL_INTERVAL_S.
After each step every socket back-fills once more (the page does so on its next message or
reconnect). A message that arrives only through a back-fill counts as `recovered`; one that
neither arrives live nor through a back-fill is really lost.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import json
import multiprocessing as mp
import time
from collections import Counter
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

MARK = '"bench '
# Handshakes in flight per process. Our consumer's handshake does database work on one
# thread, and daphne drops a socket whose app has not accepted it within 5 s
# (--websocket_connect_timeout), so a large storm of connects fails on a busy machine.
CONNECT_CONCURRENCY = 8
CONNECT_ATTEMPTS = 3
# The page back-fills a gap at most this often (GAP_BACKFILL_INTERVAL_MS in thread.js).
GAP_BACKFILL_INTERVAL_S = 2.0
HISTORY_LIMIT = 100
BACKFILL_CONCURRENCY = 8
# After a step, a socket whose back-fill fails tries again with backoff for this long.
BACKFILL_RETRY_S = 30.0


def bench_frame(step: str, sender: int, seq: int, t_ns: int) -> str:
    """The client->server frame; the chat protocol (client_id makes retries idempotent)."""
    return (
        f'{{"type": "chat_message", "message": "bench {step} {sender} {seq} {t_ns}", '
        f'"client_id": "b{step}-{sender}-{seq}"}}'
    )


class StepStats:
    __slots__ = (
        "acked",
        "bf",
        "echo",
        "first_ns",
        "last_ns",
        "lat",
        "received",
        "recovered",
        "refused",
    )

    def __init__(self) -> None:
        self.lat = array.array("I")  # microseconds, every delivery
        self.echo = array.array("I")  # microseconds, deliveries of a socket's own messages
        self.bf = array.array("I")  # microseconds, history back-fill requests during the step
        self.received = 0
        self.recovered = 0  # deliveries that came only through a back-fill
        self.refused = 0  # sends answered with a slow_down error frame (nothing saved)
        self.acked = 0  # sends the server acknowledged (saved)
        self.first_ns = 0
        self.last_ns = 0


class History:
    """Where a socket set back-fills from: the history endpoint, with each socket's cookie."""

    def __init__(self, port: int, path: str) -> None:
        self.port = port
        self.path = path
        self.cookies: dict[int, str] = {}


class Sync:
    """One socket's back-fill state (the page's syncedThrough)."""

    __slots__ = ("above", "again", "busy", "last_bf", "recovered", "through")

    def __init__(self, through: int) -> None:
        self.through = through
        self.above: set[int] = set()  # ids received live above through+1
        self.recovered: dict[int, str] = {}  # id -> step, for ids fetched before they arrived
        self.last_bf = 0.0
        self.busy = False
        self.again = False


async def http_get_json(port: int, path: str, cookie: str) -> tuple[int, Any]:
    """A minimal HTTP/1.1 GET on loopback (the generator has no HTTP client library)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
                "Accept: application/json\r\nConnection: close\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        data = await reader.read()
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        body = _unchunk(body)
    return status, (json.loads(body) if status == 200 else body[:200])


def _unchunk(body: bytes) -> bytes:
    out, i = bytearray(), 0
    while True:
        j = body.index(b"\r\n", i)
        size = int(body[i:j].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += body[j + 2 : j + 2 + size]
        i = j + 2 + size + 2


class Worker:
    def __init__(self, conn: Connection, index: int) -> None:
        self.conn = conn
        self.index = index
        self.sets: dict[str, list[tuple[int, ClientConnection]]] = {}
        self.history: dict[str, History] = {}
        self.sync: dict[int, Sync] = {}
        self.set_of: dict[int, str] = {}
        self.readers: dict[str, list[asyncio.Task]] = {}
        self.steps: dict[str, StepStats] = {}
        self.collected: set[str] = set()
        self.late: Counter[str] = Counter()
        self.other: Counter[str] = Counter()  # non-bench frames by type
        self.error_samples: list[str] = []
        self.closed_codes: Counter[str] = Counter()
        self.last_recv = time.monotonic()
        self.commands: asyncio.Queue = asyncio.Queue()
        self.tasks: set[asyncio.Task] = set()
        self.bf_failed = 0  # back-fill requests that failed (error status or connection)

    # --- plumbing -----------------------------------------------------------------------

    def _on_pipe(self) -> None:
        try:
            while self.conn.poll():
                self.commands.put_nowait(self.conn.recv())
        except (EOFError, OSError):
            self.commands.put_nowait(("exit",))

    def reply(self, data: dict[str, Any]) -> None:
        data["cpu_s"] = time.process_time()
        self.conn.send(data)

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self.conn.fileno(), self._on_pipe)
        try:
            while True:
                cmd = await self.commands.get()
                name, args = cmd[0], cmd[1:]
                if name == "exit":
                    break
                if name == "run":  # runs while stats/collect requests are answered
                    task = asyncio.create_task(self.run_step(*args))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
                else:
                    try:
                        await getattr(self, f"cmd_{name}")(*args)
                    except Exception as exc:  # the orchestrator raises it; keep serving
                        self.reply({"error": f"{name}: {type(exc).__name__}: {exc}"})
        finally:
            loop.remove_reader(self.conn.fileno())
            await self.cmd_close(None, reply=False)

    # --- commands -----------------------------------------------------------------------

    async def cmd_connect(
        self,
        name: str,
        targets: Sequence[tuple[str, dict[str, str]]],
        origin: str | None,
        first_sid: int,
        history: tuple[int, str] | None = None,
    ) -> None:
        """(Re)open socket set `name`: one socket per (url, headers), sender ids from
        first_sid up; with `history` (port, path) its sockets back-fill like the page."""
        await self.cmd_close(name, reply=False)
        started = time.monotonic()
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        errors: list[str] = []

        async def open_one(
            sid: int, url: str, hdrs: dict[str, str]
        ) -> tuple[int, ClientConnection] | None:
            for attempt in range(CONNECT_ATTEMPTS):
                async with gate:
                    try:
                        ws = await connect(
                            url,
                            additional_headers=hdrs,
                            origin=origin,
                            compression=None,
                            open_timeout=30,
                            max_queue=None,
                            max_size=2**20,
                        )
                    except InvalidStatus as exc:  # refused: retrying will not help
                        errors.append(f"HTTP {exc.response.status_code}")
                        return None
                    except (OSError, TimeoutError, WebSocketException) as exc:
                        errors.append(f"attempt {attempt + 1}: {type(exc).__name__}: {exc}")
                    else:
                        return sid, ws
                await asyncio.sleep(0.5 * (attempt + 1))
            return None

        opened = await asyncio.gather(
            *(open_one(first_sid + i, url, h) for i, (url, h) in enumerate(targets))
        )
        sockets = self.sets[name] = [s for s in opened if s is not None]
        if history is not None and sockets:
            hist = self.history[name] = History(*history)
            for i, (_url, hdrs) in enumerate(targets):
                hist.cookies[first_sid + i] = hdrs.get("Cookie", "")
            # As the page renders: everything up to the newest message is already shown.
            status, data = await http_get_json(
                hist.port, f"{hist.path}?limit=1", hist.cookies[sockets[0][0]]
            )
            if status != 200:
                raise RuntimeError(f"history answered {status}: {data!r}")
            newest = max((m["message_id"] for m in data["messages"]), default=0)
            for sid, _ws in sockets:
                self.sync[sid] = Sync(newest)
                self.set_of[sid] = name
        self.readers[name] = [asyncio.create_task(self.read(sid, ws)) for sid, ws in sockets]
        self.reply(
            {
                "ok": len(sockets),
                "errors": dict(Counter(errors)),
                "seconds": time.monotonic() - started,
            }
        )

    async def cmd_close(self, name: str | None, reply: bool = True) -> None:
        """Close socket set `name` (every set for None)."""
        if name is None:
            for task in list(self.tasks):
                task.cancel()
        names = list(self.sets) if name is None else [name]
        sockets = [s for n in names for s in self.sets.pop(n, [])]
        for n in names:
            self.history.pop(n, None)
        for sid, _ws in sockets:
            self.sync.pop(sid, None)
        readers = [t for n in names for t in self.readers.pop(n, [])]
        if sockets:
            await asyncio.gather(
                *(asyncio.wait_for(ws.close(), 5) for _, ws in sockets), return_exceptions=True
            )
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        if reply:
            self.reply({"closed": len(sockets), "closed_by_server": dict(self.closed_codes)})

    async def run_step(
        self, name: str, step: str, rate: float, seconds: float, start_at_ns: int
    ) -> None:
        """Send round-robin over socket set `name` on a fixed schedule (open loop)."""
        n = round(rate * seconds) if rate > 0 else 0
        interval = 1e9 / rate if rate > 0 else 0
        give_up = start_at_ns + int((seconds + max(2.0, seconds)) * 1e9)
        sent = send_errors = 0
        lag_max = 0
        socks = self.sets.get(name, [])
        probe = None
        if step.startswith("h") and name in self.history and socks and self.probe_s > 0:
            probe = asyncio.create_task(self.probe(name, step, socks[0][0], start_at_ns, seconds))
        for i in range(n):
            if not socks:
                break
            target = start_at_ns + int(i * interval)
            now = time.monotonic_ns()
            if target > now:
                await asyncio.sleep((target - now) / 1e9)
            elif now > give_up:
                break  # the server pushed back so long that the step is over anyway
            sid, ws = socks[i % len(socks)]
            t = time.monotonic_ns()
            lag_max = max(lag_max, t - target)
            try:
                await ws.send(bench_frame(step, sid, i, t))
                sent += 1
            except ConnectionClosed:
                send_errors += 1
        if probe is not None:
            await probe
        self.reply(
            {
                "step": step,
                "sent": sent,
                "planned": n,
                "send_errors": send_errors,
                "lag_ms": lag_max / 1e6,
            }
        )

    probe_s = 0.25

    async def probe(self, name: str, step: str, sid: int, start_at_ns: int, seconds: float):
        """While the step sends: a back-fill request (?after= this socket's position, one
        page) every `probe_s`, timed. Its answer is discarded: it measures, it does not sync."""
        hist = self.history[name]
        await asyncio.sleep(max(0.0, (start_at_ns - time.monotonic_ns()) / 1e9))
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            sync = self.sync.get(sid)
            if sync is None:
                return
            t0 = time.monotonic_ns()
            with contextlib.suppress(OSError, ValueError, IndexError):
                status, _ = await http_get_json(
                    hist.port,
                    f"{hist.path}?after={sync.through}&limit={HISTORY_LIMIT}",
                    hist.cookies[sid],
                )
                if status == 200:
                    self.step_stats(step).bf.append((time.monotonic_ns() - t0) // 1000)
            await asyncio.sleep(self.probe_s)

    def step_stats(self, step: str) -> StepStats:
        st = self.steps.get(step)
        if st is None:
            st = self.steps[step] = StepStats()
            st.first_ns = time.monotonic_ns()
        return st

    async def cmd_backfill(self, name: str) -> None:
        """Every socket of set `name` back-fills once (after a step: what the page does on its
        next message or reconnect). A back-fill that fails (an error status, a refused or
        dropped connection) is tried again with backoff, as the page would on its next message
        or reconnect, for up to BACKFILL_RETRY_S; each failed request is counted, and a socket
        that never managed one is reported as unsynced, so `lost` counts only deliveries that
        a successful back-fill did not find."""
        gate = asyncio.Semaphore(BACKFILL_CONCURRENCY)
        before = sum(len(s.recovered) for s in self.sync.values())
        failed_before = self.bf_failed
        unsynced = 0

        async def one(sid: int) -> None:
            nonlocal unsynced
            give_up = time.monotonic() + BACKFILL_RETRY_S
            pause = 0.25
            while True:
                async with gate:
                    outcome = await self.backfill(sid)
                if outcome is True:
                    return
                if outcome is None:  # a gap back-fill is running: wait for it, then go again
                    while (sync := self.sync.get(sid)) is not None and sync.busy:
                        await asyncio.sleep(0.05)
                    continue
                if time.monotonic() + pause > give_up:
                    unsynced += 1
                    return
                await asyncio.sleep(pause)
                pause = min(pause * 2, 4.0)

        await asyncio.gather(*(one(sid) for sid, _ in self.sets.get(name, [])))
        after = sum(len(s.recovered) for s in self.sync.values())
        self.reply(
            {
                "recovered": after - before,
                "failed_requests": self.bf_failed - failed_before,
                "unsynced": unsynced,
            }
        )

    async def backfill(self, sid: int) -> bool | None:
        """Fetch everything after the socket's `through`, page by page (single-flight).
        True: caught up; False: a request failed (counted in `bf_failed`); None: another
        back-fill of this socket is running and will go round once more."""
        sync = self.sync.get(sid)
        name = self.set_of.get(sid)
        if sync is None or name not in self.history:
            return True
        if sync.busy:
            sync.again = True
            return None
        hist = self.history[name]
        sync.busy = True
        try:
            while True:
                sync.again = False
                sync.last_bf = time.monotonic()
                for _page in range(1000):
                    path = f"{hist.path}?after={sync.through}&limit={HISTORY_LIMIT}"
                    try:
                        status, data = await http_get_json(hist.port, path, hist.cookies[sid])
                    except (OSError, ValueError, IndexError):
                        self.bf_failed += 1
                        return False
                    if status != 200:
                        self.bf_failed += 1
                        return False
                    items = data["messages"]
                    for item in items:
                        mid = item["message_id"]
                        if mid <= sync.through or mid in sync.above:
                            continue
                        text = item["message"]
                        if text.startswith("bench "):
                            step = text.split(" ", 2)[1]
                            sync.recovered[mid] = step
                            self.step_stats(step).recovered += 1
                    if items:
                        sync.through = max(sync.through, max(m["message_id"] for m in items))
                        sync.above = {i for i in sync.above if i > sync.through}
                    if not data.get("has_more") or not items:
                        break
                if not sync.again:
                    return True
        finally:
            sync.busy = False

    def live_id(self, sid: int, mid: int, step: str) -> bool:
        """Note a live message id; False when it is a copy of one already delivered."""
        sync = self.sync[sid]
        if mid in sync.recovered:  # it came live after all
            st = self.steps.get(sync.recovered.pop(mid))
            if st is None:  # its step is reported already, this one as recovered
                return False
            st.recovered -= 1
            return True
        if mid <= sync.through or mid in sync.above:
            return False
        if mid == sync.through + 1 and not sync.busy:
            sync.through = mid
            while sync.through + 1 in sync.above:
                sync.through += 1
                sync.above.discard(sync.through)
        else:
            sync.above.add(mid)
            if not sync.busy:
                wait = sync.last_bf + GAP_BACKFILL_INTERVAL_S - time.monotonic()
                task = asyncio.get_running_loop().call_later(
                    max(0.0, wait), lambda: self.spawn(self.backfill(sid))
                )
                del task
        return True

    def spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def cmd_stats(self, step: str) -> None:
        st = self.steps.get(step)
        self.reply(
            {
                "received": st.received if st else 0,
                "answered": (st.acked + st.refused) if st else 0,
                "idle_s": time.monotonic() - self.last_recv,
            }
        )

    async def cmd_collect(self, step: str) -> None:
        st = self.steps.pop(step, None) or StepStats()
        self.collected.add(step)
        self.reply(
            {
                "received": st.received,
                "recovered": st.recovered,
                "refused": st.refused,
                "lat": st.lat.tobytes(),
                "echo": st.echo.tobytes(),
                "bf": st.bf.tobytes(),
                "first_ns": st.first_ns,
                "last_ns": st.last_ns,
                "other": dict(self.other),
                "error_samples": self.error_samples[:3],
                "closed_by_server": dict(self.closed_codes),
                "open": sum(len(v) for v in self.sets.values()),
            }
        )
        self.other.clear()
        self.error_samples.clear()

    async def cmd_quiet(self) -> None:
        late, self.late = dict(self.late), Counter()
        self.reply({"idle_s": time.monotonic() - self.last_recv, "late": late})

    # --- receiving ----------------------------------------------------------------------

    async def read(self, sid: int, ws: ClientConnection) -> None:
        steps = self.steps
        synced = sid in self.sync
        try:
            async for text in ws:
                now = time.monotonic_ns()
                self.last_recv = now / 1e9
                if isinstance(text, bytes):
                    text = text.decode()
                i = text.find(MARK)
                if i < 0:
                    self.other_frame(text)
                    continue
                j = text.find('"', i + 7)
                step, sender, _seq, t_ns = text[i + 7 : j].split(" ")
                if synced:
                    k = text.find('"message_id": ')
                    if k >= 0:
                        mid = int(text[k + 14 : text.index(",", k)])
                        if not self.live_id(sid, mid, step):
                            continue
                st = steps.get(step)
                if st is None:
                    if step in self.collected:
                        self.late[step] += 1
                        continue
                    st = steps[step] = StepStats()
                    st.first_ns = now
                us = (now - int(t_ns)) // 1000
                st.lat.append(us)
                if int(sender) == sid:
                    st.echo.append(us)
                st.received += 1
                st.last_ns = now
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            self.closed_codes[str(rcvd.code) if rcvd else "no close frame"] += 1
        except Exception as exc:
            self.closed_codes[f"reader crashed: {type(exc).__name__}"] += 1

    def other_frame(self, text: str) -> None:
        try:
            kind = str(json.loads(text).get("type", "?"))
        except (ValueError, AttributeError):
            kind = "non-json"
        if kind == "ack":
            with contextlib.suppress(ValueError, KeyError, IndexError):
                client_id = json.loads(text)["client_id"]
                self.step_stats(client_id[1:].split("-")[0]).acked += 1
                return
        if kind == "error" and '"slow_down"' in text:
            # Pushback: the send was refused before saving (client_id "b<step>-<sid>-<seq>").
            with contextlib.suppress(ValueError, KeyError, IndexError):
                client_id = json.loads(text)["client_id"]
                self.step_stats(client_id[1:].split("-")[0]).refused += 1
                return
        self.other[kind] += 1
        if kind == "error" and len(self.error_samples) < 3:
            self.error_samples.append(text[:200])


def worker_main(conn: Connection, index: int) -> None:
    worker = Worker(conn, index)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(worker.main())


# --- orchestrator side ------------------------------------------------------------------


class ClientPool:
    """The client processes, started with `spawn` (a clean interpreter, not a Django fork)."""

    def __init__(self, processes: int) -> None:
        ctx = mp.get_context("spawn")
        self.conns: list[Connection] = []
        self.procs: list[mp.Process] = []
        for i in range(processes):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(child, i), name=f"bench-client-{i}")
            proc.daemon = True
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    def __len__(self) -> int:
        return len(self.procs)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def send(self, index: int, *cmd: Any) -> None:
        self.conns[index].send(cmd)

    def recv(self, index: int, timeout: float) -> dict:
        conn = self.conns[index]
        if not conn.poll(timeout):
            alive = self.procs[index].is_alive()
            raise TimeoutError(
                f"client process {index} did not answer in {timeout}s (alive={alive})"
            )
        reply = conn.recv()
        if "error" in reply:
            raise RuntimeError(f"client process {index}: {reply['error']}")
        return reply

    def request_all(self, *cmd: Any, timeout: float = 60.0) -> list[dict]:
        for i in range(len(self)):
            self.send(i, *cmd)
        return [self.recv(i, timeout) for i in range(len(self))]

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError, BrokenPipeError):
                conn.send(("exit",))
        deadline = time.monotonic() + 5
        for proc in self.procs:
            proc.join(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=2)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=2)
        for conn in self.conns:
            conn.close()
        self.procs, self.conns = [], []


def split(items: Sequence[Any], parts: int) -> list[list[Any]]:
    """Split into `parts` contiguous chunks whose sizes differ by at most one."""
    q, r = divmod(len(items), parts)
    out, start = [], 0
    for i in range(parts):
        end = start + q + (1 if i < r else 0)
        out.append(list(items[start:end]))
        start = end
    return out
