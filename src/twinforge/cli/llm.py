"""``twinforge llm ...``: check the configured model, read the audit log, try redaction."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

#: the structured prompt of ``llm check`` and of the demo: one maintenance-log line
CHECK_LOG_LINE = (
    "Technician John Miller (john.miller@acme.com, +49 170 1234567) replaced the bearing on P-101 "
    "in 2.5 hours, WO-2024-00123"
)
CHECK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "asset": {"type": "string", "enum": ["P-101", "P-102", "V-7"]},
        "action": {"type": "string", "enum": ["replace", "inspect", "lubricate", "calibrate"]},
        "part": {"type": "string", "maxLength": 30},
        "hours": {"type": "number", "minimum": 0, "maximum": 24},
    },
    "required": ["asset", "action", "part", "hours"],
    "additionalProperties": False,
}

#: one few-shot example for the check and the demo
CHECK_EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    (
        "Operator Jane Doe lubricated the gearbox on V-7 in 0.5 hours, WO-2024-00077",
        {"asset": "V-7", "action": "lubricate", "part": "gearbox", "hours": 0.5},
    )
]


def _settings(provider: str | None, model: str | None, base_url: str | None) -> Any:
    from twinforge.config import load_settings

    llm: dict[str, Any] = {}
    if provider:
        llm["provider"] = provider
    if model:
        llm["model"] = model
    if base_url:
        llm["base_url"] = base_url
    return load_settings(llm=llm)


def register(app: typer.Typer) -> None:
    from twinforge.cli.main import cli_errors, console

    group = typer.Typer(
        help="The language model: check it, read its audit log, try redaction.", no_args_is_help=True
    )
    app.add_typer(group, name="llm")

    @group.command("check")
    @cli_errors
    def check(
        provider: Annotated[str | None, typer.Option(help="local or openai (default: from config)")] = None,
        model: Annotated[str | None, typer.Option(help="GGUF path (local) or model name (openai)")] = None,
        base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint")] = None,
    ) -> None:
        """Show provider and model, then run one structured and one free-text prompt."""
        from twinforge.ai import LLM

        settings = _settings(provider, model, base_url)
        llm = LLM.from_settings(settings)
        facts = Table("setting", "value", title="LLM")
        for key, value in llm.provider.describe().items():
            facts.add_row(key, str(value))
        facts.add_row("store", str(settings.store.path))
        facts.add_row("redaction", "on (remote provider)" if llm.redacts else "off (text stays local)")
        console.print(facts)

        console.print(f"\n[bold]structured[/bold]: {CHECK_LOG_LINE}", highlight=False)
        value, meta = llm.generate_structured(
            CHECK_LOG_LINE, CHECK_SCHEMA, examples=CHECK_EXAMPLES, cache=False
        )
        console.print_json(json.dumps(value))
        console.print(
            f"  valid after {len(meta.attempts)} attempt(s), {meta.usage.prompt_tokens} prompt + "
            f"{meta.usage.completion_tokens} completion tokens, {meta.latency_s:.2f} s",
            highlight=False,
        )
        question = "In one sentence: why does a pump bearing fail?"
        console.print(f"\n[bold]free text[/bold]: {question}", highlight=False)
        c = llm.chat(question, max_tokens=60, cache=False)
        console.print(f"  {c.text.strip()}", highlight=False)
        console.print(
            f"  {c.usage.prompt_tokens} prompt + {c.usage.completion_tokens} completion tokens, "
            f"{c.latency_s:.2f} s, {c.tokens_per_s:.1f} tokens/s",
            highlight=False,
        )

    @group.command("audit")
    @cli_errors
    def audit(
        limit: Annotated[int, typer.Option("--limit", "-n", help="How many entries")] = 20,
        kind: Annotated[str | None, typer.Option(help="chat, stream, structured or embed")] = None,
        outcome: Annotated[str | None, typer.Option(help="ok, error, invalid or cache_hit")] = None,
    ) -> None:
        """List recent LLM and embedding calls from the audit log, newest first."""
        from twinforge.ai import AuditLog
        from twinforge.config import load_settings

        settings = load_settings()
        log = AuditLog(settings.store.path)
        entries = log.entries(limit=limit, kind=kind, outcome=outcome)
        if not entries:
            console.print(f"no audit entries in {settings.store.path}")
            return
        console.print(audit_table(entries))
        for key, t in log.totals().items():
            console.print(
                f"{key}: {t['calls']} calls ({t['cache_hits']} cache hits, {t['errors']} errors), "
                f"{t['prompt_tokens'] or 0} prompt + {t['completion_tokens'] or 0} completion tokens, "
                f"{t['latency_s'] or 0:.1f} s",
                highlight=False,
            )

    @group.command("redact")
    @cli_errors
    def redact(text: Annotated[str, typer.Argument(help="Text to redact")]) -> None:
        """Show what would be hidden before text goes to a remote provider."""
        from twinforge.ai import Redactor
        from twinforge.config import load_settings

        red = Redactor.from_settings(load_settings().redaction).redact(text)
        console.print(red.text, highlight=False)
        for placeholder, value in red.found.items():
            console.print(f"  {placeholder} = {value}", highlight=False)


def audit_table(entries: list[Any]) -> Table:
    from rich import box

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name, width in (("time", 8), ("kind", 13), ("outcome", 9), ("tokens", 7), ("latency", 6)):
        table.add_column(name, no_wrap=True, min_width=width)
    table.add_column("prompt (last message)", overflow="ellipsis", no_wrap=True, max_width=30)
    for e in entries:
        prompt = "(hash only)" if e.prompt is None else _last_user(e.prompt)
        table.add_row(
            e.ts.strftime("%H:%M:%S"),
            e.kind + (f" #{e.attempt}" if e.attempt and e.attempt > 1 else ""),
            e.outcome,
            f"{e.prompt_tokens or 0}+{e.completion_tokens or 0}",
            f"{e.latency_s:.2f}s" if e.latency_s is not None else "",
            " ".join(prompt.split())[:120],
        )
    return table


def _last_user(prompt: str) -> str:
    try:
        data = json.loads(prompt)
    except json.JSONDecodeError:
        return prompt
    if isinstance(data, list) and data and isinstance(data[-1], dict):
        return str(data[-1].get("content", ""))
    return prompt


def llm_step(tour: Any) -> None:
    """Demo: one maintenance-log line → validated object with the local model; then its redaction."""
    from twinforge.ai import LLM, Redactor
    from twinforge.config import load_settings

    console: Console = tour.console
    tour.step(
        "local LLM, structured and governed",
        "A maintenance-log line becomes a validated object (SmolLM2-135M on the CPU, grammar-constrained "
        "to a JSON Schema); the same line as it would leave the machine for a remote model.",
    )
    settings = load_settings()
    llm = LLM.from_settings(settings)
    value, meta = llm.generate_structured(
        CHECK_LOG_LINE, CHECK_SCHEMA, examples=CHECK_EXAMPLES, max_tokens=80
    )
    tour.say(f"  log:    {CHECK_LOG_LINE}")
    tour.say(f"  object: {json.dumps(value)}")
    source = "cache" if meta.cached else f"{meta.latency_s:.2f} s"
    tour.say(
        f"  valid on attempt {len(meta.attempts)}, {meta.usage.prompt_tokens}+{meta.usage.completion_tokens} "
        f"tokens, {source}; audited in {settings.store.path}"
    )
    red = Redactor.from_settings(settings.redaction).redact(CHECK_LOG_LINE)
    tour.say(f"  redacted for a remote model: {red.text}")
    console.print(f"  placeholders: {', '.join(f'{k}={v}' for k, v in red.found.items())}", highlight=False)
