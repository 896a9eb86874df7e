"""The console's HTTP server: aiohttp on a thread and event loop of its own.

The station loop only ever swaps a snapshot into `Publisher.latest`; the
server reads it, and reads the store through read-only connections on a
small pool of worker threads. A slow or hostile browser ties up its own
request, never the station: live streams are capped in number, every write
to a browser has a deadline, request bodies are small, and commands go only
into the store's command queue (ground.command.queue, as `satedge command`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import secrets
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from ground import command
from ground.config import GroundConfig
from ground.console import data
from ground.console.live import Publisher
from satedge.errors import UserError
from satedge.keys import SAT_ID
from satedge.logs import event
from satedge.vocabulary import DAMAGE_CLASSES, PRECISIONS

log = logging.getLogger("ground.console")

STATIC = Path(__file__).resolve().parent / "static"
TOKEN_NAME = "console.token"
MAX_STREAMS = 16          # live pages at once; more are told to come back later
MAX_BODY_BYTES = 4096     # a command is a few dozen bytes
SEND_DEADLINE_S = 10.0    # a page that does not take an update in this long is dropped
START_DEADLINE_S = 15.0

T = TypeVar("T")


def token_path(cfg: GroundConfig) -> Path:
    """Where the command token is: `console.token_file`, else console.token in the ground's key folder."""
    return cfg.console.token_file or Path(cfg.security.keys_dir) / TOKEN_NAME


def load_token(path: Path) -> str:
    """The token in `path`, made (random, readable by its owner only) if the file is not there yet."""
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32) + "\n")
            event(log, "console token made", path=str(path))
        token = path.read_text().strip()
    except OSError as exc:
        raise UserError(f"cannot read or make the console token {path}: {exc.strerror}") from None
    if len(token) < 16:
        raise UserError(f"the console token in {path} is shorter than 16 characters")
    return token


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class Console:
    """The web console: started with the station, stopped with it; `publisher` is fed by the station loop."""

    def __init__(self, cfg: GroundConfig):
        self.cfg = cfg
        self.store_path = Path(cfg.store.path)
        self.token = load_token(token_path(cfg)) if cfg.console.write else None
        self.publisher = Publisher()
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="console-read")
        self.loop = asyncio.new_event_loop()
        self.runner: web.AppRunner | None = None
        self.thread = threading.Thread(target=self._serve, name="console", daemon=True)
        self.started = threading.Event()
        self.failure: BaseException | None = None
        self.stopped: asyncio.Event | None = None
        self.streams = 0
        self.url = ""

    # ---- life cycle (called from the station's thread) ------------------------------

    @classmethod
    def start(cls, cfg: GroundConfig) -> Console:
        """Serve on `console.bind`, or raise a one-line `UserError` (e.g. the port is in use)."""
        console = cls(cfg)
        console.thread.start()
        if not console.started.wait(START_DEADLINE_S):
            raise UserError(f"the console did not start on console.bind = {cfg.console.bind}")
        if console.failure is not None:
            console.thread.join()
            console.pool.shutdown()
            if isinstance(console.failure, OSError):
                raise UserError(f"cannot serve the console on console.bind = {cfg.console.bind}: "
                                f"{console.failure.strerror or console.failure}") from None
            raise console.failure
        event(log, "console serving", url=console.url, write=cfg.console.write)
        return console

    def stop(self) -> None:
        """Close every page's stream and the listening socket; wait for the thread."""
        stopped = self.stopped
        if stopped is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(stopped.set)
            self.thread.join(START_DEADLINE_S)
        self.pool.shutdown(wait=False, cancel_futures=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to start(): never a silently dead thread
            if not self.started.is_set():
                self.failure = exc
                self.started.set()
            else:
                event(log, "console stopped on an error", logging.ERROR, error=repr(exc))
        finally:
            self.loop.close()

    async def _main(self) -> None:
        self.stopped = asyncio.Event()
        self.runner = web.AppRunner(self.app(), handle_signals=False, access_log=None,
                                    shutdown_timeout=1.0)
        await self.runner.setup()
        host, port = self.cfg.console.address()
        site = web.TCPSite(self.runner, None if host in ("*", "") else host, port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await self.runner.cleanup()
            raise
        bound = self.runner.addresses[0]
        self.url = f"http://{host if host not in ('*', '', '0.0.0.0') else '127.0.0.1'}:{bound[1]}/"
        self.started.set()
        await self.stopped.wait()
        await self.runner.cleanup()

    # ---- the application ---------------------------------------------------------------

    def app(self) -> web.Application:
        """Routes: two pages, their files, the JSON API, the live stream and the command queue."""
        app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[self._headers])
        app.router.add_get("/", self._root)
        app.router.add_get("/map", self._page("map.html"))
        app.router.add_get("/operations", self._page("operations.html"))
        app.router.add_static("/static/", STATIC, follow_symlinks=False)
        app.router.add_get("/api/info", self._info)
        app.router.add_get("/api/map", self._map)
        app.router.add_get("/api/operations", self._operations)
        app.router.add_get("/api/events", self._events)
        app.router.add_post("/api/commands", self._command)
        return app

    @web.middleware
    async def _headers(self, request: web.Request,
                       handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        response = await handler(request)
        images = "'self' data:" + (" http: https:" if self.cfg.console.basemap_url else "")
        response.headers.setdefault("Content-Security-Policy", f"default-src 'self'; img-src {images}; "
                                    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    async def _root(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/map")

    def _page(self, name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def page(request: web.Request) -> web.StreamResponse:
            return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})
        return page

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def _info(self, request: web.Request) -> web.Response:
        console = self.cfg.console
        return web.json_response({"write": console.write, "basemap_url": console.basemap_url,
                                  "refresh_s": console.refresh_s, "precisions": list(PRECISIONS),
                                  "classes": DAMAGE_CLASSES, "commands": list(command.UPLINKS)})

    async def _map(self, request: web.Request) -> web.Response:
        return web.json_response(await self._read(data.map_after, self.store_path, _after(request)))

    async def operations(self) -> dict[str, Any]:
        """The station's live snapshot and what the store says of passes and commands, in one document."""
        stored = await self._read(data.operations, self.store_path)
        return {"live": self.publisher.latest, **stored}

    async def _operations(self, request: web.Request) -> web.Response:
        return web.json_response(await self.operations())

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: `ops` every refresh and (unless `map=0`) `map`, what was stored since `after`."""
        if self.streams >= MAX_STREAMS:
            return _error(503, f"{MAX_STREAMS} live pages are open already: try again later")
        self.streams += 1
        try:
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
            await response.prepare(request)
            after, with_map = _after(request), request.query.get("map") != "0"
            while True:
                ops = await self.operations()
                chunk = f"event: ops\ndata: {json.dumps(ops)}\n\n"
                fresh = await self._read(data.map_after, self.store_path, after) if with_map else None
                if fresh is not None and (fresh["buildings"] or fresh["scenes"]):
                    chunk += f"event: map\ndata: {json.dumps(fresh)}\n\n"
                    after = fresh["after"]
                await asyncio.wait_for(response.write(chunk.encode()), SEND_DEADLINE_S)
                await asyncio.sleep(self.cfg.console.refresh_s)
        except (ConnectionError, TimeoutError):
            return response   # the page went away or stopped reading
        finally:
            self.streams -= 1

    async def _command(self, request: web.Request) -> web.Response:
        """Queue set-precision / set-min-class: write access on, the token, a valid value, else a message."""
        if not self.cfg.console.write or self.token is None:
            return _error(403, "the console is read-only: the ground must be started with console.write = true")
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        given = given.strip() if scheme.lower() == "bearer" else ""
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return _error(401, f"a command needs the console token (the file {TOKEN_NAME} in the ground's key "
                               "folder)" if not given else "wrong console token")
        try:
            body = await request.json()
        except (ValueError, web.HTTPRequestEntityTooLarge):
            return _error(400, "the request is not a JSON object of at most 4 KB")
        if not isinstance(body, dict):
            return _error(400, "the request is not a JSON object")
        verb, value, sat = body.get("command"), body.get("value"), body.get("satellite") or None
        if not isinstance(verb, str) or not isinstance(value, (str, int)) or isinstance(value, bool):
            return _error(400, "a command needs 'command' and 'value'")
        if sat is not None and (not isinstance(sat, str) or not SAT_ID.match(sat)):
            return _error(400, f"not a satellite id: {sat!r}")
        try:
            message = await self._read(command.queue, self.store_path, verb, str(value), sat)
        except UserError as exc:
            return _error(400, str(exc))
        event(log, "console queued a command", message=message, peer=request.remote)
        return web.json_response({"message": message})


def _after(request: web.Request) -> int:
    try:
        return max(0, int(request.query.get("after", "0")))
    except ValueError:
        raise web.HTTPBadRequest(text="after must be an integer") from None
