"""How people name the parts of a twin: ids, names, kinds, plurals, spellings, typos, relations,
pronouns, lanes; unknown names."""

from __future__ import annotations

from twinforge.guard.grounding import find_mentions, mask


def ids(question, twin):
    return [m.ids for m in find_mentions(question, twin).entities]


def test_ids_names_and_name_words(supply_chain):
    assert ids("What if S3 goes out of business?", supply_chain) == [("S3",)]
    assert ids("Why is Plant North maxed out?", supply_chain) == [("P1",)]
    assert ids("the north plant", supply_chain) == [("P1",)]
    assert ids("What do Alpen Ingredients charge?", supply_chain) == [("S2",)]
    assert ids("the Hamburg supplier", supply_chain) == [("S1",)]
    assert ids("supplier 2", supply_chain) == [("S2",)]


def test_kind_words_plurals_spellings_and_typos(bottling_line, pump_station):
    assert ids("the labeller", bottling_line) == [("labeler",)]  # British spelling
    assert ids("the depalletiser", bottling_line) == [("depalletizer",)]
    assert ids("run 2 cappers in parallel", bottling_line) == [("capper",)]
    assert ids("the fillr is down", bottling_line) == [("filler",)]  # a typo
    assert ids("the pump", pump_station) == [("pump",)]  # one pump: a kind word names it
    assert ids("is valve one open?", pump_station) == [("valve1",)]  # a number word in an id
    # two valves: the kind word keeps both candidates
    assert ids("the valve", pump_station) == [("valve1", "valve2")]
    # a description tells them apart
    assert ids("the suction-side valve", pump_station) == [("valve1",)]
    assert ids("the outlet valve", pump_station) == [("valve2",)]


def test_groups_relations_and_pronouns(bottling_line, pump_station):
    m = find_mentions("What if both valves are set to 60% open?", pump_station).entities[0]
    assert m.group and m.ids == ("valve1", "valve2")
    assert ids("the accumulation table behind the filler", bottling_line)[0] == ("buf_fill",)
    assert ids("the table in front of the rinser", bottling_line)[0] == ("buf_depal",)
    assert ids("a table between filler and capper", bottling_line)[0] == ("buf_fill",)
    found = ids("Make the filler faster and add 10 places to the buffer right after it.", bottling_line)
    assert found == [("filler",), ("buf_fill",), ("filler",)]


def test_lanes(supply_chain):
    lanes = find_mentions("What if we stop shipping from Hamburg to Hanover?", supply_chain).lanes
    assert [m.lane for m in lanes] == [("S1", "P1")]
    lanes = find_mentions("The Munich-Nuremberg lane closes", supply_chain).lanes
    assert [m.lane for m in lanes] == [("S2", "P2")]
    assert find_mentions("between Berlin and Hanover", supply_chain).lanes[0].lane == ("P1", "C_berlin")


def test_unknown_ids_and_products(supply_chain):
    found = find_mentions("What if supplier S9 and cola at Berlin?", supply_chain)
    assert found.unknown == ["S9"]
    assert [p for p, _, _ in found.products] == ["cola"]


def test_part_of_a_name_before_a_noun_for_other_equipment_names_something_else(pump_station):
    """ "the steam boiler" when the twin has a "Steam heater valve": not that valve, a thing the
    twin does not have; the whole name, or a word the twin has after it, still names the valve."""
    from twinforge.guard.lexicon import Lexicon
    from twinforge.spec.io import loads_spec, spec_to_data

    data = spec_to_data(pump_station)
    for n in data["nodes"]:
        if n["id"] == "valve1":
            n["name"] = "Steam heater valve"
    twin = loads_spec(__import__("yaml").safe_dump(data))
    lex = Lexicon.of(twin)
    found = find_mentions("What if the steam boiler trips for an hour?", twin, lex)
    assert found.entities == [] and found.unknown == ["steam boiler"]
    (m,) = find_mentions("What if the steam heater valve trips for an hour?", twin, lex).entities
    assert m.ids == ("valve1",)
    (m,) = find_mentions("What if the steam valve sticks?", twin, lex).entities
    assert m.ids == ("valve1",)


def test_mask_keeps_how_it_is_asked(bottling_line):
    assert (
        mask("What if the filler is down for 3 hours?", bottling_line)
        == "what if the <station> is down for <n>?"
    )


def test_a_misspelt_id_is_that_node_not_every_node_of_its_stem(bottling_line):
    from twinforge.guard.grounding import find_mentions

    (m,) = find_mentions("make the labeler 5% faster", bottling_line).entities
    assert m.ids == ("labeler",) and m.how in ("id", "name")
    (m,) = find_mentions("make the labelerr 5% faster", bottling_line).entities
    assert m.ids == ("labeler",)


def test_a_name_word_and_number_shortened_names_the_node_when_only_it_has_that_short_form(pump_station):
    from twinforge.guard.grounding import find_mentions
    from twinforge.guard.lexicon import Lexicon
    from twinforge.spec.io import loads_spec, spec_to_data

    data = spec_to_data(pump_station)
    for n in data["nodes"]:
        if n["id"] == "pump":
            n["name"] = "Pump 1 (duty)"
        if n["id"] == "valve1":
            n["name"] = "Valve 1"
    twin = loads_spec(__import__("yaml").safe_dump(data))
    (m,) = find_mentions("What if P1 is down for 3 hours?", twin, Lexicon.of(twin)).entities
    assert m.ids == ("pump",)
    (m,) = find_mentions("What if V-1 is half closed?", twin, Lexicon.of(twin)).entities
    assert m.ids == ("valve1",)


def test_a_common_word_out_of_a_long_name_names_nothing_next_to_proper_names(supply_chain):
    """ "its donations" when the twin has "Mobile donation sessions (West Country)" and the
    question names Berlin as a name should be named."""
    from twinforge.guard.lexicon import Lexicon
    from twinforge.spec.io import loads_spec, spec_to_data

    data = spec_to_data(supply_chain)
    for n in data["nodes"]:
        if n["id"] == "S3":
            n["name"] = "Mobile donation sessions (West Country)"
    twin = loads_spec(__import__("yaml").safe_dump(data))
    found = find_mentions("Why does Berlin get its donations from Hanover?", twin, Lexicon.of(twin))
    assert "S3" not in {i for m in found.entities for i in m.ids}
    found = find_mentions("What if the mobile donation sessions stop?", twin, Lexicon.of(twin))
    assert [m.ids for m in found.entities] == [("S3",)]
