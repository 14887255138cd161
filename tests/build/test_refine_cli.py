"""Refining a twin in plain language (a diff to accept), the CLI faces, and a real-model choice."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from twinforge.build import BuildError
from twinforge.build.kinds import choose_kind, find_mentions, resolve_kind
from twinforge.build.refine import refine_twin
from twinforge.cli.main import app
from twinforge.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
LINE = ROOT / "examples" / "bottling_line.yaml"
runner = CliRunner()


def test_add_a_second_filler_in_parallel_copies_its_links(bottling_line) -> None:
    r = refine_twin(bottling_line, "add a second filler in parallel")
    rendered = r.diff.render().splitlines()
    assert rendered == ["+ node filler_2", "+ edge buf_rinse->filler_2", "+ edge filler_2->buf_fill"]
    assert r.after.node("filler_2").parameters.keys() == bottling_line.node("filler").parameters.keys()
    assert not bottling_line.has_node("filler_2")  # the original is untouched


def test_the_buffer_after_the_capper_holds_50(bottling_line) -> None:
    r = refine_twin(bottling_line, "the buffer after the capper holds 50")
    assert r.diff.render() == "~ node buf_cap parameters.capacity: 20 -> 50"
    assert r.after.get("buf_cap", "capacity") == 50


def test_insert_remove_and_set_keep_the_twin_valid(bottling_line) -> None:
    ins = refine_twin(bottling_line, "add a buffer of 40 between the labeler and the packer")
    assert ins.after.get("buffer", "capacity") == 40
    assert {(e.source, e.target) for e in ins.after.edges} >= {("labeler", "buffer"), ("buffer", "packer")}
    rem = refine_twin(bottling_line, "remove the capper")
    assert not rem.after.has_node("capper") and not rem.after.has_node("capper_vib")
    assert rem.after.edges_between("buf_fill", "buf_cap")
    st = refine_twin(bottling_line, "the filler takes 30 s per bottle")
    assert st.after.get("filler", "process_time", "s") == pytest.approx(30)
    assert st.after.node("filler").parameters["process_time"].distribution.type == "lognormal"  # shape kept


def test_changes_that_cannot_apply_say_why(bottling_line) -> None:
    with pytest.raises(BuildError, match="names no element"):
        refine_twin(bottling_line, "make it sparkle")
    with pytest.raises(BuildError, match=r"out of bounds|capacity"):
        refine_twin(bottling_line, "the buffer after the capper holds -5")
    with pytest.raises(BuildError, match="empty"):
        refine_twin(bottling_line, " ")


def test_cli_build_writes_a_valid_twin_and_lists_assumptions(tmp_path: Path) -> None:
    desc = tmp_path / "line.txt"
    desc.write_text("Cans arrive every 20 s. The seamer takes 15 s and feeds the packer (18 s).")
    out = tmp_path / "line.yaml"
    res = runner.invoke(app, ["build", str(desc), "--out", str(out), "--no-model"])
    assert res.exit_code == 0, res.output
    assert "assumed" in res.output and "smoke simulation ok" in res.output
    twin = load_spec(out)
    assert twin.name == "line" and twin.get("seamer", "process_time") == 15
    js = runner.invoke(app, ["build", str(desc), "--json", "--no-model"])
    assert js.exit_code == 0 and '"complete": true' in js.output


def test_cli_build_refuses_off_topic_text_without_a_traceback(tmp_path: Path) -> None:
    desc = tmp_path / "poem.txt"
    desc.write_text("Roses are red and the sky is blue.")
    res = runner.invoke(app, ["build", str(desc), "--no-model"])
    assert res.exit_code == 2 and "names no equipment" in res.output and "Traceback" not in res.output
    missing = runner.invoke(app, ["build", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 2 and "no such description file" in missing.output


def test_cli_refine_shows_the_diff_and_writes_only_when_accepted(tmp_path: Path) -> None:
    twin = tmp_path / "line.yaml"
    twin.write_text(LINE.read_text())
    res = runner.invoke(app, ["refine", str(twin), "add a second filler in parallel"])
    assert res.exit_code == 0 and "+ node filler_2" in res.output and "not written" in res.output
    assert not load_spec(twin).has_node("filler_2")
    out = tmp_path / "new.yaml"
    res = runner.invoke(
        app, ["refine", str(twin), "add a second filler in parallel", "--accept", "--out", str(out)]
    )
    assert res.exit_code == 0 and load_spec(out).has_node("filler_2")


def test_the_local_model_chooses_between_the_readings_code_proposes(tmp_path: Path) -> None:
    """Real SmolLM2-135M: "store" without a line or a network around it is ambiguous; the model
    ranks the two readings code proposes and the choice is one of them, recorded with its margin."""
    from twinforge.ai import LLM, ModelNotFoundError
    from twinforge.ai.providers.local import default_model_path
    from twinforge.config import load_settings

    try:
        default_model_path()
    except ModelNotFoundError as exc:
        pytest.skip(f"local model absent: {exc}")
    llm = LLM.from_settings(load_settings(None, store={"path": tmp_path / "s.duckdb"}))
    context = "The store sells groceries to people in the town."
    kind, how = choose_kind(llm, "store", context, ["customer", "buffer"])
    assert kind in ("customer", "buffer") and how.startswith("model (ranked")
    m = find_mentions(context)[0]
    chosen, decision = resolve_kind(m, {}, context, lambda w, c, o: choose_kind(llm, w, c, o))
    assert (
        decision is not None
        and decision.chosen == chosen == kind
        and decision.options == ["customer", "buffer"]
    )
    assert llm.audit.count() >= 1  # the choice is audited
