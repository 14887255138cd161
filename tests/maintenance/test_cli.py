"""``twinforge logs`` end to end: ingest, search, modes, trends, and errors without tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from twinforge.cli.main import app

runner = CliRunner()
FLEET = str(Path(__file__).resolve().parent / "fleet.yaml")

LOG = """2011-01-10 | C | L/H BUCKET CYL LEAKING | 100
2011-02-11 | C | RH bucket cylinder leaking oil | 120
2011-07-02 | C | bucket crowd cylinder leaking at gland | 90
2011-03-05 | D | Engine won't start | 0
2011-13-45 | D | RH engine will not start |
2011-06-07 | Q | blown hyd hose on slew | 300
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TWINFORGE_STORE_PATH", str(tmp_path / "audit.duckdb"))  # the AI audit log
    monkeypatch.delenv("TWINFORGE_STORE", raising=False)
    (tmp_path / "log.txt").write_text(LOG)
    return tmp_path


def test_ingest_search_modes_trends(workdir: Path):
    store = str(workdir / "logs.duckdb")
    out = runner.invoke(app, ["logs", "ingest", "log.txt", "--twin", FLEET, "--store", store])
    assert out.exit_code == 0, out.output
    assert "6 work orders read, 6 stored" in out.output
    assert "linked to twin nodes: 5 of 6" in out.output
    assert "bad_date 1" in out.output and "unknown_asset 1" in out.output
    out = runner.invoke(app, ["logs", "search", "bucket cylinder leak in 2011", "--store", store, "-k", "2"])
    assert out.exit_code == 0, out.output
    assert "time filter 'in 2011': 2011-01-01 to 2012-01-01" in out.output
    assert out.output.lower().count("bucket") >= 2
    out = runner.invoke(app, ["logs", "modes", "--store", store])
    assert out.exit_code == 0, out.output
    assert "1 recurring failure modes" in out.output
    assert "ELP" in out.output and "leak" in out.output
    out = runner.invoke(app, ["logs", "trends", "shd23", "--store", store])
    assert out.exit_code == 0, out.output
    assert "2011-07" in out.output and "ELP" in out.output
    out = runner.invoke(app, ["logs", "trends", "D", "--store", store])
    assert "1 work orders of D have no readable date" in out.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["logs", "ingest", "empty.txt", "--store", "s.duckdb", "--no-embed"], "empty.txt is empty"),
        (["logs", "ingest", "nope.csv", "--store", "s.duckdb", "--no-embed"], "not found"),
        (["logs", "ingest", "log.txt", "--store", "log.csv", "--no-embed"], "data-file extension"),
        (["logs", "search", "leaks", "--store", "missing.duckdb"], "does not exist"),
        (["logs", "search", "leaks", "--store", "s.duckdb", "--today", "soon"], "not a date"),
        (["logs", "trends", "ZZ", "--store", "s.duckdb"], "no work orders for asset 'ZZ'"),
    ],
)
def test_errors_are_clear(workdir: Path, args: list[str], message: str):
    (workdir / "empty.txt").write_text("")
    runner.invoke(app, ["logs", "ingest", "log.txt", "--store", "s.duckdb", "--no-embed"])
    out = runner.invoke(app, args)
    assert out.exit_code == 2, out.output
    assert message in " ".join(out.output.split())
    assert "Traceback" not in out.output
