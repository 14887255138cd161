"""Units for twin quantities, backed by one shared pint registry.

Besides SI and common engineering units the registry knows:
- ``item`` (aliases ``pcs``, ``piece``, ``bottle``, ``unit_load``): counted things moving through a system;
- ``cycle``: machine cycles (for failures by cycle count);
- currencies ``EUR``, ``USD``, ``GBP``, ``CNY``, ``JPY``, ``CHF``, each its own dimension,
  because exchange rates are data, not physics: ``EUR`` and ``USD`` never convert silently.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pint

from twinforge.errors import UnitError

CURRENCIES = ("EUR", "USD", "GBP", "CNY", "JPY", "CHF")

ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True, cache_folder=None)
ureg.define("item = [item] = pcs = piece = bottle = unit_load")
ureg.define("cycle = [cycle]")
for _code in CURRENCIES:
    ureg.define(f"{_code} = [currency_{_code}]")
ureg.define("percent_ = 0.01 = pct")

Q_ = ureg.Quantity


@lru_cache(maxsize=4096)
def parse_unit(unit: str | None) -> pint.Unit:
    """Parse a unit string; ``None`` or ``""`` is dimensionless."""
    if unit is None or str(unit).strip() in ("", "1", "-", "dimensionless"):
        return ureg.dimensionless
    text = str(unit).strip()
    try:
        return ureg.parse_units(text)
    except (pint.errors.UndefinedUnitError, pint.errors.DefinitionSyntaxError, ValueError) as exc:
        raise UnitError(f"unknown unit {text!r}") from exc
    except Exception as exc:  # pint raises assorted errors for malformed expressions
        raise UnitError(f"cannot parse unit {text!r}: {exc}") from exc


@lru_cache(maxsize=4096)
def compatible(unit_a: str | None, unit_b: str | None) -> bool:
    try:
        return parse_unit(unit_a).dimensionality == parse_unit(unit_b).dimensionality
    except UnitError:
        return False


def convert(value: float, from_unit: str | None, to_unit: str | None) -> float:
    """Convert a magnitude between compatible units; raise :class:`UnitError` otherwise."""
    if (from_unit or "") == (to_unit or ""):
        return float(value)
    src, dst = parse_unit(from_unit), parse_unit(to_unit)
    if src.dimensionality != dst.dimensionality:
        raise UnitError(
            f"cannot convert {from_unit or 'dimensionless'!s} to {to_unit or 'dimensionless'!s}: "
            f"{src.dimensionality} is not {dst.dimensionality}"
        )
    return float(Q_(value, src).to(dst).magnitude)


def conversion_factor(from_unit: str | None, to_unit: str | None) -> float:
    """Multiplier m such that ``x [from] == m * x [to]`` for non-offset units."""
    return convert(1.0, from_unit, to_unit) - convert(0.0, from_unit, to_unit)


_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


def parse_quantity(text: str) -> tuple[float, str]:
    """Split ``"2.5 min"`` into ``(2.5, "min")``, keeping the unit as written. A bare number is
    dimensionless (unit ``""``)."""
    match = _QUANTITY.match(str(text))
    if match is None:
        raise UnitError(f"cannot read {text!r} as a quantity (a number followed by a unit, e.g. '2.5 min')")
    unit = match.group(2)
    if unit:
        parse_unit(unit)  # raises UnitError for an unknown unit
    return float(match.group(1)), unit


def dimension_name(unit: str | None) -> str:
    """A human name for the dimension of a unit, for error messages."""
    try:
        dim = parse_unit(unit).dimensionality
    except UnitError:
        return "unknown"
    names = {
        "[time]": "a time",
        "[length]": "a length",
        "[mass]": "a mass",
        "[temperature]": "a temperature",
        "[item]": "a count of items",
        "[cycle]": "a count of cycles",
        "[length] ** 3": "a volume",
        "[length] ** 2": "an area",
        "[length] ** 3 / [time]": "a volumetric flow",
        "[item] / [time]": "an item rate",
        "1 / [time]": "a rate",
        "[length] / [time]": "a speed",
        "[length] ** 2 * [mass] / [time] ** 3": "a power",
        "[length] ** 2 * [mass] / [time] ** 2": "an energy",
        "[mass] / [length] / [time] ** 2": "a pressure",
        "[current]": "a current",
        "[length] ** 2 * [mass] / [current] / [time] ** 3": "a voltage",
        "[length] / [time] ** 2": "an acceleration",
    }
    key = str(dim) if str(dim) else "dimensionless"
    if key == "dimensionless":
        return "a dimensionless number"
    return names.get(key, f"a quantity of dimension {key}")
