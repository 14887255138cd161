"""CLI of the live-data layer: ingest (files, MQTT), watch, emulate, broker, store helpers.

Every command that touches the store takes ``--store PATH`` (else ``$TWINFORGE_STORE``, else
``.twinforge/twinforge.duckdb``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from twinforge.cli.demo import Tour
    from twinforge.data.sync import SignalStatus

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="DuckDB store file or :memory: (default $TWINFORGE_STORE or .twinforge/twinforge.duckdb)",
    ),
]
BrokerOpt = Annotated[str, typer.Option("--broker", "-b", help="MQTT broker HOST:PORT")]
TopicsOpt = Annotated[
    Path | None,
    typer.Option("--topics", help="Topic mapping YAML (default twinforge/<twin>/{node}/{signal})"),
]

_STATUS_STYLE = {"fresh": "green", "stale": "yellow", "missing": "red"}


def _console() -> Console:
    from twinforge.cli.main import console

    return console


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}"


def _age(age: float | None) -> str:
    if age is None:
        return "-"
    if abs(age) < 120:
        return f"{age:.1f} s"
    if abs(age) < 7200:
        return f"{age / 60:.1f} min"
    if abs(age) < 172800:
        return f"{age / 3600:.1f} h"
    return f"{age / 86400:.1f} d"


def status_table(statuses: list[SignalStatus], title: str | None = None) -> Table:
    """Per signal: latest value, age and fresh/stale/missing."""
    table = Table("signal", "observes", "value", "unit", "age", "status", title=title)
    for st in statuses:
        style = _STATUS_STYLE[st.status]
        flag = " (newer bad sample)" if st.latest_bad else ""
        table.add_row(
            f"{st.node}.{st.signal}",
            st.observes,
            _fmt(st.value),
            st.unit or "",
            _age(st.age_s),
            f"[{style}]{st.status}[/{style}]{flag}",
        )
    return table


def state_table(state: Any) -> Table:
    table = Table("node", "state", "value", "unit", "age", "status", "from")
    for r in state:
        style = _STATUS_STYLE[r.status]
        table.add_row(
            r.node,
            r.state,
            _fmt(r.value),
            r.unit or "",
            _age(r.age_s),
            f"[{style}]{r.status}[/{style}]",
            r.source,
        )
    return table


def _cutoff(text: str) -> Any:
    """'30 d' (a duration before now) or an ISO timestamp."""
    from twinforge.data.errors import DataError
    from twinforge.data.model import duration_us, from_us, now_us, to_us

    try:
        return from_us(now_us() - duration_us(text))
    except DataError:
        return from_us(to_us(text))


def register(app: typer.Typer) -> None:
    from twinforge.cli.main import cli_errors

    @app.command("ingest")
    @cli_errors
    def ingest_cmd(
        twin: Annotated[Path, typer.Argument(help="Twin spec file")],
        file: Annotated[Path, typer.Argument(help="CSV or Parquet file")],
        mapping: Annotated[Path, typer.Option("--mapping", "-m", help="Column mapping YAML")],
        store: StoreOpt = None,
        show: Annotated[int, typer.Option(help="List at most this many quarantined rows")] = 20,
    ) -> None:
        """Import a CSV/Parquet file into the store through a column mapping (units converted).

        Prints what was stored and what was quarantined (with line numbers and reasons). Running
        it again on the same file is safe: rows are rewritten, not duplicated. Exit code 1 when the
        file could not be read to its end (the rows before are stored)."""
        from twinforge.data import FileMapping, ingest_file, open_store
        from twinforge.spec import load_spec

        spec = load_spec(twin)
        fmap = FileMapping.from_yaml(mapping)
        console = _console()
        with open_store(store) as st:
            report = ingest_file(spec, file, fmap, st)
            table = Table("", "", title=f"ingest into {st.path}")
            for k, v in report.as_rows():
                table.add_row(k, v)
            console.print(table)
            if report.problems and show > 0:
                listed = Table("where", "why not stored", title="quarantined", title_justify="left")
                for where, why in report.problems[:show]:
                    listed.add_row(where, why)
                console.print(listed)
            if report.quarantine_records:
                more = report.quarantine_records - min(show, len(report.problems))
                console.print(
                    f"[yellow]{report.quarantine_records} quarantine record(s)[/yellow]"
                    + (f" ({more} not listed)" if more > 0 else "")
                    + f": twinforge store quarantine --store {st.path}",
                    highlight=False,
                )
        if not report.complete:
            unit = report.position
            rest = f"{report.lines_not_read} {unit}(s)" if report.lines_not_read is not None else "the rest"
            from twinforge.cli.main import err_console

            err_console.print(
                f"[red bold]incomplete:[/red bold] {file}: reading stopped at {unit} {report.stopped_at}: "
                f"{report.stopped}; {rest} from there on not stored. Fix the file and run the same "
                "command again (rows already stored are rewritten, not duplicated).",
                highlight=False,
            )
            raise typer.Exit(1)

    @app.command("ingest-mqtt")
    @cli_errors
    def ingest_mqtt_cmd(
        twin: Annotated[Path, typer.Argument(help="Twin spec file")],
        broker: BrokerOpt = "127.0.0.1:1883",
        topics: TopicsOpt = None,
        store: StoreOpt = None,
        duration: Annotated[
            float | None, typer.Option(help="Stop after this many seconds (default: until Ctrl-C)")
        ] = None,
        client_id: Annotated[
            str | None, typer.Option(help="MQTT client id (the persistent session's name)")
        ] = None,
        protocol: Annotated[str, typer.Option(help="MQTT protocol: 3.1.1 or 5")] = "3.1.1",
    ) -> None:
        """Subscribe to a broker and write the twin's telemetry into the store (QoS 1, persistent session)."""
        from twinforge.data import MqttIngestor, MqttMapping, open_store, parse_broker
        from twinforge.spec import load_spec

        spec = load_spec(twin)
        host, port = parse_broker(broker)
        tmap = MqttMapping.from_yaml(topics) if topics else None
        console = _console()
        with open_store(store) as st:
            ing = MqttIngestor(spec, st, host, port, mapping=tmap, client_id=client_id, protocol=protocol)
            ing.start(wait_s=None)
            console.print(
                f"ingesting {spec.name!r} from {host}:{port} ({', '.join(ing.mapping.subscriptions())}) into {st.path}; "
                "Ctrl-C stops",
                highlight=False,
            )
            t0 = time.monotonic()
            last = 0.0
            try:
                while duration is None or time.monotonic() - t0 < duration:
                    time.sleep(0.1)
                    if time.monotonic() - last >= 5:
                        last = time.monotonic()
                        s = ing.stats
                        console.print(
                            f"  {'connected' if ing.connected else 'reconnecting'}: {s.messages} messages, "
                            f"{s.samples_stored} samples, {s.quarantined} quarantined, {s.out_of_range} out of range",
                            highlight=False,
                        )
            except KeyboardInterrupt:
                pass
            stats = ing.stop()
            console.print(f"stopped: {json.dumps(stats.as_dict())}", highlight=False)

    @app.command("watch")
    @cli_errors
    def watch_cmd(
        twin: Annotated[Path, typer.Argument(help="Twin spec file")],
        broker: Annotated[
            str | None, typer.Option("--broker", "-b", help="Subscribe to HOST:PORT (else read the store)")
        ] = None,
        topics: TopicsOpt = None,
        store: Annotated[
            str | None,
            typer.Option(
                "--store",
                help="Store to read (without --broker) or to ingest into (with --broker; default :memory:)",
            ),
        ] = None,
        once: Annotated[bool, typer.Option("--once", help="Print one table and exit")] = False,
        duration: Annotated[float | None, typer.Option(help="Stop after this many seconds")] = None,
        interval: Annotated[float, typer.Option(help="Refresh every this many seconds")] = 1.0,
        stale_after: Annotated[float, typer.Option(help="Stale after this many sampling periods")] = 3.0,
        as_json: Annotated[
            bool, typer.Option("--json", help="With --once: print the synced twin state as JSON")
        ] = False,
    ) -> None:
        """Live sync status: per signal the latest value, its age and fresh/stale/missing."""
        from rich.live import Live

        from twinforge.data import (
            DuckDBStore,
            MqttIngestor,
            MqttMapping,
            open_store,
            parse_broker,
            sync_state,
        )
        from twinforge.data.sync import signal_statuses
        from twinforge.spec import load_spec

        spec = load_spec(twin)
        console = _console()
        ing = None
        if broker is not None:
            host, port = parse_broker(broker)
            st = open_store(store) if store else DuckDBStore(":memory:")
            tmap = MqttMapping.from_yaml(topics) if topics else None
            ing = MqttIngestor(spec, st, host, port, mapping=tmap, persistent=False)
            ing.start()
        else:
            st = open_store(store, read_only=True)
        try:
            if once:
                if ing is not None:
                    time.sleep(duration if duration is not None else 2.0)
                    ing.stop()
                if as_json:
                    state = sync_state(spec, st, stale_after_periods=stale_after)
                    typer.echo(json.dumps(state.as_dict(), indent=2))
                else:
                    console.print(
                        status_table(
                            signal_statuses(spec, st, stale_after_periods=stale_after), title=spec.name
                        )
                    )
                return
            t0 = time.monotonic()

            def render() -> Table:
                title = f"{spec.name} — {time.strftime('%H:%M:%S')}"
                if ing is not None:
                    s = ing.stats
                    title += f" — {'connected' if ing.connected else 'reconnecting'}, {s.samples_stored} samples, {s.quarantined} quarantined"
                return status_table(signal_statuses(spec, st, stale_after_periods=stale_after), title=title)

            with Live(render(), console=console, refresh_per_second=4, transient=False) as live:
                try:
                    while duration is None or time.monotonic() - t0 < duration:
                        time.sleep(interval)
                        live.update(render())
                except KeyboardInterrupt:
                    pass
        finally:
            if ing is not None:
                ing.stop()
            st.close()

    @app.command("emulate")
    @cli_errors
    def emulate_cmd(
        twin: Annotated[Path, typer.Argument(help="Twin spec file")],
        broker: BrokerOpt = "127.0.0.1:1883",
        replay: Annotated[
            Path | None, typer.Option(help="Replay this CSV/Parquet file (needs --mapping)")
        ] = None,
        mapping: Annotated[
            Path | None, typer.Option("--mapping", "-m", help="Column mapping YAML for --replay")
        ] = None,
        topics: TopicsOpt = None,
        duration: Annotated[float, typer.Option(help="Seconds of telemetry (simulated or steady)")] = 60.0,
        speed: Annotated[
            float | None,
            typer.Option(help="1 = real time (default); 10 = 10x, times then run ahead of the clock"),
        ] = 1.0,
        batch: Annotated[int, typer.Option(help="Samples per MQTT message")] = 1,
        seed: Annotated[int, typer.Option(help="Seed of the simulation")] = 0,
        steady: Annotated[
            bool, typer.Option(help="Publish a steady plant (initial states + noise) instead of simulating")
        ] = False,
    ) -> None:
        """Publish the twin's telemetry to MQTT: its simulation (default), a steady plant, or a replayed file."""
        from twinforge.data import (
            FileMapping,
            InitialStateTelemetry,
            MqttMapping,
            PlantEmulator,
            ReplaySource,
            SimulatedTelemetry,
            parse_broker,
        )
        from twinforge.data.errors import MappingError
        from twinforge.spec import load_spec

        spec = load_spec(twin)
        host, port = parse_broker(broker)
        if replay is not None:
            if mapping is None:
                raise MappingError("--replay needs --mapping (the column mapping of the file)")
            source: Any = ReplaySource.from_file(
                spec, replay, FileMapping.from_yaml(mapping), start_at=time.time()
            )
        elif steady:
            source = InitialStateTelemetry(spec, duration, seed=seed)
        else:
            source = SimulatedTelemetry(spec, duration, seed=seed)
        tmap = MqttMapping.from_yaml(topics) if topics else None
        with PlantEmulator(spec, host, port, mapping=tmap, samples_per_message=batch) as em:
            _console().print(f"publishing {spec.name!r} telemetry to {host}:{port} …", highlight=False)
            try:
                rep = em.publish(source, speed=speed)
            except KeyboardInterrupt:
                return
        _console().print(
            f"published {rep.samples} samples in {rep.messages} messages in {rep.seconds:.1f} s",
            highlight=False,
        )

    @app.command("broker")
    @cli_errors
    def broker_cmd(
        port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1")] = 1883,
        duration: Annotated[float | None, typer.Option(help="Stop after this many seconds")] = None,
    ) -> None:
        """Run the embedded MQTT broker (amqtt) on loopback, for trying things without mosquitto."""
        from twinforge.data import EmbeddedBroker

        with EmbeddedBroker(port=port) as b:
            _console().print(f"embedded MQTT broker on {b.address}; Ctrl-C stops", highlight=False)
            t0 = time.monotonic()
            try:
                while duration is None or time.monotonic() - t0 < duration:
                    time.sleep(0.2)
            except KeyboardInterrupt:
                pass

    store_app = typer.Typer(help="Inspect and maintain the time-series store.", no_args_is_help=True)
    app.add_typer(store_app, name="store")

    @store_app.command("info")
    @cli_errors
    def store_info(
        store: StoreOpt = None, twin: Annotated[str | None, typer.Option(help="Twin name")] = None
    ) -> None:
        """Row counts and the series held."""
        from twinforge.data import open_store

        with open_store(store, read_only=True) as st:
            console = _console()
            console.print(
                f"store {st.path}: " + ", ".join(f"{k} {v}" for k, v in st.counts(twin).items()),
                highlight=False,
            )
            table = Table("twin", "node", "signal", "unit", "samples", "first", "last")
            for r in st.series_summary(twin).itertuples(index=False):
                table.add_row(
                    r.twin, r.node, r.signal, r.unit or "", str(r.samples), str(r.first), str(r.last)
                )
            console.print(table)

    @store_app.command("latest")
    @cli_errors
    def store_latest(
        twin: Annotated[Path, typer.Argument(help="Twin spec file")],
        store: StoreOpt = None,
        at: Annotated[str | None, typer.Option(help="Judge staleness at this time (default now)")] = None,
    ) -> None:
        """The synced twin state: per observed state variable, the latest value and its age."""
        from twinforge.data import open_store, sync_state
        from twinforge.spec import load_spec

        spec = load_spec(twin)
        with open_store(store, read_only=True) as st:
            _console().print(state_table(sync_state(spec, st, at=at)))

    @store_app.command("resample")
    @cli_errors
    def store_resample(
        twin: Annotated[str, typer.Argument(help="Twin name (or spec file)")],
        every: Annotated[str, typer.Option(help="Bucket width, e.g. '1 min'")] = "1 min",
        agg: Annotated[
            list[str] | None, typer.Option(help="mean, min, max, last, first, count, sum, std")
        ] = None,
        start: Annotated[str | None, typer.Option(help="From (ISO time)")] = None,
        end: Annotated[str | None, typer.Option(help="Until (ISO time, exclusive)")] = None,
        out: Annotated[Path | None, typer.Option(help="Write CSV (or .parquet) instead of printing")] = None,
        store: StoreOpt = None,
    ) -> None:
        """Time-bucket aggregates as a wide table (one column per signal)."""
        from twinforge.data import open_store

        name = _twin_name(twin)
        with open_store(store, read_only=True) as st:
            frame = st.resample(name, every, agg or ["mean"], start, end)
        if out is not None:
            flat = frame.copy()
            if hasattr(flat.columns, "levels"):
                flat.columns = [f"{a}:{b}" for a, b in flat.columns]
            if out.suffix == ".parquet":
                flat.to_parquet(out)
            else:
                flat.to_csv(out)
            _console().print(f"wrote {len(flat)} rows to {out}")
        else:
            _console().print(frame.to_string(max_rows=40), highlight=False)

    @store_app.command("retain")
    @cli_errors
    def store_retain(
        older_than: Annotated[str, typer.Option(help="A duration before now ('30 d') or an ISO time")],
        twin: Annotated[str | None, typer.Option(help="Only this twin (name or spec file)")] = None,
        include: Annotated[
            list[str] | None,
            typer.Option(help="signals, events, text_records, quarantine (default signals, events)"),
        ] = None,
        store: StoreOpt = None,
    ) -> None:
        """Retention: delete data older than a cutoff."""
        from twinforge.data import open_store

        with open_store(store) as st:
            out = st.delete_older_than(
                _cutoff(older_than), _twin_name(twin) if twin else None, include or ("signals", "events")
            )
        _console().print("deleted: " + ", ".join(f"{k} {v}" for k, v in out.items()), highlight=False)

    @store_app.command("downsample")
    @cli_errors
    def store_downsample(
        older_than: Annotated[str, typer.Option(help="A duration before now ('7 d') or an ISO time")],
        every: Annotated[str, typer.Option(help="Bucket width, e.g. '1 min'")],
        value: Annotated[str, typer.Option(help="Value kept per bucket: mean, min, max, last")] = "mean",
        twin: Annotated[str | None, typer.Option(help="Only this twin (name or spec file)")] = None,
        store: StoreOpt = None,
    ) -> None:
        """Replace old raw samples by one aggregate per bucket (count/mean/min/max/last kept as rollups)."""
        from twinforge.data import open_store

        with open_store(store) as st:
            rep = st.downsample(_cutoff(older_than), every, _twin_name(twin) if twin else None, value)
        _console().print(
            f"downsampled: {rep.samples_before} samples → {rep.samples_after} bucket samples", highlight=False
        )

    @store_app.command("quarantine")
    @cli_errors
    def store_quarantine(
        store: StoreOpt = None,
        limit: Annotated[int, typer.Option(help="Show at most this many (newest last)")] = 50,
        twin: Annotated[str | None, typer.Option(help="Only this twin (name or spec file)")] = None,
        source: Annotated[
            str | None, typer.Option(help="Only this source: mqtt, file, store (refused by the store)")
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print JSON lines (full payload text) instead of a table")
        ] = False,
    ) -> None:
        """What could not be stored, with where it came from (topic, file line) and why."""
        from twinforge.data import open_store

        with open_store(store, read_only=True) as st:
            frame = st.quarantined(_twin_name(twin) if twin else None, source)
        shown = frame.tail(limit) if limit > 0 else frame.iloc[0:0]
        if as_json:
            for r in shown.itertuples(index=False):
                row = {
                    "id": int(r.id),
                    "received": r.received.isoformat(),
                    "twin": r.twin,
                    "source": r.source,
                    "location": r.location,
                    "reason": r.reason,
                    "payload": r.text,
                }
                typer.echo(json.dumps(row, ensure_ascii=False))
            return
        title = f"{len(frame)} quarantined" + (
            f", last {len(shown)} shown" if len(shown) < len(frame) else ""
        )
        table = Table("received", "source", "location", "reason", "payload", title=title)
        for r in shown.itertuples(index=False):
            text = r.text if len(r.text) <= 60 else r.text[:57] + "..."
            table.add_row(str(r.received)[:19], r.source, r.location or "", r.reason, text)
        _console().print(table)


def _twin_name(twin: str) -> str:
    p = Path(twin)
    if p.suffix.lower() in (".yaml", ".yml", ".json") and p.exists():
        from twinforge.spec import load_spec

        return load_spec(p).name
    return twin


# -- demo step -------------------------------------------------------------------------------


def data_step(tour: Tour) -> None:
    """Live data: embedded broker → emulator → MQTT ingest → DuckDB → synced twin state."""
    from twinforge.data import (
        DuckDBStore,
        EmbeddedBroker,
        FileMapping,
        MqttIngestor,
        PlantEmulator,
        ReplaySource,
        SimulatedTelemetry,
        sync_state,
    )
    from twinforge.datasets import reference_data
    from twinforge.errors import TwinforgeError
    from twinforge.spec import load_spec

    spec = tour.twins.get("pump_station") or load_spec(tour.folder / "pump_station.yaml")
    tour.step(
        "live data",
        "An embedded MQTT broker, a plant emulator publishing pump-station telemetry (QoS 1), the "
        "ingestor writing to DuckDB, one deliberately malformed message, and the twin's state synced to now.",
    )
    now = time.time()
    try:
        skab = reference_data("skab") / "anomaly-free.csv"
        import pandas as pd

        frame = pd.read_csv(skab, sep=";", dtype=str, nrows=120)
        mapping = FileMapping.from_signal_names(spec, list(frame.columns), "datetime", delimiter=";")
        source: Any = ReplaySource(spec, frame, mapping, end_at=now)
        what = f"SKAB replay ({len(frame)} s of anomaly-free.csv, shifted to end now)"
    except TwinforgeError:
        source = SimulatedTelemetry(spec, 120, start=now - 120)
        what = "the twin's simulated telemetry (120 s)"
    with EmbeddedBroker() as broker, DuckDBStore(":memory:") as store:
        with MqttIngestor(spec, store, broker.host, broker.port, persistent=False) as ing:
            with PlantEmulator(spec, broker.host, broker.port, samples_per_message=20) as em:
                rep = em.publish(source)
                em.publish_raw(
                    f"twinforge/{spec.name}/current_meter/Current", b'{"ts": "yesterday", "value": 2.1}'
                )
            expected = rep.samples + 1
            ing.wait_until(lambda s: s.samples_stored + s.quarantined >= expected, timeout_s=20)
        counts = store.counts(spec.name)
        tour.say(f"  source: {what}, broker {broker.address}")
        tour.say(
            f"  sent {rep.samples} samples in {rep.messages} messages + 1 malformed → "
            f"stored {counts['samples']}, quarantined {counts['quarantine']}"
        )
        q = store.quarantined().iloc[0]
        tour.say(f"  quarantined: {q['location']}: {q['reason']}")
        state = sync_state(spec, store)
        tour.console.print(state_table(state))
