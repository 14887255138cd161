"""``twinforge serve`` (the service and web app) and ``twinforge keys`` (its API keys)."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Annotated

import typer

keys_app = typer.Typer(
    help="API keys of the served workspace (hashed at rest; roles viewer, operator, admin)."
)


def _loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def register(app: typer.Typer) -> None:
    from twinforge.cli.main import cli_errors, console

    @app.command()
    @cli_errors
    def serve(
        twins: Annotated[
            list[Path] | None,
            typer.Argument(
                help="Twin files or folders (default: serve.twins of twinforge.toml, else the bundled examples)"
            ),
        ] = None,
        host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1)")] = None,
        port: Annotated[int | None, typer.Option(help="Port (default 8750)")] = None,
        broker: Annotated[
            str | None, typer.Option(help="MQTT broker host:port to ingest live telemetry from")
        ] = None,
        demo: Annotated[
            bool,
            typer.Option(
                help="Demo plant: an embedded broker, and the simulated twins' telemetry published to it live"
            ),
        ] = False,
        store: Annotated[
            Path | None, typer.Option(help="Store file (default .twinforge/twinforge.duckdb)")
        ] = None,
        workspace: Annotated[Path | None, typer.Option(help="Workspace folder: versions, keys")] = None,
    ) -> None:
        """The service: HTTP API, live stream and web app over the twins, with live ingest and monitoring."""
        import uvicorn

        from twinforge.app import Workspace
        from twinforge.app.workspace import ServeSettings
        from twinforge.config import load_settings
        from twinforge.errors import TwinforgeError
        from twinforge.server import create_app

        settings = load_settings().section("serve", ServeSettings)
        updates: dict[str, object] = {}
        if twins:
            updates["twins"] = [str(t) for t in twins]
        if host is not None:
            updates["host"] = host
        if port is not None:
            updates["port"] = port
        if broker is not None:
            updates["broker"] = broker
        if workspace is not None:
            updates["workspace"] = str(workspace)
        settings = settings.model_copy(update=updates)
        ws = Workspace(settings, store=str(store) if store else None)
        if not _loopback(settings.host) and not ws.keys.enabled:
            ws.close()
            raise TwinforgeError(
                f"refusing to serve on {settings.host} without API keys: anyone on the network could change the "
                "twins; add one with `twinforge keys add NAME --role admin`, or bind 127.0.0.1"
            )
        embedded = None
        try:
            if demo and settings.broker is None:
                from twinforge.data import EmbeddedBroker

                embedded = EmbeddedBroker().start()
                ws.broker = embedded.address
            live = ws.start_live(wait_s=10) if ws.broker else []
            fed = ws.start_emulators(settings.emulate) if demo else []
            url = f"http://{settings.host}:{settings.port}/"
            console.print(
                f"[bold]twinforge serve[/bold] — {len(ws.twins.names())} twins: {', '.join(ws.twins.names())}"
            )
            if ws.broker:
                console.print(
                    f"  live data from MQTT {ws.broker}: {', '.join(live) or 'no twin has signals'}"
                )
            if fed:
                console.print(
                    f"  demo plant: emulated telemetry of {', '.join(fed)} (a {settings.monitor.warmup_rows}-row "
                    "backlog first, then live); monitoring fits on the backlog"
                )
            console.print(f"  auth: {ws.status()['auth']}")
            console.print(
                f"  web app [link={url}]{url}[/link]   API docs {url}docs   Ctrl-C stops", highlight=False
            )
            logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
            server = uvicorn.Server(
                uvicorn.Config(
                    create_app(ws),
                    host=settings.host,
                    port=settings.port,
                    log_level="warning",
                    ws="websockets-sansio",
                    timeout_graceful_shutdown=5,
                )
            )
            server.run()
        finally:
            console.print("stopping: emulators, ingest (everything received is stored), jobs …")
            ws.close()
            if embedded is not None:
                embedded.stop()
            console.print("stopped.")

    @keys_app.command("add")
    @cli_errors
    def keys_add(
        name: Annotated[str, typer.Argument(help="Who or what uses the key")],
        role: Annotated[str, typer.Option(help="viewer, operator or admin")] = "viewer",
        workspace: Annotated[Path, typer.Option(help="Workspace folder")] = Path(".twinforge"),
    ) -> None:
        """Make a key; it is printed once and stored only as a hash."""
        from twinforge.app.keys import KeyRing

        key, secret = KeyRing(workspace / "keys.json").add(name, role)
        console.print(
            f"key {key.id} ({key.role}) for {key.name!r}:\n{secret}\nit is not shown again.", highlight=False
        )

    @keys_app.command("list")
    @cli_errors
    def keys_list(
        workspace: Annotated[Path, typer.Option(help="Workspace folder")] = Path(".twinforge"),
    ) -> None:
        from rich.table import Table

        from twinforge.app.keys import KeyRing

        t = Table("id", "name", "role", "revoked")
        for k in KeyRing(workspace / "keys.json").list():
            t.add_row(k.id, k.name, k.role, "yes" if k.revoked else "")
        console.print(t)

    @keys_app.command("revoke")
    @cli_errors
    def keys_revoke(
        key_id: Annotated[str, typer.Argument(help="The key's id")],
        workspace: Annotated[Path, typer.Option(help="Workspace folder")] = Path(".twinforge"),
    ) -> None:
        from twinforge.app.keys import KeyRing

        k = KeyRing(workspace / "keys.json").revoke(key_id)
        console.print(f"revoked {k.id} ({k.name})")

    app.add_typer(keys_app, name="keys")
