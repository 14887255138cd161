from __future__ import annotations

import pytest

from twinforge.ai import AIError, Redaction, Redactor

LINE = (
    "Technician John Miller (john.miller@acme.com, +49 170 1234567) replaced bearing on P-101, WO-2024-00123"
)


def test_maintenance_log_line_is_redacted_and_restored() -> None:
    red = Redactor().redact(LINE)
    assert red.text == "Technician <PERSON_1> (<EMAIL_1>, <PHONE_1>) replaced bearing on P-101, WO-2024-00123"
    assert red.found == {
        "<PERSON_1>": "John Miller",
        "<EMAIL_1>": "john.miller@acme.com",
        "<PHONE_1>": "+49 170 1234567",
    }
    assert red.restore(red.text) == LINE
    assert red.restore("Ask PERSON_1 about it") == "Ask John Miller about it"  # brackets dropped by a model


@pytest.mark.parametrize(
    ("text", "hidden", "kept"),
    [
        (
            "Reported by Anna Schmidt, call 0170/1234567 or (555) 123-4567. Pump P-102 at 1500 rpm since 2024-03-01.",
            ["Anna Schmidt", "0170/1234567", "(555) 123-4567"],
            ["P-102", "1500 rpm", "2024-03-01"],
        ),
        (
            "Shift lead Tom Baker informed Dr. Maria Garcia-Lopez; Mr. Baker left at 03:00. Vibration 7.1 mm/s.",
            ["Tom Baker", "Maria Garcia-Lopez", "Baker"],
            ["Dr.", "03:00", "7.1 mm/s"],
        ),
        (
            "Operator: J. Smith. Flow 120.5 m3/h; order 4711-2231; +44 20 7946 0958 is the vendor hotline.",
            ["J. Smith", "+44 20 7946 0958"],
            ["120.5 m3/h", "4711-2231"],
        ),
        (
            "maria.garcia@plant.example.org wrote that Maria Garcia checked valve V-7 (555.123.4567).",
            ["maria.garcia@plant.example.org", "Maria Garcia", "555.123.4567"],
            ["V-7"],
        ),
        (
            "The night crew inspected the filler. Pump 3 tripped twice; Line 2 restarted.",
            [],
            ["night crew", "Pump 3", "Line 2"],
        ),
    ],
)
def test_realistic_maintenance_texts(text: str, hidden: list[str], kept: list[str]) -> None:
    red = Redactor().redact(text)
    for value in hidden:
        assert value not in red.text.replace("Dr. <", "<"), value
        assert value in red.found.values()
    for value in kept:
        assert value in red.text, value
    assert red.restore(red.text) == text


def test_configured_id_patterns_and_roster() -> None:
    r = Redactor(id_patterns={"EMPLOYEE": r"\bEMP-\d{5}\b", "BADGE": r"\bB\d{6}\b"}, known_names=["Kim Lee"])
    red = r.redact("Kim Lee (EMP-00412, badge B123456) and EMP-00999 signed the permit for P-101.")
    assert (
        red.text == "<PERSON_1> (<EMPLOYEE_1>, badge <BADGE_1>) and <EMPLOYEE_2> signed the permit for P-101."
    )
    with pytest.raises(AIError, match="invalid regular expression"):
        Redactor(id_patterns={"BAD": "(unclosed"})
    with pytest.raises(AIError, match="upper case"):
        Redactor(id_patterns={"bad label": "x"})


def test_same_value_same_placeholder_across_messages_and_answers() -> None:
    r = Redactor()
    red = Redaction()
    r.redact("Technician John Miller found a leak.", red)
    second = r.redact('{"technician": "John Miller"}', red).text  # known value, no cue needed
    assert second == '{"technician": "<PERSON_1>"}'
    assert red.restore_obj({"who": ["<PERSON_1>"], "n": 3}) == {"who": ["John Miller"], "n": 3}


def test_switches_turn_detectors_off() -> None:
    red = Redactor(emails=False, phones=False, person_names=False).redact(LINE)
    assert red.text == LINE and len(red) == 0
