"""The bounded loader (twinforge.inputs): hostile files get a SpecError naming file and line, fast."""

from __future__ import annotations

import json
import time

import pytest

from twinforge import inputs
from twinforge.errors import SpecError
from twinforge.inputs import load_json, load_yaml, parse_yaml, read_text, read_yaml
from twinforge.spec import load_spec, loads_spec

BILLION_LAUGHS = "".join(
    f"{a}: &{a} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['lol'] * 9)}]\n"
    for p, a in zip([None, *"abcdefgh"], "abcdefghi", strict=True)
)


def only_issue(exc: pytest.ExceptionInfo[SpecError]):
    assert len(exc.value.issues) == 1, exc.value.issues
    return exc.value.issues[0]


def test_billion_laughs_is_refused_fast_with_its_line():
    assert len(BILLION_LAUGHS) < 400
    started = time.perf_counter()
    with pytest.raises(SpecError) as exc:
        load_yaml(BILLION_LAUGHS, "bomb.yaml")
    assert time.perf_counter() - started < 1.0
    issue = only_issue(exc)
    assert issue.code == "alias-limit" and issue.file == "bomb.yaml"
    assert "more than 100,000 nodes" in issue.message
    assert issue.line is not None and 4 <= issue.line <= 9


def test_billion_laughs_as_a_twin_spec_file(tmp_path):
    f = tmp_path / "bomb.yaml"
    f.write_text("twinforge: 1\nname: x\n" + BILLION_LAUGHS, encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(SpecError) as exc:
        load_spec(f)
    assert time.perf_counter() - started < 2.0
    assert only_issue(exc).code == "alias-limit"
    assert f"{f}:" in str(exc.value)


def test_aliases_within_the_limit_and_merge_keys_still_work():
    text = "base: &b {a: 1, b: [1, 2]}\nx: {<<: *b, c: 3}\ny: *b\nz: [*b, *b]\neq: =\n"
    data = load_yaml(text)
    assert data["x"] == {"a": 1, "b": [1, 2], "c": 3}
    assert data["y"] == data["z"][1] == {"a": 1, "b": [1, 2]}
    assert data["eq"] == "="


def test_alias_budget_is_the_expanded_size(monkeypatch):
    monkeypatch.setattr(inputs, "MAX_ALIAS_NODES", 50)
    ok = "a: &a [1, 2, 3]\n" + "".join(f"k{i}: *a\n" for i in range(12))  # 12 x 4 nodes
    assert load_yaml(ok)["k11"] == [1, 2, 3]
    with pytest.raises(SpecError) as exc:
        load_yaml(ok + "k12: *a\n")
    assert only_issue(exc).line == 14


def test_deep_nesting_is_refused_in_yaml_and_json():
    for text in ("[" * 5000 + "]" * 5000, "a:\n" + "".join("  " * i + "- \n" for i in range(1, 80))):
        with pytest.raises(SpecError) as exc:
            load_yaml(text, "deep.yaml")
        assert only_issue(exc).code == "too-deep" and "deeper than 64" in only_issue(exc).message
    nested = load_yaml("[" * 64 + "1" + "]" * 64)  # 64 levels are fine
    depth = 0
    while isinstance(nested, list):
        nested, depth = nested[0], depth + 1
    assert depth == 64 and nested == 1
    with pytest.raises(SpecError) as exc:
        load_yaml("[" * 65 + "]" * 65)
    assert only_issue(exc).code == "too-deep"
    for text in ("[" * 100_000 + "]" * 100_000, "[" * 65 + "]" * 65, '{"a":' * 70 + "1" + "}" * 70):
        with pytest.raises(SpecError) as exc:
            load_json(text, "deep.json")
        assert only_issue(exc).code == "too-deep"
    assert load_json("[" * 64 + "]" * 64) is not None


def test_an_alias_cannot_smuggle_depth():
    inner = "[" * 40 + "1" + "]" * 40
    text = f"a: &a {inner}\nb: " + "[" * 30 + "*a" + "]" * 30 + "\n"
    with pytest.raises(SpecError) as exc:
        load_yaml(text)
    assert only_issue(exc).code == "too-deep" and only_issue(exc).line == 2


def test_recursive_alias_is_refused():
    with pytest.raises(SpecError) as exc:
        load_yaml("x: 1\na: &a [1, *a]\n", "rec.yaml")
    issue = only_issue(exc)
    assert issue.code == "recursive-alias" and issue.line == 2 and "*a" in issue.message


@pytest.mark.parametrize(
    "text, tag",
    [
        (
            "twinforge: 1\nname: !!python/object/apply:os.system ['echo hi']\n",
            "!!python/object/apply:os.system",
        ),
        ("x: 1\ny: !!python/name:builtins.print ''\n", "!!python/name:builtins.print"),
        ("a: !!binary aGVsbG8=\n", "!!binary"),
        ("a: !!set {x, y}\n", "!!set"),
        ("a: !custom 3\n", "!custom"),
        ("a: !!omap [{x: 1}]\n", "!!omap"),
    ],
)
def test_tags_other_than_plain_data_are_named_with_their_line(text, tag):
    with pytest.raises(SpecError) as exc:
        load_yaml(text, "tags.yaml")
    issue = only_issue(exc)
    assert issue.code == "unsupported-tag"
    assert repr(tag) in issue.message and "only plain data" in issue.message
    assert issue.line == text.count("\n", 0, text.index("!")) + 1


def test_python_tag_in_a_spec_file_does_not_run(tmp_path):
    marker = tmp_path / "ran"
    f = tmp_path / "evil.yaml"
    f.write_text(f"twinforge: 1\nname: !!python/object/apply:pathlib.Path.touch ['{marker}']\n")
    with pytest.raises(SpecError) as exc:
        load_spec(f)
    assert not marker.exists()
    assert only_issue(exc).line == 2 and only_issue(exc).file == str(f)


def test_values_that_cannot_be_built_are_reported_with_their_line():
    with pytest.raises(SpecError) as exc:
        load_yaml("a: 1\nb: 2024-13-01\n")
    assert only_issue(exc).line == 2 and "month must be in 1..12" in only_issue(exc).message
    with pytest.raises(SpecError) as exc:
        load_yaml("a: " + "7" * 5000 + "\n")
    assert only_issue(exc).code == "bad-value"
    with pytest.raises(SpecError) as exc:
        load_yaml("? [a, b]\n: 1\n")
    assert "unhashable" in only_issue(exc).message


def test_binary_file_is_refused_with_file_and_byte(tmp_path):
    f = tmp_path / "twin.yaml"
    f.write_bytes(b"twinforge: 1\nname: x\n\x00\x01\x02binary")
    with pytest.raises(SpecError) as exc:
        read_text(f, "twin spec")
    issue = only_issue(exc)
    assert issue.code == "binary" and issue.file == str(f) and issue.line == 3
    assert "NUL byte at byte 21" in issue.message
    assert str(exc.value).startswith(f"cannot read twin spec {f}")


def test_invalid_utf8_is_refused_with_its_line(tmp_path):
    f = tmp_path / "latin1.yaml"
    f.write_bytes("twinforge: 1\nname: Café\n".encode("latin-1"))
    with pytest.raises(SpecError) as exc:
        read_yaml(f, "scenario")
    issue = only_issue(exc)
    assert issue.code == "encoding" and issue.line == 2 and "0xe9" in issue.message
    assert "UTF-8" in issue.message


def test_utf8_bom_is_accepted(tmp_path):
    f = tmp_path / "bom.yaml"
    f.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert read_yaml(f) == {"a": 1}


def test_oversize_file_is_refused_before_reading_it(tmp_path, monkeypatch):
    monkeypatch.setattr(inputs, "MAX_FILE_BYTES", 1000)
    f = tmp_path / "big.yaml"
    f.write_text("# pad\n" * 200, encoding="utf-8")
    with pytest.raises(SpecError) as exc:
        read_yaml(f, "twin spec")
    assert only_issue(exc).code == "too-large" and "1,000-byte limit" in only_issue(exc).message
    with pytest.raises(SpecError) as exc:
        loads_spec("# pad\n" * 200, "big.yaml")
    assert only_issue(exc).code == "too-large"


def test_the_real_limit_is_10_mib(tmp_path):
    assert inputs.MAX_FILE_BYTES == 10 * 1024 * 1024
    f = tmp_path / "huge.yaml"
    with f.open("w") as fh:
        fh.write("# padding\n" * 1_100_000)
    with pytest.raises(SpecError) as exc:
        load_spec(f)
    assert only_issue(exc).code == "too-large"


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(SpecError, match="file not found"):
        read_yaml(tmp_path / "none.yaml")
    with pytest.raises(SpecError, match="is a folder"):
        read_yaml(tmp_path)


def test_json_spec_goes_through_the_same_bounds(tmp_path, examples):
    twin = load_spec(examples / "bottling_line.yaml")
    from twinforge.spec import dump_spec

    f = tmp_path / "twin.json"
    dump_spec(twin, f)
    assert load_spec(f) == twin
    f.write_text(json.dumps({"twinforge": 1, "name": "x", "nodes": [[[[]]]] * 1, "edges": []})[:-1])
    with pytest.raises(SpecError) as exc:
        load_spec(f)
    assert only_issue(exc).code == "syntax" and only_issue(exc).line == 1
    f.write_bytes(b'{"twinforge": 1, "name": "\xff"}')
    with pytest.raises(SpecError) as exc:
        load_spec(f)
    assert only_issue(exc).code == "encoding"


def test_duplicate_keys_are_still_reported_and_line_map_kept():
    from twinforge.errors import IssueCollector
    from twinforge.spec.io import compose_with_lines

    c = IssueCollector(file="d.yaml")
    data, lines = compose_with_lines("a: 1\nb:\n  c: 2\na: 3\n", "d.yaml", c)
    assert data == {"a": 3, "b": {"c": 2}}
    assert lines[("b", "c")] == 3
    assert [i.code for i in c.issues] == ["duplicate-key"] and c.issues[0].line == 4


def test_parse_yaml_keeps_the_node_tree():
    doc = parse_yaml("a:\n  - 1\n  - {b: 2}\n")
    assert doc.data == {"a": [1, {"b": 2}]}
    assert doc.root is not None and doc.root.start_mark.line == 0
    assert parse_yaml("").data is None and parse_yaml("").root is None


def test_non_list_nodes_and_edges_are_clean_errors():
    with pytest.raises(SpecError):
        loads_spec("twinforge: 1\nname: x\nnodes: 5\nedges: 7\n")
