"""MQTT brokers on loopback: an embedded Python broker (amqtt) for the demo, and a managed
mosquitto process (tests, benchmark) with a configuration that never drops QoS 1 messages.

Why the configuration matters: mosquitto's defaults queue at most 1000 QoS 1 messages per client
beyond those in flight (``max_queued_messages``) and drop the rest **silently**; a subscriber that
is slow for a moment (or offline with a persistent session) then loses data. :func:`mosquitto_config`
raises the queue to 1,000,000 messages per client (``max_queued_bytes`` 0 = no byte cap), allows
1000 QoS 1 messages in flight to a client (``max_inflight_messages``; MQTT 5 clients set their own
receive maximum), and keeps sessions and queued messages on disk (``persistence``) so they survive
a broker restart.

Crashes: mosquitto persists by writing a snapshot of its whole in-memory database. With its
default, time-based autosave (``autosave_interval 60``, which twinforge used before), a broker killed
with SIGKILL (or by the OOM killer, or a power cut) loses every session change and queued message
since the last snapshot, up to a minute of QoS 1 messages it had already acknowledged to the
publishers. :func:`mosquitto_config` therefore saves on **every** change
(``autosave_on_changes true`` with ``autosave_interval 1``): a message acknowledged to its
publisher is on disk a few milliseconds later (mosquitto sends the PUBACK, then writes and fsyncs
the snapshot in the same pass of its event loop). The price is one snapshot write + fsync per
message passing through the broker, and each snapshot holds everything queued, so it suits
loopback/edge rates (hundreds of messages/s; batch samples per message) rather than bulk
throughput; pass ``autosave_on_changes=False`` (periodic saves every ``autosave_interval`` seconds)
to trade crash safety for rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from twinforge.data.errors import BrokerError


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout_s: float = 10.0, alive: Any = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise BrokerError(f"broker on {host}:{port} exited while starting")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.02)
    raise BrokerError(f"nothing listens on {host}:{port} after {timeout_s:g} s")


def mosquitto_config(
    port: int,
    data_dir: str | Path,
    *,
    host: str = "127.0.0.1",
    persistence: bool = True,
    max_queued_messages: int = 1_000_000,
    max_inflight_messages: int = 1000,
    autosave_on_changes: bool = True,
    autosave_interval: int = 1,
) -> str:
    """The mosquitto.conf twinforge uses on loopback (see the module doc for each setting).

    ``autosave_on_changes``/``autosave_interval`` are mosquitto's: with ``True`` the snapshot is
    written after every ``autosave_interval`` changes (1: every change, crash-safe), with ``False``
    every ``autosave_interval`` seconds.
    """
    if autosave_interval < 1:
        raise BrokerError(f"autosave_interval must be at least 1, found {autosave_interval}")
    d = Path(data_dir)
    lines = [
        "# written by twinforge.data.brokers.mosquitto_config",
        f"listener {port} {host}",
        "allow_anonymous true",
        "# started as root, mosquitto would switch to user 'mosquitto' and could not write data_dir",
        f"user {_current_user()}",
        "# QoS 1 for a slow or absent persistent subscriber: queue, never drop",
        f"max_queued_messages {max_queued_messages}",
        "max_queued_bytes 0",
        f"max_inflight_messages {max_inflight_messages}",
        "set_tcp_nodelay true",
        "# sessions and their queued messages survive a broker restart, and with a snapshot",
        "# saved on every change also a crash (SIGKILL) after the broker acknowledged them",
        f"persistence {'true' if persistence else 'false'}",
        f"persistence_location {d}/",
        f"autosave_on_changes {'true' if autosave_on_changes else 'false'}",
        f"autosave_interval {autosave_interval}",
        f"log_dest file {d / 'mosquitto.log'}",
        "log_type error",
        "log_type warning",
        "log_type notice",
    ]
    return "\n".join(lines) + "\n"


def _current_user() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def mosquitto_binary() -> str | None:
    """Path of the mosquitto broker binary, or None when it is not installed."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


class MosquittoBroker:
    """A mosquitto process on loopback with :func:`mosquitto_config`, for tests and benchmarks.

    ``stop()`` shuts it down cleanly (SIGTERM: the session database is saved), ``kill()`` kills it
    (SIGKILL: anything not yet saved is gone — with the default configuration, at most what arrived
    in the last few milliseconds), ``start()`` starts it again on the same port and data folder.
    """

    def __init__(self, port: int | None = None, data_dir: str | Path | None = None, **config: Any) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise BrokerError("mosquitto is not installed (apt-get install mosquitto)")
        self.binary = binary
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._tmp = (
            None if data_dir is not None else tempfile.TemporaryDirectory(prefix="twinforge-mosquitto-")
        )
        self.data_dir = Path(data_dir) if data_dir is not None else Path(self._tmp.name)  # type: ignore[union-attr]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.conf_path = self.data_dir / "mosquitto.conf"
        self.conf_path.write_text(mosquitto_config(self.port, self.data_dir, **config), encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> MosquittoBroker:
        if self.running:
            return self
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.conf_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_port(self.host, self.port, timeout_s, alive=lambda: self.process.poll() is None)  # type: ignore[union-attr]
        except BrokerError as exc:
            err = b""
            if self.process.poll() is not None and self.process.stderr is not None:
                err = self.process.stderr.read()
            self.kill()
            raise BrokerError(
                f"mosquitto did not start: {exc}; {err.decode(errors='replace').strip()} {self.log_tail()}"
            ) from None
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        """Clean shutdown (SIGTERM): mosquitto saves sessions and queued messages."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close_pipes()

    def kill(self) -> None:
        """Abrupt death (SIGKILL), as in a crash or power loss."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()

    def log_tail(self, lines: int = 20) -> str:
        log = self.data_dir / "mosquitto.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> MosquittoBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class EmbeddedBroker:
    """An in-process MQTT 3.1.1 broker (amqtt) on a loopback port, run in a background thread.

    Needs no system broker: ``make demo`` and quick experiments use it. Not tuned for throughput
    (pure Python); use mosquitto for production-like rates.
    """

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, *, quiet: bool = True) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Any = None
        self._error: BaseException | None = None
        if quiet:
            for name in ("amqtt", "transitions"):
                logging.getLogger(name).setLevel(logging.CRITICAL)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> EmbeddedBroker:
        from amqtt.broker import Broker

        ready = threading.Event()
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)

            async def boot() -> None:
                self._broker = Broker(config)
                await self._broker.start()

            try:
                loop.run_until_complete(boot())
            except BaseException as exc:  # reported to start()
                self._error = exc
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="twinforge-embedded-broker", daemon=True)
        self._thread.start()
        if not ready.wait(timeout_s) or self._error is not None:
            raise BrokerError(f"embedded MQTT broker did not start on {self.address}: {self._error}")
        wait_for_port(self.host, self.port, timeout_s)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._loop is None or self._thread is None:
            return
        loop = self._loop
        if self._broker is not None and loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), loop)
            with contextlib.suppress(Exception):
                fut.result(timeout_s)
        if loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout_s)
        self._thread = None
        self._loop = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
