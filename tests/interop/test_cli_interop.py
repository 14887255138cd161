"""`twinforge import` and `twinforge export`: real files, exit codes, errors without tracebacks."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from twinforge.cli.main import app
from twinforge.spec import load_spec

runner = CliRunner()


def test_import_inp_check_and_export_both_ways(networks, tmp_path):
    out = tmp_path / "net1.yaml"
    r = runner.invoke(app, ["import", str(networks / "Net1.inp"), "--out", str(out), "--check"])
    assert r.exit_code == 0, r.output
    assert "[QUALITY] line 82" in r.output and "match" in r.output
    twin = load_spec(out)
    r = runner.invoke(app, ["export", str(out), "--to", "dtdl", "--out", str(tmp_path / "dtdl")])
    assert r.exit_code == 0, r.output
    back = tmp_path / "back.yaml"
    r = runner.invoke(app, ["import", str(tmp_path / "dtdl" / "Net1.dtdl.json"), "--out", str(back)])
    assert r.exit_code == 0, r.output
    assert load_spec(back) == twin
    r = runner.invoke(app, ["export", str(out), "--to", "aas", "--out", str(tmp_path / "aas")])
    assert r.exit_code == 0, r.output
    env = json.loads((tmp_path / "aas" / "Net1.aas.json").read_text(encoding="utf-8"))
    assert len(env["assetAdministrationShells"]) == 11  # 9 junctions, 1 tank, 1 pump
    r = runner.invoke(app, ["export", str(out), "--to", "inp", "--out", str(tmp_path / "inp")])
    assert r.exit_code == 0 and (tmp_path / "inp" / "Net1.inp").exists()


def test_unknown_formats_are_clear_errors(examples, tmp_path):
    r = runner.invoke(app, ["import", str(tmp_path / "model.xml"), "--out", str(tmp_path / "t.yaml")])
    assert r.exit_code == 2 and "unknown input format '.xml'" in r.output and "Traceback" not in r.output
    r = runner.invoke(
        app, ["export", str(examples / "water_tower.yaml"), "--to", "owl", "--out", str(tmp_path)]
    )
    assert r.exit_code == 2 and "unknown export format 'owl'" in r.output


def test_bad_inp_is_exit_2_with_file_and_line(networks, tmp_path):
    bad = tmp_path / "bad.inp"
    bad.write_text((networks / "Net1.inp").read_text(encoding="utf-8").replace("[RULES]", "[FLOWS]"))
    r = runner.invoke(app, ["import", str(bad), "--out", str(tmp_path / "t.yaml")])
    assert r.exit_code == 2 and "bad.inp:72" in r.output and "[FLOWS]" in r.output
    assert "Traceback" not in r.output
