"""The words of maintenance logs: abbreviations, parts, problems and actions.

Work-order text is terse and abbreviated (``L/H BUCKET CYL LEAKING``, ``C/OUT RH NO'1 LOAD
ROLLER``, ``Rplace O/Ring propel hose``). :func:`normalize` spells it out in lower case; the tables
below then name what a phrase is about. Every table maps a canonical name to regular expressions
matched on the normalised text (word boundaries added here). Order matters inside a table: the
first pattern that matches a span wins that span, so longer, more specific phrases come first.
"""

from __future__ import annotations

import re

#: Abbreviations and spelling variants, applied in order on lower-case text.
ABBREVIATIONS: tuple[tuple[str, str], ...] = (
    (r"\bl\s*/\s*h\s*/?\s*s\b|\bl/h\b|\blhs\b|\blh\b", " left "),
    (r"\br\s*/\s*h\s*/?\s*s\b|\br/h\b|\brhs\b|\brh\b(?!\d)", " right "),
    (r"\bu\s*/\s*s\b|\bu\.s\b\.?", " unserviceable "),
    (r"\bc\s*/\s*out\b|\bc/o\b|\bchange[\s\-~]*outs?\b|\bchangeout\b|\bchange\s+over\b", " changeout "),
    (r"\ba\s*/\s*c\b|\bair[\s\-]*con(d(ition(ing|er)?)?)?\b\.?", " aircon "),
    (r"\bo\s*/\s*ring\b|\bo[\s\-]ring\b|\"?\\?o\\?\"*\s*ring\b|\boring\b", " oring "),
    (r"\bh\s*/\s*p\b|\bhi\s+pressure\b", " high pressure "),
    (r"\bhyd(r)?(aulic)?s?\b\.?|\bhyd'?s\b", " hydraulic "),
    (r"\bcyl(inder)?(s|'s)?\b\.?", " cylinder "),
    (r"\beng(ine)?s?\b\.?", " engine "),
    (r"\brepl(ace)?\b\.?|\brplace\b|\breplaced\b|\breplacing\b|\brenew\b", " replace "),
    (r"\bswapp?\b|\bswapped\b", " changeout "),
    (r"\bwon'?t\b|\bwont\b|\bwill\s+not\b|\bwould\s+not\b|\bdoes\s*n'?o?t\b", " wont "),
    (r"\bassy\b", " assembly "),
    (r"\blts\b", " lights "),
    (r"\bwarr(anty)?\b", " warranty "),
    (r"\bjoy\s*stick\b", " joystick "),
    (r"\bjump\s*start\b", " jumpstart "),
    (r"\bsussp?ression\b|\bsupp?ression\b", " suppression "),
    (r"\bcraking\b|\bcracking\b|\bcracked\b|\bcracks\b", " crack "),
    (r"\blosted\b", " lost "),
    (r"\bno\.?\s*#?\s*'?\s*(\d+)\b", r" no\1 "),
)

_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Lower case, abbreviations spelled out, single spaces."""
    out = f" {text.lower()} "
    out = out.replace("&", " and ").replace("~", " ")
    for pattern, repl in ABBREVIATIONS:
        out = re.sub(pattern, repl, out)
    return _SPACES.sub(" ", out).strip()


# -- parts ---------------------------------------------------------------------------------
#: canonical part -> patterns (on normalised text). Earlier entries win overlapping spans.
PARTS: dict[str, tuple[str, ...]] = {
    "oil reserve": (r"oil reserves?",),
    "chip detector": (r"chip (indicator|detector)s?",),
    "fire suppression": (r"fire suppression", r"suppression( system| pipes?)?", r"fire alarm", r"chubb"),
    "emergency stop": (r"emergency (shut\s*dow[mn]|stop)",),
    "air filter": (r"air (cleaner|filter)s?", r"engine air filters?"),
    "filter": (
        r"(pressuriser |hp |high pressure |servo |return |xover |p\d )?filters?( blocks?)?",
        r"screens?",
    ),
    "air intake": (r"induction hoses?", r"intake( hoses?)?"),
    "intercooler": (r"intercooler( hoses?)?",),
    "coolant hose": (r"(cooling|coolant|radiator|water) hoses?",),
    "grease line": (r"grease (lines?|hoses?|fittings?)", r"lube lines?"),
    "grease pump": (r"grease (lube )?pumps?", r"lube pumps?"),
    "grease tank": (r"grease tank( lid)?",),
    "lube system": (
        r"(auto )?lube( system)?",
        r"grease system",
        r"lubrication( system)?",
        r"greasing system",
    ),
    "bucket cylinder": (r"bucket (crowd )?cylinders?", r"crowd cylinders?"),
    "boom cylinder": (r"boom cylinders?",),
    "stick cylinder": (r"stick cylinders?",),
    "bucket tooth": (r"bucket (teeth|tooth)", r"(teeth|tooth|tips?)"),
    "shroud": (r"(lip |wing |heel )?shrouds?",),
    "bucket lip": (r"(bucket )?lips?",),
    "adaptor": (r"adaptors?", r"adapters?"),
    "ground engaging tool": (r"get",),
    "bucket pin": (r"bucket pins?",),
    "bucket": (r"buckets?",),
    "boom": (r"booms?",),
    "stick": (r"sticks?",),
    "hydraulic pump": (
        r"(main |hydraulic |imp |implement |servo |slew |fan |pilot )pumps?( drive)?",
        r"p[1-4]( pump)?",
        r"pumps?",
        r"pum",
        r"swash plate( block)?",
    ),
    "water pump": (r"water pumps?",),
    "fuel system": (r"fuel( pressure| pump| system| level)?",),
    "pump drive": (r"pump (drive )?box", r"pump drive", r"pto( pump)?s?"),
    "hydraulic hose": (r"(hydraulic |servo |propel |slew |high pressure )?hoses?",),
    "hydraulic line": (r"(hydraulic )?(lines?|pipes?|piping)",),
    "control valve": (r"(main |directional )?control valves?", r"logic block", r"valve blocks?", r"valves?"),
    "slew motor": (r"slew motors?", r"swing motors?"),
    "slew brake": (r"slew brakes?", r"swing brakes?"),
    "slew ring": (r"slew ring", r"swing ring"),
    "track motor": (r"track motors?", r"propel motors?", r"travel motors?"),
    "track roller": (r"(track |load |carrier )?rollers?",),
    "track chain": (r"track (chain|pads?|shoes?)",),
    "track tensioner": (r"track (tensioners?|adjusters?)", r"tensioners?"),
    "track guard": (r"track (shields?|guards?)",),
    "final drive": (r"final drives?",),
    "track": (r"tracks?", r"undercarriage"),
    "engine": (r"engine",),
    "starter": (r"starter( motor)?s?",),
    "battery": (r"batter(y|ies)",),
    "turbo": (r"turbo(charger)?s?",),
    "exhaust": (r"exhaust( clamps?| pipes?)?", r"muffler"),
    "radiator": (r"radiators?( cap)?",),
    "header tank": (r"header tanks?",),
    "oil cooler": (r"(hydraulic )?oil coolers?",),
    "belt": (r"(fan )?belts?",),
    "fan": (r"(cooler |pressuriser |cooling )?fans?( motor)?",),
    "breather": (r"breathers?",),
    "air conditioner": (r"aircon( unit)?", r"driers?"),
    "compressor": (r"compressors?",),
    "control lever": (r"(control |slew |servo )?levers?", r"joystick"),
    "controls": (r"(pilot )?controls?",),
    "switch": (r"switch(es)?",),
    "sensor": (r"sensors?",),
    "gauge": (r"gauges?",),
    "wiring": (r"harness(es)?", r"wiring", r"cables?"),
    "connector": (r"plugs?", r"connectors?"),
    "charging system": (r"charging system", r"alternators?"),
    "light": (r"(work |head |compartment )?lights?",),
    "horn": (r"(air )?horns?",),
    "radio": (r"(com )?radios?", r"2 way", r"two way"),
    "camera": (r"cameras?( systems?)?",),
    "window": (r"windows?", r"(side )?glass", r"windscreen"),
    "door": (r"(cab )?doors?( lock)?",),
    "access step": (r"(access |power |verti |upper )?steps?", r"stairs?"),
    "ladder": (r"ladders?",),
    "platform": (r"platforms?", r"walkways?"),
    "seal": (r"seals?",),
    "o-ring": (r"oring",),
    "gasket": (r"gaskets?",),
    "fitting": (r"fittings?", r"elbows?"),
    "bolt": (r"bolts?",),
    "retainer": (r"retain(er|ers|ing)( cap)?", r"keepers?"),
    "bushing": (r"bush(es|ings?)",),
    "mount": (r"mounts?", r"mountings?"),
    "cover": (r"covers?",),
    "floor mat": (r"floor mats?",),
    "carbody": (r"carbody", r"car body"),
    "frame": (r"(main )?frame",),
    "tank": (r"(hydraulic |poly |fuel )?tanks?",),
    "sign": (r"(warning )?signs?", r"identifications?"),
    "cab": (r"cab", r"operator cab"),
}

#: parts whose fluids are utilities (ISO 14224 "utility medium"): coolant, lubricant, fuel, air.
UTILITY_PARTS = frozenset(
    {
        "engine",
        "radiator",
        "header tank",
        "coolant hose",
        "water pump",
        "grease line",
        "grease pump",
        "grease tank",
        "lube system",
        "fuel system",
        "air intake",
        "intercooler",
        "air conditioner",
        "compressor",
        "oil reserve",
        "turbo",
        "exhaust",
    }
)
#: media words that make a leak a utility leak (ISO 14224 ELU) rather than process (ELP).
UTILITY_MEDIA = re.compile(
    r"\b(water|coolant|grease|lube|fuel|diesel|air|engine oil|refrigerant|gas|antifreeze)\b"
)

#: words that end a noun phrase (the last part inside a phrase is its head)
PHRASE_BREAKS = re.compile(
    r"\b(on|at|in|to|of|off|for|from|under|above|below|beside|near|into|with|and|or|by|behind|"
    r"left|right|front|rear|ex|has|have|is|are|was|were|need|needs|requires?|not|no|wont)\b|[,;:()\-/.!?*#@]"
)

# -- problems ------------------------------------------------------------------------------
#: canonical problem -> patterns; the first problem (in this order) found in the text is taken.
PROBLEMS: dict[str, tuple[str, ...]] = {
    "contamination": (r"contaminat\w*",),
    "low_pressure": (r"low\b.{0,30}\bpressure", r"pressure (is )?low", r"low on pressure"),
    "high_pressure": (r"exceed\w*.{0,20}\bbar\b", r"high pressure (fault|alarm)", r"over\s*pressure"),
    "no_start": (
        r"wont (start|run|turn over|crank)",
        r"no start",
        r"not start\w*",
        r"(fail\w*|hard) to start",
        r"starting problems?",
    ),
    "shutdown": (
        r"shut+ing down",
        r"shuts? down",
        r"dying",
        r"wont stay running",
        r"stall\w*",
        r"cutting out",
    ),
    "overheating": (r"overheat\w*", r"over heat\w*", r"high temp\w*", r"running hot"),
    "smoke": (r"smok\w*",),
    "noise": (r"nois\w*", r"squeal\w*", r"knock\w*", r"rattl\w*", r"grinding"),
    "erratic": (r"erratic\w*", r"intermittent\w*", r"fluctuat\w*"),
    "short_circuit": (r"short(ing|ed)?( circuit)?\b(?! of)",),
    "leak": (r"leak\w*", r"weep\w*", r"seep\w*", r"drip\w*", r"bypass\w*"),
    "blown": (r"blown?", r"burst\w*", r"blew"),
    "crack": (r"crack\w*", r"split"),
    "missing": (r"missing", r"lost", r"fallen out", r"fell (off|out)", r"came off"),
    "broken": (r"broke(n)?", r"snapped", r"torn off", r"fail(ed|ure|ing)", r"sheared"),
    "loose": (r"loose\w*",),
    "worn": (r"worn", r"wear\w*"),
    "damage": (r"damage\w*", r"bent", r"dent\w*"),
    "stuck": (r"not releas\w*", r"stuck", r"seiz\w*", r"jamm\w*", r"staying on"),
    "low_output": (r"slow\w*", r"not \w+ing (too |very )?well", r"weak", r"lack of power", r"low power"),
    "not_working": (
        r"unserviceable",
        r"not (working|operating|operational|functioning|cooling)",
        r"no (power|function|controls?)",
        r"blowing hot air",
        r"wont (open|close|lock|work|operate|move|swing)\w*",
        r"inoperative",
        r"dead",
        r"flat",
    ),
    "fault": (
        r"fault\w*",
        r"alarm\w*",
        r"warning",
        r"(light|code|lamp)s? (is |has )?(come |coming |activat\w* )?on",
        r"code \d+",
        r"(light|lamp) fault",
        r"going out on",
    ),
}

# -- actions -------------------------------------------------------------------------------
#: canonical action -> patterns; the first action word in the text is taken.
ACTIONS: dict[str, tuple[str, ...]] = {
    "replace": (
        r"replace",
        r"changeout",
        r"change",
        r"(re)?fit( new)?",
        r"needs? replace",
        r"requires? (changing|new)",
        r"new",
    ),
    "repair": (
        r"repair\w*",
        r"rebuil(d|t)",
        r"overhaul\w*",
        r"weld\w*",
        r"reseal\w*",
        r"fix\w*",
        r"refurb\w*",
        r"mend\w*",
    ),
    "adjust": (r"adjust\w*", r"tune\w*", r"tension(ing)?\b(?!s)", r"realign\w*", r"align\w*"),
    "inspect": (r"check\w*", r"inspect\w*", r"investigat\w*", r"ndt", r"test\w*", r"examin\w*"),
    "clean": (r"clean(ed|ing)?", r"clean out", r"flush\w*", r"wash\w*"),
    "install": (r"install\w*", r"fabricat\w*", r"make up", r"remount\w*", r"mount new", r"add\w*"),
    "service": (r"top\w* up", r"jumpstart", r"bleed\w*", r"charge", r"service\w*"),
    "remove": (r"remov\w*",),
}

#: parts that are fitted as additions rather than replacements ("fit" means install for them)
INSTALLED_PARTS = frozenset(
    {"fire suppression", "sign", "monitoring system", "platform", "tank", "camera", "sunblind"}
)


def compile_table(table: dict[str, tuple[str, ...]]) -> list[tuple[str, re.Pattern[str]]]:
    """(canonical, compiled pattern) pairs, each pattern wrapped in word boundaries."""
    return [
        (name, re.compile(rf"(?<![\w']){p}(?![\w])")) for name, patterns in table.items() for p in patterns
    ]
