"""Extraction of (part, problem, action) and ISO 14224 classes on terse work-order text."""

from __future__ import annotations

import pytest

from twinforge.maintenance import classify, extract
from twinforge.maintenance.classify import keyword_baseline
from twinforge.maintenance.extract import extraction_schema
from twinforge.maintenance.vocabulary import PARTS, normalize


def test_normalize_spells_out_abbreviations():
    assert normalize("L/H BUCKET CYL LEAKING.") == "left bucket cylinder leaking."
    assert normalize("C/OUT RH NO'1 LOAD ROLLER") == "changeout right no1 load roller"
    assert normalize("Rplace O/Ring propel hose") == "replace oring propel hose"
    assert normalize("A/C u/s, eng won't start") == "aircon unserviceable , engine wont start"


@pytest.mark.parametrize(
    ("text", "part", "problem", "action"),
    [
        ("L/H BUCKET CYL LEAKING.", "bucket cylinder", "leak", ""),
        ("REPL R/H HYD HOSE ON BOOM - BLOWN", "hydraulic hose", "blown", "replace"),
        ("oil leak on main control valve", "control valve", "leak", ""),
        ("C/OUT L/H JOY STICK", "control lever", "", "replace"),
        ("RH engine stop light on", "engine", "fault", ""),
        ("check grease pump, not working", "grease pump", "not_working", "inspect"),
        ("FIT FIRE SUPPRESSION", "fire suppression", "", "install"),
        ("weld crack in stick", "stick", "crack", "repair"),
        ("labour 1 fitter", "", "", ""),
    ],
)
def test_extract(text, part, problem, action):
    found = extract(text)
    assert (found.part, found.problem, found.action) == (part, problem, action)


def test_abbreviations_matter():
    # the benchmark's baseline: the vocabulary without the abbreviation table misses "CYL" and "REPL"
    assert extract("REPL L/H BUCKET CYL", expand_abbreviations=False).as_dict() == {
        "part": "bucket",
        "problem": "",
        "action": "",
    }
    assert extract("REPL L/H BUCKET CYL").as_dict() == {
        "part": "bucket cylinder",
        "problem": "",
        "action": "replace",
    }


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("LH bucket cyl leaking", "ELP"),
        ("coolant leak at header tank", "ELU"),
        ("grease pump leaking at shaft seal", "ELU"),
        ("bypassing oil into slew motor", "INL"),
        ("blown hyd hose", "ELP"),
        ("engine won't start", "FTS"),
        ("jump start machine", "FTS"),
        ("engines shutting down", "UST"),
        ("r/h engine overheating", "OHE"),
        ("LH engine noisy", "NOI"),
        ("crack in boom near cab", "STD"),
        ("broken grease line", "BRD"),
        ("replace missing tip", "BRD"),
        ("lube fault", "AIR"),
        ("low oil pressure alarm", "AIR"),
        ("low pressure on grease line A", "LOO"),
        ("bucket slow", "LOO"),
        ("radio u/s", "FTF"),
        ("pipes loose on boom", "SER"),
        ("clean out hydraulic oil coolers", "PLU"),
        ("fit fire suppression to cab", "OTH"),
        ("replace bucket teeth", "UNK"),
    ],
)
def test_classify(text, code):
    got, how = classify(text, extract(text))
    assert got == code, how


def test_keyword_baseline_is_coarser():
    assert keyword_baseline("coolant leak at header tank") == "ELP"  # no utility medium
    assert classify("coolant leak at header tank", extract("coolant leak at header tank"))[0] == "ELU"


def test_schema_enums_come_from_the_vocabulary():
    schema = extraction_schema()
    assert schema["properties"]["part"]["enum"] == ["", *PARTS]
    assert schema["required"] == ["part", "problem", "action"]
