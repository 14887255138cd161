"""Tiny twins whose optimal flow plans are computed by hand in the tests (real HiGHS solves them)."""

from __future__ import annotations

from twinforge.spec import TwinSpec, loads_spec

# One product. Paths: S1 costs 10 + 1 = 11 per item into P, S2 costs 14 + 1 = 15.
# Optimum: S1 full (100), S2 the rest (100). Purchase 1000 + 1400 = 2400, inbound 200,
# processing 2 * 200 = 400, outbound 80*3 + 120*5 = 840: total 3840.
# Shadow prices: supply_capacity of S1 -4 (15 - 11); demand C1 14+1+2+3 = 20, C2 14+1+2+5 = 22.
TWO_SUPPLIERS = """
twinforge: 1
name: two-suppliers
nodes:
  - {id: S1, kind: supplier, parameters: {supply_capacity: 100 item/day, cost_per_unit: 10 EUR/item}}
  - {id: S2, kind: supplier, parameters: {supply_capacity: 200 item/day, cost_per_unit: 14 EUR/item}}
  - {id: P, kind: plant, parameters: {capacity: 250 item/day, processing_cost: 2 EUR/item}}
  - {id: C1, kind: customer, parameters: {demand: 80 item/day}}
  - {id: C2, kind: customer, parameters: {demand: 120 item/day}}
edges:
  - {source: S1, target: P, parameters: {cost_per_unit: 1 EUR/item}}
  - {source: S2, target: P, parameters: {cost_per_unit: 1 EUR/item}}
  - {source: P, target: C1, parameters: {cost_per_unit: 3 EUR/item}}
  - {source: P, target: C2, parameters: {cost_per_unit: 5 EUR/item}}
"""

# One supplier, two plants. Per item from P1: to C1 1+1 = 2, to C2 1+2 = 3; from P2: to C1 3+2 = 5,
# to C2 3+1 = 4. P1 (capacity 100) prefers C1 (saves 3) over C2 (saves 1): P1 -> C1 60, P1 -> C2 40,
# P2 -> C2 20. Purchase 120 * 10 = 1200, processing 100 + 60 = 160, transport 60 + 80 + 20 = 160:
# total 1520. Shadow price of P1's capacity: -1 (one more unit moves C2 from 4 to 3).
TWO_PLANTS = """
twinforge: 1
name: two-plants
nodes:
  - {id: S, kind: supplier, parameters: {supply_capacity: 1000 item/day, cost_per_unit: 10 EUR/item}}
  - {id: P1, kind: plant, parameters: {capacity: 100 item/day, processing_cost: 1 EUR/item}}
  - {id: P2, kind: plant, parameters: {capacity: 150 item/day, processing_cost: 3 EUR/item}}
  - {id: C1, kind: customer, parameters: {demand: 60 item/day}}
  - {id: C2, kind: customer, parameters: {demand: 60 item/day}}
edges:
  - {source: S, target: P1}
  - {source: S, target: P2}
  - {source: P1, target: C1, parameters: {cost_per_unit: 1 EUR/item}}
  - {source: P1, target: C2, parameters: {cost_per_unit: 2 EUR/item}}
  - {source: P2, target: C1, parameters: {cost_per_unit: 2 EUR/item}}
  - {source: P2, target: C2, parameters: {cost_per_unit: 1 EUR/item}}
"""

# Two products. Per item of a: S1 5+1+1+2 = 9, S2 8+1+1+2 = 12; of b: S1 6+1+2+2 = 11, S2 7+1+2+2 = 12.
# Optimum: all from S1. a: purchase 300, processing 60, in 60, out 120; b: purchase 300, processing
# 100, in 50, out 100. Total 1090 (purchase 600, processing 160, transport 330).
TWO_PRODUCTS = """
twinforge: 1
name: two-products
products: [a, b]
nodes:
  - id: S1
    kind: supplier
    parameters:
      supply_capacity: {by_product: {a: 100, b: 100}, unit: item/day}
      cost_per_unit: {by_product: {a: 5, b: 6}, unit: EUR/item}
  - id: S2
    kind: supplier
    parameters:
      supply_capacity: {by_product: {a: 100, b: 100}, unit: item/day}
      cost_per_unit: {by_product: {a: 8, b: 7}, unit: EUR/item}
  - id: P
    kind: plant
    parameters:
      capacity: 500 item/day
      processing_cost: {by_product: {a: 1, b: 2}, unit: EUR/item}
  - id: C
    kind: customer
    parameters:
      demand: {by_product: {a: 60, b: 50}, unit: item/day}
edges:
  - {source: S1, target: P, parameters: {cost_per_unit: 1 EUR/item}}
  - {source: S2, target: P, parameters: {cost_per_unit: 1 EUR/item}}
  - {source: P, target: C, parameters: {cost_per_unit: 2 EUR/item}}
"""

# Fixed costs. Open P1 only: 80 * (1 + 1) + 100 = 260; P2 only: 80 * (2 + 1) + 10 = 250; both: worse.
# Opening P2 alone is optimal (250); without fixed costs the LP sends everything via P1 (160).
FIXED_COSTS = """
twinforge: 1
name: fixed-costs
nodes:
  - {id: S, kind: supplier, parameters: {supply_capacity: 1000 item/day}}
  - {id: P1, kind: plant, parameters: {capacity: 100 item/day, processing_cost: 1 EUR/item, fixed_cost: 100 EUR/day}}
  - {id: P2, kind: plant, parameters: {capacity: 100 item/day, processing_cost: 2 EUR/item, fixed_cost: 10 EUR/day}}
  - {id: C, kind: customer, parameters: {demand: 80 item/day}}
edges:
  - {source: S, target: P1}
  - {source: S, target: P2}
  - {source: P1, target: C, parameters: {cost_per_unit: 1 EUR/item}}
  - {source: P2, target: C, parameters: {cost_per_unit: 1 EUR/item}}
"""

# Parallel lanes with a lane fixed cost: express costs 1/item + 100/day, standard 3/item.
# Demand 40: express 140, standard 120 -> standard. Demand 60: express 160, standard 180 -> express.
LANES = """
twinforge: 1
name: lanes
nodes:
  - {id: S, kind: supplier, parameters: {supply_capacity: 1000 item/day}}
  - {id: C, kind: customer, parameters: {demand: 40 item/day}}
edges:
  - {id: express, source: S, target: C, parameters: {cost_per_unit: 1 EUR/item, fixed_cost: 100 EUR/day}}
  - {id: standard, source: S, target: C, parameters: {cost_per_unit: 3 EUR/item}}
"""


def twin(text: str) -> TwinSpec:
    return loads_spec(text)
