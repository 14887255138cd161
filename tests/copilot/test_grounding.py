"""What a question mentions: entities, products, numbers, unknown ids; masking for retrieval."""

from __future__ import annotations

import pytest

from twinforge.guard.grounding import entity_aliases, extract_numbers, ground, mask


def test_entities_by_id_name_and_derived_alias(supply_chain):
    g = ground("Why do we ship from supplier 2 to Plant North?", supply_chain)
    assert g.entity_ids == ["S2", "P1"]
    g = ground("What if demand in Berlin rises by 20%?", supply_chain)
    assert g.entity_ids == ["C_berlin"]
    assert "hamburg" in entity_aliases(supply_chain)["S1"]


def test_plural_of_a_name_refers_to_the_node(bottling_line, supply_chain):
    g = ground("Suppose we run 2 cappers in parallel.", bottling_line)
    assert g.entity_ids == ["capper"] and g.numbers == [2.0]
    assert (
        mask("Suppose we run 2 cappers in parallel.", bottling_line)
        == "suppose we run <n> <station> in parallel"
    )
    # names ending in a digit take no plural suffix
    assert ground("What if S1 and S2 close?", supply_chain).entity_ids == ["S1", "S2"]


def test_numbers_words_and_percentages(bottling_line):
    g = ground("What if the filler is down for 4 hours?", bottling_line)
    assert g.entity_ids == ["filler"] and g.numbers == [4.0] and g.written == [4.0]
    assert 0.5 in extract_numbers("stops for half an hour")
    assert 2.0 in extract_numbers("double the capacity")
    assert {20.0, 0.2, 1.2, 0.8} <= set(extract_numbers("a 20% rise"))
    assert -50.0 in extract_numbers("capacity of -50 pallets")


def test_digits_of_an_id_are_not_values(supply_chain):
    g = ground("What is the capacity of plant P1?", supply_chain)
    assert g.numbers == [] and g.written == []
    g = ground("What if P1 is down for 1 hour?", supply_chain)
    assert 1.0 in g.numbers  # "1 hour" is a value even though P1 also contains a 1


def test_unknown_ids_and_products(supply_chain, bottling_line):
    assert ground("What if supplier S7 goes bankrupt?", supply_chain).unknown_ids == ["S7"]
    assert ground("What if machine M7 is down for 2 hours?", bottling_line).unknown_ids == ["M7"]
    assert ground("What if S2 fails?", supply_chain).unknown_ids == []
    assert ground("What if cola demand drops by 5%?", supply_chain).products == ["cola"]


@pytest.mark.parametrize(
    ("question", "masked"),
    [
        ("What if S3 goes out of business?", "what if <supplier> goes out of business"),
        (
            "Suppose nothing can go from P1 to Berlin anymore.",
            "suppose nothing can go from <plant> to <customer> anymore",
        ),
        ("What if cola demand decreases by 20%?", "what if <product> demand decreases by <n>"),
    ],
)
def test_mask(supply_chain, question, masked):
    assert mask(question, supply_chain) == masked
