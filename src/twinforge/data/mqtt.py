"""Live ingest from MQTT: topic → signal mapping, JSON payloads, batched writes, no silent loss.

Payload format (UTF-8 JSON)::

    {"ts": 1718000000.25, "value": 3.2}                       # one sample
    {"ts": "2024-06-10T06:13:20.25Z", "value": 3.2, "quality": "good", "unit": "degF"}
    {"samples": [{"ts": ..., "value": ...}, ...], "unit": "L/min"}   # a batch, as gateways send

- ``ts``: seconds since the Unix epoch (number) or ISO 8601 text (UTC when no offset);
  ``ts_ms``: integer milliseconds instead. One of them is required.
- ``value``: a JSON number (``true``/``false`` read as 1/0). Required.
- ``quality`` (optional): ``good``, ``uncertain``, ``bad`` (or 0, 1, 2).
- ``unit`` (optional): unit of ``value``; default the topic rule's unit, else the signal's unit.
- ``node`` / ``signal`` (optional): name the signal when the topic template does not
  (e.g. one topic per gateway); they may sit on the envelope of a batch or on each sample.
- Other fields are ignored. In a batch, envelope ``unit``, ``quality``, ``node`` and ``signal``
  are defaults for its samples.

Topics map to signals by templates: ``plant/{node}/{signal}`` binds both from the topic,
``plant/{node}`` binds the node (samples name the signal), ``+`` and a final ``#`` are plain
wildcards. The default template is ``twinforge/<twin>/{node}/{signal}``. The ingestor also
subscribes to the literal prefix of each template followed by ``#``, so a message on a topic that
matches no rule is quarantined instead of never being seen.

What never happens: a message is never dropped silently, never crashes the ingestor and never
jams it. A message that is not JSON, lacks a field, has a wrong type, names an unknown node or
signal, carries a unit that does not convert, or holds a time or value the store cannot keep (a
time outside 1970..2262 such as milliseconds sent as ``ts``, a non-finite value) goes to the
store's quarantine with the reason (for a batch, each bad sample separately; the good ones are
stored). Should the store still refuse a batch, the ingestor writes it message by message and
quarantines the message the store refuses, with the store's error; only when even the quarantine
cannot be written (the store itself is down) does it wait and retry, acknowledging nothing.
Values outside the signal's measuring range are **stored** with quality ``OUT_OF_RANGE`` (kept
for diagnosis, left out of aggregates and state sync).

Delivery: QoS 1 with a persistent session (MQTT 3.1.1 ``clean_session=False``, or MQTT 5
``clean_start=False`` with a session expiry), so the broker keeps queueing while the ingestor is
away. Messages are acknowledged (manual PUBACK) only **after** the batch holding them is committed
to the store: at-least-once end to end; redeliveries rewrite the same rows (last write wins). Between
the network thread and the writer sits a bounded queue; when it is full the network thread
**blocks** (backpressure): it stops reading the socket, TCP pushes back and the broker holds the
messages. Nothing is dropped in the client; the broker must be configured to queue enough for a
persistent session (see ``docs/data.md``, mosquitto ``max_queued_messages``). On :meth:`stop`
the ingestor writes and acknowledges what it holds and waits until the broker has read those
acknowledgements (an UNSUBSCRIBE round trip) before it disconnects, so a clean restart does not
get them again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import yaml
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from twinforge.data.errors import BrokerError, DataError, MappingError
from twinforge.data.model import Quality, QuarantineRecord, UnitConverter, now_us, to_us
from twinforge.data.signals import SignalIndex, SignalInfo
from twinforge.data.store import TIME_WINDOW, SampleBatch, TimeSeriesStore, time_problem, value_problem
from twinforge.errors import TwinforgeError
from twinforge.spec import TwinSpec

log = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\{(node|signal)\}")


class TopicRule(BaseModel):
    """One topic template and what it binds."""

    model_config = ConfigDict(extra="forbid")

    topic: str = Field(
        description="Template, e.g. 'plant/{node}/{signal}'; '+' and a final '#' are wildcards"
    )
    node: str | None = Field(
        default=None, description="Node for every message (when the topic has no {node})"
    )
    signal: str | None = Field(
        default=None, description="Signal for every message (when the topic has no {signal})"
    )
    unit: str | None = Field(default=None, description="Unit the values arrive in; default the signal unit")
    _regex: re.Pattern[str] = PrivateAttr()

    def model_post_init(self, _ctx: Any) -> None:
        levels = self.topic.split("/")
        for i, level in enumerate(levels):
            if "#" in level and (level != "#" or i != len(levels) - 1):
                raise ValueError(f"topic {self.topic!r}: '#' must be a whole last level")
            if "+" in level and level != "+":
                raise ValueError(f"topic {self.topic!r}: '+' must be a whole level")
            rest = _PLACEHOLDER.sub("", level)
            if "{" in rest or "}" in rest:
                raise ValueError(f"topic {self.topic!r}: only {{node}} and {{signal}} placeholders are known")
        for name in ("node", "signal"):
            if self.topic.count("{" + name + "}") > 1:
                raise ValueError(f"topic {self.topic!r}: {{{name}}} appears twice")
            if "{" + name + "}" in self.topic and getattr(self, name) is not None:
                raise ValueError(f"topic {self.topic!r} binds {name} and the rule also fixes it")
        parts = []
        for level in levels:
            if level == "+":
                parts.append("[^/]+")
            elif level == "#":
                parts.append(".*")
            else:
                pieces = _PLACEHOLDER.split(level)
                rx = ""
                for k, piece in enumerate(pieces):
                    rx += f"(?P<{piece}>[^/]+)" if k % 2 else re.escape(piece)
                parts.append(rx)
        regex = "/".join(parts)
        if levels[-1] == "#" and len(levels) > 1:  # 'a/#' also matches 'a'
            regex = "/".join(parts[:-1]) + "(?:/.*)?"
        self._regex = re.compile(f"^{regex}$")

    @property
    def binds_node(self) -> bool:
        return "{node}" in self.topic

    @property
    def binds_signal(self) -> bool:
        return "{signal}" in self.topic

    def match(self, topic: str) -> dict[str, str] | None:
        m = self._regex.match(topic)
        return None if m is None else m.groupdict()

    @property
    def subscription(self) -> str:
        return "/".join("+" if ("{" in lv or lv == "+") else lv for lv in self.topic.split("/"))

    @property
    def catch_all(self) -> str:
        """The literal prefix of the template followed by ``#``."""
        prefix = []
        for lv in self.topic.split("/"):
            if "{" in lv or lv in ("+", "#"):
                break
            prefix.append(lv)
        return "/".join([*prefix, "#"])

    def topic_for(self, node: str, signal: str | None) -> str:
        if any(lv in ("+", "#") for lv in self.topic.split("/")):
            raise MappingError(f"cannot publish on template {self.topic!r}: it has '+' or '#' wildcards")
        return self.topic.replace("{node}", node).replace("{signal}", signal or "")


class MqttMapping(BaseModel):
    """Topic rules of one twin; the first rule that matches a topic decides."""

    model_config = ConfigDict(extra="forbid")

    rules: list[TopicRule] = Field(min_length=1)
    catch_all: bool = Field(
        default=True, description="Quarantine messages under a rule's prefix that match no rule"
    )

    @classmethod
    def default(cls, spec: TwinSpec | str, prefix: str | None = None) -> MqttMapping:
        """``<prefix>/{node}/{signal}`` with prefix ``twinforge/<twin name>``."""
        name = spec if isinstance(spec, str) else spec.name
        return cls(rules=[TopicRule(topic=f"{prefix or 'twinforge/' + name}/{{node}}/{{signal}}")])

    @classmethod
    def from_yaml(cls, path: str | Path) -> MqttMapping:
        p = Path(path)
        try:
            from twinforge.inputs import read_yaml  # bounded: size, binary, UTF-8, depth, aliases, tags

            data = read_yaml(p, "topic mapping")
        except OSError as exc:
            raise MappingError(f"cannot read topic mapping {p}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise MappingError(f"{p}: not valid YAML: {exc}") from None
        if isinstance(data, dict) and "topics" in data and "rules" not in data:
            data = {**{k: v for k, v in data.items() if k != "topics"}, "rules": data["topics"]}
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            lines = [
                f"  at {'.'.join(str(x) for x in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
            ]
            raise MappingError(f"invalid topic mapping {p}:\n" + "\n".join(lines)) from None

    def subscriptions(self) -> list[str]:
        subs: list[str] = []
        for rule in self.rules:
            subs.append(rule.subscription)
            if self.catch_all:
                subs.append(rule.catch_all)
        # drop filters covered by a catch-all 'prefix/#'
        alls = [s for s in subs if s.endswith("#")]
        out = []
        for s in dict.fromkeys(subs):
            covered = any(s != a and (a == "#" or s.startswith(a[:-1])) for a in alls)
            if not covered:
                out.append(s)
        return out

    def match(self, topic: str) -> tuple[TopicRule, dict[str, str]] | None:
        for rule in self.rules:
            b = rule.match(topic)
            if b is not None:
                return rule, b
        return None

    def topic_for(self, node: str, signal: str) -> tuple[str, bool]:
        """Topic to publish a sample of ``(node, signal)`` on, and whether the payload must name the
        signal (when the template binds only the node)."""
        for rule in self.rules:
            if rule.binds_node and rule.binds_signal:
                return rule.topic_for(node, signal), False
        for rule in self.rules:
            if rule.binds_node and rule.signal is None:
                return rule.topic_for(node, None), True
        raise MappingError("no topic rule binds {node} (and {signal}) to publish on")

    def check(self, spec: TwinSpec) -> None:
        """Fixed nodes/signals and units of the rules must exist in the twin."""
        index = SignalIndex(spec)
        problems = []
        for i, rule in enumerate(self.rules):
            if rule.node is not None and not spec.has_node(rule.node):
                try:
                    spec.node(rule.node)
                except TwinforgeError as exc:
                    problems.append(f"rules[{i}] ({rule.topic}): {exc}")
            if rule.node is not None and rule.signal is not None:
                try:
                    info = index.lookup(rule.node, rule.signal, where=f"rules[{i}] ({rule.topic})")
                    if rule.unit is not None:
                        UnitConverter(rule.unit, info.unit)
                except TwinforgeError as exc:
                    problems.append(str(exc))
        if problems:
            raise MappingError(f"topic mapping does not fit twin {spec.name!r}:\n  " + "\n  ".join(problems))


# -- decoding ----------------------------------------------------------------------------------


@dataclass
class DecodeResult:
    samples: int = 0
    quarantined: int = 0
    out_of_range: int = 0


class _Reject(Exception):
    """A sample (or message) that goes to quarantine with this reason."""


class MessageDecoder:
    """Turns one MQTT message into samples (appended to a batch) and quarantine records."""

    def __init__(self, spec: TwinSpec, store: TimeSeriesStore, mapping: MqttMapping) -> None:
        self.spec = spec
        self.twin = spec.name
        self.store = store
        self.mapping = mapping
        self.index = SignalIndex(spec)
        self._topics: dict[str, tuple[TopicRule, dict[str, str]] | None] = {}
        self._signals: dict[tuple[str, str], tuple[SignalInfo, int] | str] = {}
        self._converters: dict[tuple[str, str], UnitConverter | str] = {}

    def _signal(self, node: str, signal: str) -> tuple[SignalInfo, int]:
        key = (node, signal)
        hit = self._signals.get(key)
        if hit is None:
            try:
                info = self.index.lookup(node, signal)
                hit = (info, self.store.series_id(self.twin, node, signal, info.unit))
            except MappingError as exc:
                hit = str(exc)
            self._signals[key] = hit
        if isinstance(hit, str):
            raise _Reject(hit)
        return hit

    def _converter(self, src: str, info: SignalInfo) -> UnitConverter:
        key = (src, info.unit)
        hit = self._converters.get(key)
        if hit is None:
            try:
                hit = UnitConverter(src, info.unit)
            except TwinforgeError as exc:
                hit = f"unit {src!r} does not convert to {info.unit or 'dimensionless'!r} of signal {info.label}: {exc}"
            self._converters[key] = hit
        if isinstance(hit, str):
            raise _Reject(hit)
        return hit

    def decode(
        self,
        topic: str,
        payload: bytes,
        received_us: int,
        batch: SampleBatch,
        quarantine: list[QuarantineRecord],
    ) -> DecodeResult:
        result = DecodeResult()

        def reject(reason: str, raw: bytes = payload) -> None:
            quarantine.append(QuarantineRecord("mqtt", topic, raw, reason, self.twin, received_us))
            result.quarantined += 1

        if topic not in self._topics:
            self._topics[topic] = self.mapping.match(topic)
        matched = self._topics[topic]
        if matched is None:
            reject(
                f"topic {topic!r} matches no topic rule ({', '.join(r.topic for r in self.mapping.rules)})"
            )
            return result
        rule, bound = matched
        try:
            data = json.loads(payload.decode("utf-8"))
        except UnicodeDecodeError as exc:
            reject(f"payload is not UTF-8 text: {exc.reason} at byte {exc.start}")
            return result
        except json.JSONDecodeError as exc:
            reject(f"payload is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
            return result
        except ValueError as exc:  # e.g. an integer of more than 4300 digits
            reject(f"payload is not valid JSON: {exc}")
            return result
        except RecursionError:
            reject("payload is not valid JSON for twinforge: it nests arrays or objects too deeply")
            return result
        if not isinstance(data, dict):
            reject(
                f"payload must be a JSON object ({{'ts': ..., 'value': ...}} or {{'samples': [...]}}), "
                f"found {type(data).__name__}"
            )
            return result
        if "samples" in data:
            items = data["samples"]
            if not isinstance(items, list):
                reject(f"'samples' must be a list of samples, found {type(items).__name__}")
                return result
            defaults = {k: data[k] for k in ("node", "signal", "unit", "quality") if k in data}
            for i, item in enumerate(items):
                if not isinstance(item, dict):
                    reject(
                        f"samples[{i}]: a sample must be a JSON object, found {type(item).__name__}",
                        json.dumps(item).encode(),
                    )
                    continue
                try:
                    self._sample({**defaults, **item}, rule, bound, batch, result)
                except _Reject as exc:
                    reject(f"samples[{i}]: {exc}", json.dumps(item, default=str).encode())
            return result
        try:
            self._sample(data, rule, bound, batch, result)
        except _Reject as exc:
            reject(str(exc))
        return result

    def _sample(
        self,
        item: dict[str, Any],
        rule: TopicRule,
        bound: dict[str, str],
        batch: SampleBatch,
        result: DecodeResult,
    ) -> None:
        node = self._name(item, "node", rule.node, bound.get("node"))
        signal = self._name(item, "signal", rule.signal, bound.get("signal"))
        info, sid = self._signal(node, signal)
        if "value" not in item:
            raise _Reject("missing field 'value'")
        value = item["value"]
        if isinstance(value, bool):
            value = 1.0 if value else 0.0
        elif not isinstance(value, int | float):
            raise _Reject(f"'value' must be a number, found {type(value).__name__} {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise _Reject(f"'value' must be a finite number, found {value}")
        if "ts" in item:
            ts = item["ts"]
            if isinstance(ts, bool) or not isinstance(ts, int | float | str):
                raise _Reject(
                    f"'ts' must be epoch seconds or ISO 8601 text, found {type(ts).__name__} {ts!r}"
                )
            try:
                ts_us = to_us(ts)
            except DataError as exc:
                raise _Reject(f"'ts': {exc}") from None
            except (OverflowError, ValueError):  # ISO text of a year pandas cannot hold
                raise _Reject(f"'ts' {ts!r}: time is outside the storable window {TIME_WINDOW}") from None
            field = "ts"
        elif "ts_ms" in item:
            ts = item["ts_ms"]
            if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
                raise _Reject(f"'ts_ms' must be a number of milliseconds, found {ts!r}")
            ts_us = round(ts * 1000)
            field = "ts_ms"
        else:
            raise _Reject("missing field 'ts' (epoch seconds or ISO 8601) or 'ts_ms'")
        problem = time_problem(ts_us)
        if problem is not None:
            shown = repr(ts) if not isinstance(ts, int) or ts.bit_length() < 200 else "(a huge integer)"
            raise _Reject(f"'{field}' {shown}: {problem}")
        quality = Quality.GOOD
        if "quality" in item:
            q = item["quality"]
            ok = (type(q) is int and q in (0, 1, 2)) or (
                isinstance(q, str) and q.lower() in ("good", "uncertain", "bad")
            )
            if not ok:
                raise _Reject(f"'quality' must be good, uncertain or bad (or 0, 1, 2), found {q!r}")
            quality = Quality.parse(q)
        src_unit = item.get("unit", rule.unit)
        if src_unit is not None:
            if not isinstance(src_unit, str):
                raise _Reject(f"'unit' must be text, found {src_unit!r}")
            value = self._converter(src_unit, info)(value)
            if value_problem(value) is not None:
                raise _Reject(
                    f"'value' {item['value']!r} {src_unit} is {value} {info.unit or ''} in the signal's "
                    "unit, not a finite number"
                )
        if info.range is not None and not (info.range[0] <= value <= info.range[1]):
            quality = Quality.OUT_OF_RANGE
            result.out_of_range += 1
        batch.add(sid, ts_us, value, int(quality))
        result.samples += 1

    @staticmethod
    def _name(item: dict[str, Any], key: str, fixed: str | None, bound: str | None) -> str:
        given = item.get(key)
        if given is not None and not isinstance(given, str):
            raise _Reject(f"'{key}' must be text, found {given!r}")
        known = bound if bound is not None else fixed
        if known is not None and given is not None and given != known:
            raise _Reject(f"'{key}' {given!r} contradicts the topic, which says {known!r}")
        name = known if known is not None else given
        if name is None:
            raise _Reject(f"the topic does not name the {key}: the payload needs field '{key}'")
        return name


# -- the subscriber ----------------------------------------------------------------------------


@dataclass
class IngestStats:
    """Counters of an :class:`MqttIngestor` (messages include redeliveries)."""

    messages: int = 0
    samples_stored: int = 0
    quarantined: int = 0
    out_of_range: int = 0
    batches: int = 0
    connects: int = 0
    disconnects: int = 0
    session_resumed: int = 0
    backpressure_waits: int = 0
    queue_high_water: int = 0
    store_errors: int = 0
    #: messages quarantined because the store refused to write them (found by writing one by one)
    store_rejected: int = 0
    last_error: str | None = None

    @property
    def reconnects(self) -> int:
        return max(0, self.connects - 1)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"reconnects": self.reconnects}


_STOP = object()


def parse_broker(text: str, default_port: int = 1883) -> tuple[str, int]:
    """``host``, ``host:port`` or ``mqtt://host:port`` → (host, port)."""
    t = text.strip()
    if "://" in t:
        scheme, t = t.split("://", 1)
        if scheme not in ("mqtt", "tcp"):
            raise BrokerError(f"broker {text!r}: only mqtt:// (plain TCP) is supported")
    t = t.rstrip("/")
    host, _, port = t.rpartition(":") if ":" in t else (t, "", "")
    if not host:
        host, port = t, ""
    try:
        return host, int(port) if port else default_port
    except ValueError:
        raise BrokerError(f"broker {text!r}: port {port!r} is not a number (expected HOST:PORT)") from None


class MqttIngestor:
    """Subscribes to a broker and writes a twin's telemetry into a store.

    Use as a context manager or call :meth:`start` / :meth:`stop`. ``persistent=True`` (default)
    keeps a broker session under a fixed client id so QoS 1 messages are queued while away.
    """

    def __init__(
        self,
        spec: TwinSpec,
        store: TimeSeriesStore,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        mapping: MqttMapping | None = None,
        client_id: str | None = None,
        persistent: bool = True,
        protocol: str = "3.1.1",
        session_expiry_s: int = 7 * 24 * 3600,
        receive_maximum: int = 1000,
        qos: int = 1,
        queue_size: int = 10_000,
        batch_samples: int = 5_000,
        max_latency_s: float = 0.25,
        keepalive_s: int = 30,
        reconnect_min_s: float = 0.1,
        reconnect_max_s: float = 5.0,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        if qos not in (0, 1, 2):
            raise BrokerError(f"qos must be 0, 1 or 2, found {qos}")
        if protocol not in ("3.1.1", "5"):
            raise BrokerError(f"protocol must be '3.1.1' or '5', found {protocol!r}")
        self.spec = spec
        self.store = store
        self.host, self.port = host, port
        self.mapping = mapping or MqttMapping.default(spec)
        self.mapping.check(spec)
        self.client_id = client_id or (
            f"twinforge-ingest-{spec.name}" if persistent else f"twinforge-{uuid.uuid4().hex[:12]}"
        )
        self.persistent = persistent
        self.protocol = protocol
        self.qos = qos
        self.batch_samples = batch_samples
        self.max_latency_s = max_latency_s
        self.stats = IngestStats()
        self.decoder = MessageDecoder(spec, store, self.mapping)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._generation = 0
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._writer: threading.Thread | None = None
        self._connect_error: str | None = None
        self._on_batch: list[Callable[[IngestStats], None]] = []
        self._on_samples: list[Callable[[SampleBatch], None]] = []
        self._subscribe_mid: int | None = None
        self._fence = threading.Event()  # the broker answered our UNSUBSCRIBE fence (see stop())
        self._fence_lock = threading.Lock()
        self._fence_mid: int | None = None
        self._fence_early: set[int] = set()

        kwargs: dict[str, Any] = {
            "callback_api_version": paho.CallbackAPIVersion.VERSION2,
            "client_id": self.client_id,
            "manual_ack": True,
            "reconnect_on_failure": True,
        }
        if protocol == "5":
            kwargs["protocol"] = paho.MQTTv5
        else:
            kwargs["protocol"] = paho.MQTTv311
            kwargs["clean_session"] = not persistent
        self.client = paho.Client(**kwargs)
        self.client.reconnect_delay_set(reconnect_min_s, reconnect_max_s)  # type: ignore[arg-type]
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_unsubscribe = self._on_unsubscribe
        self.client.on_subscribe = self._on_subscribe
        self._connect_kwargs: dict[str, Any] = {"keepalive": keepalive_s}
        if protocol == "5":
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = session_expiry_s if persistent else 0
            props.ReceiveMaximum = receive_maximum
            self._connect_kwargs["clean_start"] = not persistent
            self._connect_kwargs["properties"] = props

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> MqttIngestor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, wait_s: float | None = 10.0) -> MqttIngestor:
        """Connect (retrying in the background) and start writing; wait up to ``wait_s`` for the
        first connection and its subscriptions to be confirmed (None: do not wait)."""
        self._writer = threading.Thread(target=self._write_loop, name="twinforge-mqtt-writer", daemon=True)
        self._writer.start()
        self.client.connect_async(self.host, self.port, **self._connect_kwargs)
        self.client.loop_start()
        if wait_s is not None:
            self.wait_connected(wait_s)
        return self

    def wait_connected(self, timeout_s: float = 10.0) -> None:
        if not self._connected.wait(timeout_s):
            why = f": {self._connect_error}" if self._connect_error else ""
            raise BrokerError(
                f"no connection to MQTT broker {self.host}:{self.port} within {timeout_s:g} s{why}"
            )

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_until(self, predicate: Callable[[IngestStats], bool], timeout_s: float = 30.0) -> bool:
        """Wait until ``predicate(stats)`` holds (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate(self.stats):
                return True
            time.sleep(0.01)
        return predicate(self.stats)

    def wait_idle(self, quiet_s: float = 0.3, timeout_s: float = 30.0) -> None:
        """Wait until nothing new arrived for ``quiet_s`` and everything received is written."""
        deadline = time.monotonic() + timeout_s
        last = (-1, -1)
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            now = (self.stats.messages, self.stats.samples_stored + self.stats.quarantined)
            busy = not self._queue.empty() or self._pending
            if now != last or busy:
                last, quiet_since = now, time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_s:
                return
            time.sleep(0.02)

    def on_batch(self, callback: Callable[[IngestStats], None]) -> None:
        """Call ``callback(stats)`` from the writer thread after each committed batch."""
        self._on_batch.append(callback)

    def on_samples(self, callback: Callable[[SampleBatch], None]) -> None:
        """Call ``callback(batch)`` from the writer thread with each batch once it is stored (a live
        view: the service streams it to clients and scores it)."""
        self._on_samples.append(callback)

    def stop(self, timeout_s: float = 10.0) -> IngestStats:
        """Write and acknowledge everything received, then disconnect."""
        if self._writer is None:
            return self.stats
        self._stopping.set()
        with contextlib.suppress(queue.Full):
            self._queue.put(_STOP, timeout=timeout_s)
        self._writer.join(timeout_s)
        if not self._writer.is_alive():
            # what arrived after the stop marker: store and acknowledge it while still connected,
            # so that a persistent session does not get it again
            leftovers = self._drain()
            if leftovers:
                self._flush_items(leftovers, ack=True)
            self._wait_acks_read(min(timeout_s, 10.0))
        self.client.disconnect()
        self.client.loop_stop()
        # anything that slipped in since: store it (unacknowledged; a persistent session gets it
        # again and the rewrite is harmless)
        leftovers = self._drain()
        if leftovers:
            self._flush_items(leftovers, ack=False)
        self._writer = None
        return self.stats

    def _wait_acks_read(self, timeout_s: float) -> None:
        """Wait until the broker has read our acknowledgements: it answers packets of a client in
        order, so the reply to a (harmless) UNSUBSCRIBE sent after them proves it. Disconnecting
        sooner can make a broker that is busy (mosquitto writing its snapshot on every change) drop
        the unread PUBACKs with the closed connection, and redeliver those messages to the session."""
        if not self.connected:
            return
        rc, mid = self.client.unsubscribe(f"twinforge/ack-fence/{self.client_id}")  # not under our lock
        if rc != paho.MQTT_ERR_SUCCESS or mid is None:
            return
        with self._fence_lock:
            if mid in self._fence_early:  # the answer overtook us
                self._fence_early.discard(mid)
                return
            self._fence.clear()
            self._fence_mid = mid
        self._fence.wait(timeout_s)

    def _on_unsubscribe(self, _c: paho.Client, _u: Any, mid: int, *_rest: Any) -> None:
        with self._fence_lock:
            if mid == self._fence_mid:
                self._fence.set()
            else:
                self._fence_early.add(mid)

    def _drain(self) -> list[tuple[Any, ...]]:
        items = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return items
            if item is not _STOP:
                items.append(item)

    # -- network thread ------------------------------------------------------------------
    def _on_connect(self, client: paho.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if getattr(reason, "is_failure", False):
            self._connect_error = f"broker refused the connection: {reason}"
            self.stats.last_error = self._connect_error
            return
        self._generation += 1
        self.stats.connects += 1
        if getattr(flags, "session_present", False):
            self.stats.session_resumed += 1
        # (re)subscribe every time: a resumed session keeps them, a new one needs them. The
        # ingestor counts as connected once the broker confirmed them (_on_subscribe): a message
        # published before that would find no subscriber on a new session and be dropped
        _rc, self._subscribe_mid = client.subscribe([(t, self.qos) for t in self.mapping.subscriptions()])
        log.info(
            "connected to %s:%s as %s (session present: %s)",
            self.host,
            self.port,
            self.client_id,
            getattr(flags, "session_present", None),
        )

    def _on_subscribe(self, _c: paho.Client, _u: Any, mid: int, reason_codes: Any, _p: Any) -> None:
        if mid != self._subscribe_mid:
            return
        refused = [str(r) for r in reason_codes if getattr(r, "is_failure", False)]
        if refused:
            self._connect_error = (
                f"broker refused the subscription to {', '.join(self.mapping.subscriptions())}: "
                f"{', '.join(refused)}"
            )
            self.stats.last_error = self._connect_error
            log.error("%s", self._connect_error)
            return
        self._connected.set()

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._generation += 1  # messages of the lost connection can no longer be acknowledged
        if self._connected.is_set():
            self.stats.disconnects += 1
        self._connected.clear()
        if not self._stopping.is_set():
            self.stats.last_error = f"disconnected from broker: {reason}; reconnecting"
            log.warning("disconnected from %s:%s (%s); reconnecting", self.host, self.port, reason)

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            topic = msg._topic.decode("utf-8", errors="backslashreplace")
        item = (self._generation, msg.mid, msg.qos, topic, bytes(msg.payload), now_us())
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            # backpressure: block the network thread; the broker holds what we do not read
            self.stats.backpressure_waits += 1
            while True:
                try:
                    self._queue.put(item, timeout=0.5)
                    break
                except queue.Full:
                    if self._writer is None or not self._writer.is_alive():
                        # no writer any more (stopped): leave the message unacknowledged
                        return
        size = self._queue.qsize()
        if size > self.stats.queue_high_water:
            self.stats.queue_high_water = size

    # -- writer thread -------------------------------------------------------------------
    _pending: bool = False

    def _write_loop(self) -> None:
        items: list[tuple[Any, ...]] = []
        batch = SampleBatch()
        quarantine: list[QuarantineRecord] = []
        first_at = 0.0
        stop = False
        while not stop:
            timeout = (
                self.max_latency_s
                if not items
                else max(0.0, first_at + self.max_latency_s - time.monotonic())
            )
            try:
                item = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
            except queue.Empty:
                item = None
            if item is _STOP:
                stop = True
            elif item is not None:
                if not items:
                    first_at = time.monotonic()
                self._pending = True
                items.append(item)
                self._decode(item, batch, quarantine)
            if items and (
                stop
                or item is None
                or len(batch) >= self.batch_samples
                or self._queue.empty()
                or time.monotonic() - first_at >= self.max_latency_s
            ):
                self._commit(items, batch, quarantine, ack=True)
                items, batch, quarantine = [], SampleBatch(), []
                self._pending = False

    def _decode(
        self,
        item: tuple[Any, ...],
        batch: SampleBatch,
        quarantine: list[QuarantineRecord],
        count: bool = True,
    ) -> None:
        _gen, _mid, _qos, topic, payload, received = item
        try:
            res = self.decoder.decode(topic, payload, received, batch, quarantine)
        except Exception as exc:  # a decoder bug must not lose the message
            log.exception("decoder failed on %s", topic)
            quarantine.append(
                QuarantineRecord(
                    "mqtt",
                    topic,
                    payload,
                    f"internal error while decoding: {exc!r}",
                    self.spec.name,
                    received,
                )
            )
            res = DecodeResult(quarantined=1)
        if count:
            self.stats.out_of_range += res.out_of_range

    def _store_failed(self, exc: Exception, attempt: int) -> None:
        self.stats.store_errors += 1
        self.stats.last_error = f"store write failed: {exc}"
        log.error("store write failed (attempt %d): %s", attempt, exc)

    def _write(
        self, items: list[tuple[Any, ...]], batch: SampleBatch, quarantine: list[QuarantineRecord]
    ) -> tuple[SampleBatch, int, bool]:
        """Write a decoded batch: ``(samples stored, records quarantined, complete)``.

        When the store refuses the batch, the messages are written one by one, so one message the
        store cannot take is quarantined (with the store's error) instead of failing the batch on
        every retry. Only when the quarantine cannot be written either is the store itself down:
        then wait and retry the same message (forever, unless stopping: then give up after three
        attempts and return ``complete=False``, leaving the messages unacknowledged).
        """
        try:
            self.store.write_batch(batch, quarantine)
            return batch, len(quarantine), True
        except Exception as exc:
            self._store_failed(exc, 1)
        stored, quarantined = SampleBatch(), 0
        attempts, i = 1, 0
        while i < len(items):
            _gen, _mid, _qos, topic, payload, received = items[i]
            one, records = SampleBatch(), []
            self._decode(items[i], one, records, count=False)
            try:
                self.store.write_batch(one, records)
                for col in ("sid", "ts_us", "value", "quality"):
                    getattr(stored, col).extend(getattr(one, col))
                quarantined += len(records)
                i, attempts = i + 1, 0
                continue
            except Exception as exc:
                refused = f"the store refused to write this message: {exc}"
            try:
                record = QuarantineRecord("mqtt", topic, payload, refused, self.spec.name, received)
                self.store.write_quarantine([record])
                self.stats.store_rejected += 1
                log.warning("quarantined a message on %s the store refused: %s", topic, refused)
                quarantined += 1
                i, attempts = i + 1, 0
            except Exception as exc:  # not the message: the store is down
                attempts += 1
                self._store_failed(exc, attempts)
                if self._stopping.is_set() and attempts >= 3:
                    self.stats.samples_stored += len(stored)
                    return stored, quarantined, False
                time.sleep(min(5.0, 0.2 * attempts))
        return stored, quarantined, True

    def _flush_items(self, items: list[tuple[Any, ...]], ack: bool) -> None:
        batch, quarantine = SampleBatch(), []
        for item in items:
            self._decode(item, batch, quarantine)
        self._commit(items, batch, quarantine, ack=ack)

    def _commit(
        self, items: list[tuple[Any, ...]], batch: SampleBatch, quarantine: list[QuarantineRecord], ack: bool
    ) -> None:
        stored, quarantined, complete = self._write(items, batch, quarantine)
        if not complete:
            return  # stopping while the store is down: unacknowledged, the broker redelivers
        self.stats.messages += len(items)
        self.stats.samples_stored += len(stored)
        self.stats.quarantined += quarantined
        self.stats.batches += 1
        if ack:
            gen = self._generation
            for g, mid, qos, *_ in items:
                if qos > 0 and g == gen:
                    self.client.ack(mid, qos)
        for cb in self._on_batch:
            try:
                cb(self.stats)
            except Exception:
                log.exception("on_batch callback failed")
        if len(stored):
            for sample_cb in self._on_samples:
                try:
                    sample_cb(stored)
                except Exception:
                    log.exception("on_samples callback failed")
