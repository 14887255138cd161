"""Redaction of personal data before text leaves the machine or is written to the audit log,
reversible for what the user sees.

>>> r = Redactor()
>>> red = r.redact("Technician John Miller (john.miller@acme.com) replaced the bearing")
>>> red.text
'Technician <PERSON_1> (<EMAIL_1>) replaced the bearing'
>>> red.restore("Thanks <PERSON_1>")
'Thanks John Miller'

What is found (placeholder label in brackets):

- e-mail addresses (``EMAIL``);
- phone numbers (``PHONE``): numbers that libphonenumber (the ``phonenumbers`` package) accepts
  as valid for one of ``phone_regions`` — or for any country when written with ``+``/``00`` —
  written with separators, a leading ``+``/``00``/``(`` or trunk ``0``, or after a phone cue
  (``tel.``, ``mobile``, ``call``, ``bel``, ``llama``...), and not right after an order, serial,
  lot or part cue; plus the formats ``(555) 123-4567``, ``555-123-4567``, ``0170/1234567``;
- IBANs (``IBAN``), with or without spaces: mod-97 check digits and the country's account format
  (python-stdnum);
- payment card numbers (``CARD``): 14–19 digits with a card issuer's prefix and length and a
  valid Luhn check digit;
- national identifiers (``NATIONAL_ID``), each validated by python-stdnum: US SSN, UK National
  Insurance number (format and prefix rules: it has no check digit), German Steuer-ID, French
  NIR, Dutch BSN, Spanish DNI and NIE, Italian codice fiscale, Swiss AHV number, Belgian national
  number. Those whose check lets many random numbers through — a BSN or a run of 9 or 11 digits —
  only after their cue (``BSN``, ``Steuer-ID``, ``SSN``...);
- dates of birth (``DOB``): a date (``14.07.1986``, ``1986-07-14``, ``3 March 1979``, ``9. März
  1990``, ``5 de junio de 1977``...) right after a birth cue (``born``, ``DOB``, ``date of
  birth``, ``geb.``, ``geboren am``, ``Geburtsdatum``, ``né le``, ``date de naissance``,
  ``nacido el``, ``fecha de nacimiento``, ``f. nac.``, ``geboren op``, ``geboortedatum``,
  ``nato il``...) with a year between 1900 and now. Other dates are left alone;
- person names (``PERSON``): a first name from Faker's name lists (its person providers of every
  locale but the generic ``en`` one, Latin script) followed by a capitalised surname (with ``van der``, ``de la``, ``von``,
  ``El``... before it, and a second surname when that is a known surname); a name after a title
  or role (``Mr``, ``Frau``, ``Herrn``, ``Mme``, ``M.``, ``Dña.``, ``dhr.``, ``Technician``,
  ``reported by``...); a name spelled in an e-mail address (``john.miller@`` → ``John
  Miller``); the surname of a name found so, wherever it appears again; the roster
  (``[redaction] known_names``);
- identifiers matching configured patterns (``[redaction] id_patterns = {EMPLOYEE = 'EMP-\\d{5}'}``).

Not found: postal addresses; a first name on its own with no title or role before it (``ask
Rob``); names whose first name is in none of the lists, or that are written in capitals only;
IBANs, card numbers and ids with a wrong check digit (a mistyped number is left as it is —
with no valid check it cannot be told from a part or order number); dates of birth with no
birth cue.

Left alone on purpose: the terms in ``keep`` (``[redaction] keep``: the twin's own entity names),
and technical text — pump and line names (``Pump P-101``, ``North plant``), part, order and
serial numbers, quantities, timestamps, sensor values — which no recogniser above matches: a
capitalised word after a first name is not taken as a surname when it is a known technical,
place or calendar word (``Will Pump P-101 ...``, ``Grant Street``), and a first name that is also
an everyday word (``Will``, ``Mark``, ``May``) needs a known surname after it.

Every distinct value gets one placeholder (``<PERSON_1>``, ``<EMAIL_2>``...), the same in every
message of a call, so the model can still refer to it; :meth:`Redaction.restore` maps placeholders
in the answer back (also when the model dropped the angle brackets).
"""

from __future__ import annotations

import datetime as _dt
import functools
import importlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from twinforge.ai.errors import AIError

Span = tuple[int, int, str]

EMAIL_RE = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")

# -- phone numbers --------------------------------------------------------------------------------

#: regions whose national formats are recognised (numbers with + or 00 are recognised for any)
DEFAULT_PHONE_REGIONS = ("GB", "US", "DE", "AT", "CH", "FR", "BE", "ES", "NL")
#: formats that are phone numbers even when libphonenumber does not know the number range
PHONE_RES = [
    # +49 170 1234567, +1 (555) 123-4567, +44 20 7946 0958
    re.compile(r"(?<![\w+])\+\d{1,3}(?:[ ./-]?(?:\(\d{1,5}\)|\d{1,5})){1,5}(?![\w])"),
    # (555) 123-4567, (0170) 1234567
    re.compile(r"(?<!\w)\(\d{2,5}\)[ ./-]?\d{3,4}[ ./-]?\d{3,5}(?=\W|$)"),
    # 0170/1234567, 030 1234 5678, 0170-123 4567 (5 digits or more after the area code)
    re.compile(r"(?<![\w/-])0\d{2,4}[ /-](?=(?:\d[ -]?){4}\d)\d{3,4}(?:[ -]?\d{2,5})?(?=\W|$)"),
    # 555-123-4567, 555.123.4567
    re.compile(r"(?<![\w-])\d{3}[-.]\d{3}[-.]\d{4}(?![\w-])"),
]
#: stretches of text that may hold a phone number (handed to libphonenumber with some context)
_PHONE_CANDIDATE = re.compile(r"(?:\+|\(|\b00)?\d[\d \u00a0().\/-]{5,26}\d")
_PHONE_CUE = re.compile(
    r"(?i)\b(?:tel|tél|phone|telephone|téléphone|telefon|telefono|teléfono|telefoon|mobile?|mobil|"
    r"móvil|movil|portable|handy|gsm|cell|fax|whatsapp|sms|text|call|ring|ruf|anrufen|erreichbar|"
    r"bel|bellen|appelle[rz]?|llama|llamar|rückruf|contact(?:ez)?)\b\.?(?:[^\w\n]|\s+\w+){0,4}\s*$"
)
_NUMBER_CUE = re.compile(
    r"(?i)\b(?:order|po|wo|invoice|inv|serial|s/?n|sn|lot|batch|charge|partij|lote|ean|gtin|upc|sku|"
    r"part|p/?n|art|artikel|article|artículo|material|auftrag|bestell\w*|pedido|orden|commande|"
    r"inkoop\w*|ref|réf|référence|referencia|ticket|modbus|address|adresse|adres|dirección|ip|id|"
    r"nr|no|n[°º]|code|código|version|firmware|serie\w*|seriennummer)\b\.?[\s:#]*$"
)
_SEPARATED = re.compile(r"\d[ \u00a0./-]\d|\(\d|\d\)")
_GLUED_BEFORE = re.compile(r"(?:\w|\w[-/.])$")
_GLUED_AFTER = re.compile(r"\w|[-/.]\w")
_NOT_PHONE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d+[.,]\d+")  # a date, a decimal

# -- IBANs, cards, national ids, dates of birth ------------------------------------------------

IBAN_CANDIDATE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,32}(?![A-Za-z0-9])")
CARD_CANDIDATE = re.compile(r"(?<![\w.,/-])\d(?:[ -]?\d){12,18}(?![\w/-]|[.,]\d)")

_CUE_WINDOW = 40  # characters before an id in which its cue must stand, where one is needed
_SSN_CUE = re.compile(r"(?i)\b(?:ssn|social security(?: number| no\.?)?|ss#)")
_BSN_CUE = re.compile(r"(?i)\b(?:bsn|burgerservicenummer|sofi-?nummer|citizen service number)\b")
_IDNR_CUE = re.compile(
    r"(?i)\b(?:steuer-?id(?:nr)?|steuer-?identifikationsnummer|identifikationsnummer|idnr|tax id|tin)\b"
)


def _stdnum(module: str) -> Callable[[str], bool]:
    def valid(value: str) -> bool:
        return bool(importlib.import_module(f"stdnum.{module}").is_valid(re.sub(r"[\s.-]", "", value)))

    return valid


def _nino_valid(value: str) -> bool:
    compact = re.sub(r"\s", "", value)
    return compact[:2] not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}


#: (pattern, validator, cue needed before it or None)
NATIONAL_IDS: list[tuple[re.Pattern[str], Callable[[str], bool], re.Pattern[str] | None]] = [
    # US SSN 123-45-6789; without dashes only after "SSN"
    (re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])"), _stdnum("us.ssn"), None),
    (re.compile(r"(?<![\d-])\d{3} ?\d{2} ?\d{4}(?![\d-])"), _stdnum("us.ssn"), _SSN_CUE),
    # UK National Insurance number AB 12 34 56 C
    (
        re.compile(
            r"(?<![A-Za-z0-9])[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])"
        ),
        _nino_valid,
        None,
    ),
    # German Steuer-ID 12 345 678 901; a bare run of 11 digits only after its cue
    (re.compile(r"(?<!\d)(?<!\d )\d{2} \d{3} \d{3} \d{3}(?! ?\d)"), _stdnum("de.idnr"), None),
    (re.compile(r"(?<![\d.,-])\d{11}(?![\d])"), _stdnum("de.idnr"), _IDNR_CUE),
    # French NIR 1 85 03 75 116 238 42 (Corsica: 2A / 2B)
    (
        re.compile(r"(?<![\d])[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}(?![\d])"),
        _stdnum("fr.nir"),
        None,
    ),
    # Dutch BSN 1234.56.782; a bare run of 9 digits only after its cue
    (re.compile(r"(?<![\d.])\d{4}\.\d{2}\.\d{3}(?![\d.])"), _stdnum("nl.bsn"), None),
    (re.compile(r"(?<![\d.,-])\d{9}(?![\d])"), _stdnum("nl.bsn"), _BSN_CUE),
    # Spanish DNI 12345678Z and NIE X1234567L
    (re.compile(r"(?<!\w)\d{8}-?[A-Z](?!\w)"), _stdnum("es.dni"), None),
    (re.compile(r"(?<!\w)[XYZ]-?\d{7}-?[A-Z](?!\w)"), _stdnum("es.nie"), None),
    # Italian codice fiscale, Swiss AHV number, Belgian national number
    (
        re.compile(r"(?<!\w)[A-Z]{6}\d{2}[A-EHLMPRST]\d{2}[A-Z]\d{3}[A-Z](?!\w)"),
        _stdnum("it.codicefiscale"),
        None,
    ),
    (re.compile(r"(?<![\d.])756\.\d{4}\.\d{4}\.\d{2}(?![\d.])"), _stdnum("ch.ssn"), None),
    (re.compile(r"(?<![\d.])\d{2}\.\d{2}\.\d{2}-\d{3}\.\d{2}(?![\d.])"), _stdnum("be.nn"), None),
]

_MONTHS = (
    # en
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|"
    # de
    "januar|jänner|februar|märz|mai|juni|juli|oktober|dezember|"
    # fr
    "janvier|février|fevrier|mars|avril|juin|juillet|août|aout|septembre|octobre|novembre|décembre|"
    # es
    "enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre|"
    # nl
    "januari|februari|maart|mei|augustus|"
    # it
    "gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre"
)
_DATE = (
    r"(?:(?P<y1>\d{4})-\d{1,2}-\d{1,2}"
    r"|\d{1,2}[./-] ?\d{1,2}[./-] ?(?P<y2>\d{4}|\d{2})"
    rf"|\d{{1,2}}(?:st|nd|rd|th|er|º|°)?\.? (?:de |of )?(?:{_MONTHS})\.? (?:de )?(?P<y3>\d{{4}})"
    rf"|(?:{_MONTHS})\.? \d{{1,2}}(?:st|nd|rd|th)?,? (?P<y4>\d{{4}}))(?!\d)"
)
_BIRTH_CUE = (
    r"\b(?:born(?: on)?|d\.?o\.?b\.?|date of birth|birth ?date|birthday|"
    r"geb\.|geboren(?: am| op)?|geburtsdatum|geb\.-datum|geboortedatum|"
    r"n[ée]e?(?:\(e\))? le|date de naissance|"
    r"nacid[oa] el|fecha de nacimiento|f\. ?(?:de )?nac\.?|fec\. ?nac\.?|"
    r"nat[oa] il|data di nascita)"
)
DOB_RE = re.compile(rf"(?i){_BIRTH_CUE}[\s:,(]*(?:(?:on|am|op|le|el|the|il) )?(?P<date>{_DATE})")

# -- person names ---------------------------------------------------------------------------------

_NAME_WORD = r"(?:Ma?c|[A-ZÀ-ÖØ-Þ]')?[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ]+(?:[-'][A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ]+)?"
_INITIAL = r"[A-Z]\."
#: titles (an abbreviation may end in a full stop): the capitalised words after them are a name
_TITLE_CUES = (
    r"Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Herr|Herrn|Frau|Sir|Madam|Mme|Mlle|Monsieur|Madame|M\.|"
    r"Sr|Sra|Srta|Dña|Doña|[Dd]hr|[Mm]evr|[Mm]evrouw|[Mm]eneer"
)
#: roles and verbs before a name (no full stop after them: "... per call. Hits are ...")
_ROLE_CUES = (
    r"[Tt]echnician|[Tt]ech|[Oo]perator|[Ee]ngineer|[Mm]echanic|[Ee]lectrician|[Ss]upervisor|"
    r"[Ii]nspector|[Cc]ontractor|[Ff]oreman|[Mm]anager|[Ss]hift lead|[Ss]hift leader|[Pp]lanner|"
    r"[Ww]orker|[Ee]mployee|[Cc]olleague|[Aa]pprentice|[Aa]uditor|[Dd]river|"
    r"[Rr]eported by|[Ss]igned(?: off)? by|[Aa]pproved by|[Cc]hecked by|[Pp]erformed by|[Dd]one by|"
    r"[Aa]ssigned to|[Cc]ontact|[Cc]all|[Cc]alled|[Aa]sk|[Ii]nformed|[Aa]uthor"
)
_TITLES = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Herr|Frau)\.?\s+"
PERSON_AFTER_CUE_RE = re.compile(
    rf"(?<![\w.])(?:(?:{_TITLE_CUES})\.?|(?:{_ROLE_CUES}):?)\s+(?:{_TITLES})?"
    rf"((?:{_INITIAL}\s?)?{_NAME_WORD}(?:\s+(?:{_INITIAL}\s?)?{_NAME_WORD}){{0,2}})"
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: capitalised words that are not names: never a surname, and never a name after a cue
_NOT_NAMES = _words(
    """
    The This That These Those A An And Or Of On At In For To From By With Is Was Are Can
    Pump Pumps Pumpe Pumpen Pompe Pompes Pomp Pompen Bomba Bombas Line Lines Linie Ligne Línea Lijn
    Plant Werk Usine Planta Fabriek Factory Fabrik Station Hall Halle Hal Nave Building Gebäude Bâtiment
    Edificio Gebouw Site Area Room Unit Zone Store Warehouse Lager Magazin Magazijn Almacén Entrepôt
    Workshop Werkstatt Atelier Taller Werkplaats Shift Schicht Poste Turno Dienst Team Crew Equipe
    Équipe Equipo Ploeg Group Gruppe Groupe Grupo Groep Night Day Morning Evening Nacht Tag Früh Spät
    Maintenance Instandhaltung Wartung Mantenimiento Onderhoud Production Produktion Producción
    Productie Quality Qualität Qualité Calidad Kwaliteit Safety Sicherheit Sécurité Seguridad
    Veiligheid Vendor Contractor Service Services Support Operator Technician Engineer Filler Füller
    Valve Ventil Vanne Válvula Klep Fan Lüfter Ventilateur Ventilador Ventilator Motor Moteur
    Compressor Kompressor Verdichter Compresseur Compresor Conveyor Förderband Convoyeur Cinta
    Transportband Mixer Mischer Tank Boiler Kessel Sensor Capteur Gearbox Getriebe Machine Maschine
    Máquina Anlage Turbine Turbina Generator Press Presse Prensa Pers Forklift Stapler Chariot
    Carretilla Heftruck Robot Roboter Cell Zelle Cellule Celda Key Screw Screws Wheel Runner
    Street St Road Rd Avenue Ave Lane Way Square Place Straße Strasse Str Weg Platz Gasse Allee Ring
    Rue Boulevard Bd Quai Calle Avenida Plaza Paseo Camino Straat Laan Plein Gracht Kade Steeg
    North South East West Nord Süd Sud Ost Est Ouest Norte Sur Este Oeste Noord Zuid Oost
    Northern Southern Eastern Western Central Upper Lower Old New Neu Nieuw Nuevo Nouveau Big Little
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday Montag Dienstag Mittwoch Donnerstag
    Freitag Samstag Sonntag Lundi Mardi Mercredi Jeudi Vendredi Samedi Dimanche Lunes Martes
    Miércoles Jueves Viernes Sábado Domingo Maandag Dinsdag Woensdag Donderdag Vrijdag Zaterdag Zondag
    January February March April May June July August September October November December
    Januar Jänner Februar März Mai Juni Juli Oktober Dezember Janvier Février Mars Avril Juin
    Juillet Août Septembre Octobre Novembre Décembre Enero Febrero Marzo Abril Mayo Junio Julio
    Agosto Septiembre Octubre Noviembre Diciembre Januari Februari Maart Mei Augustus
    Ltd Limited GmbH AG SA SARL SAS SL BV NV Inc Corp Co Company Holding Systems Industries Solutions
    Replaced Inspected Checked Found Noted Cleaned Done Signed General
    Mr Mrs Ms Miss Mx Dr Prof Herr Herrn Frau Sir Madam Mme Mlle Monsieur Madame Sr Sra Don Doña
    Dña Dhr Mevrouw Meneer Saint Sainte Sankt Santa Santo San Dipl Ing Mag Dott Ir Drs
    """
)
#: words before a first name that make it part of a place name (Saint-Étienne, San Fernando)
_PLACE_PREFIXES = {"Saint", "Sainte", "St", "Sankt", "San", "Santa", "Santo", "São", "Fort", "Port", "Mount"}
#: a "surname" ending so is a street (Jan van Galenstraat)
_STREET_SUFFIXES = (
    "straat",
    "straße",
    "strasse",
    "laan",
    "plein",
    "gracht",
    "gasse",
    "platz",
    "allee",
    "weg",
)
#: particles between first name and surname (Jan de Vries, Pieter van den Berg, Mohamed El Amrani)
_PARTICLES = _words(
    "van von de der den del della di da du dos das le la les ter ten te zu zur vom op el al bin ben ibn "
    "Van Von De Der Den Del Della Di Da Du Le La El Al Bin Ben Ibn Abu"
)
#: first names that are also everyday words: a name only with a known surname after them
_WORD_FIRST_NAMES = _words(
    """
    Will Mark May Grant Rose Frank Jack Ray Bill Pat Art Hope Joy Guy Max Chase Page Don Dean Gene
    Sandy Summer Dawn Faith Crystal Amber Ruby Pearl Jade Holly Ivy Iris Lily Violet Heather Daisy
    Sky River Hunter Chance Royal Price Young King Major Sterling Rich Miles Earl Duke Baron Prince
    Bishop Deacon Carter Mason Cooper Parker Tyler Taylor Victoria Francis Allen Jackson Jordan
    Kai Wolf Engel Pilar Luz Mar Sol Paz Mercedes Reyes Rosario Dolores Amparo Consuelo Socorro
    Nieves Salvador Bas Blanche Claire Line Rosa
    """
)
_TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*(?:-[^\W\d_]+(?:['’][^\W\d_]+)*)*")
_LATIN_NAME = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ɏḀ-ỿ]+(?:['’-][A-Za-zÀ-ÖØ-öø-ɏḀ-ỿ]+)*$")


@functools.lru_cache(maxsize=1)
def name_lists() -> tuple[frozenset[str], frozenset[str]]:
    """(first names, surnames) from Faker's person providers, every locale but the generic ``en``
    one, Latin script only.

    Read once per process (about 0.4 s); Faker's generator itself is never instantiated."""
    import pkgutil

    try:
        import faker.providers.person as person
    except ImportError:  # pragma: no cover - a declared dependency
        raise AIError("person-name redaction needs the 'faker' package (pip install faker)") from None

    first: set[str] = set()
    last: set[str] = set()
    for info in pkgutil.iter_modules(person.__path__):
        if info.name == "en":  # US birth records back to 1880: surnames and places as given names
            continue
        provider = importlib.import_module(f"{person.__name__}.{info.name}").Provider
        for attr, into in (
            ("first_names", first),
            ("first_names_male", first),
            ("first_names_female", first),
            ("first_names_nonbinary", first),
            ("last_names", last),
        ):
            values = provider.__dict__.get(attr, ())
            if not isinstance(values, Mapping | list | tuple | set | frozenset):
                continue  # computed in a few locales (a property): not a list to read
            for name in values:
                if isinstance(name, str) and len(name) >= 2 and _LATIN_NAME.match(name):
                    into.add(name)
    return frozenset(first - _NOT_NAMES - _PARTICLES), frozenset(last - _NOT_NAMES - _PARTICLES)


def _is_capitalised(word: str) -> bool:
    return word[:1].isupper() and not word.isupper()


def _is_first_name(word: str, first: frozenset[str]) -> bool:
    if not _is_capitalised(word) or word in _NOT_NAMES:
        return False
    if word in first:
        return True
    parts = word.split("-")
    return len(parts) > 1 and all(p in first and _is_capitalised(p) for p in parts)


def _is_surname(word: str) -> bool:
    return (
        len(word) >= 2
        and _is_capitalised(word)
        and word not in _NOT_NAMES
        and not word.lower().endswith(_STREET_SUFFIXES)
    )


def _followed_by_code(text: str, end: int) -> bool:
    """The word ending at ``end`` comes before an id or number ("Pump P-101", "Line 3")."""
    return bool(re.match(r"-?\s?\d", text[end : end + 3]))


def _lexicon_names(text: str) -> list[Span]:
    """First name(s) from the lists + capitalised surname: ``Sarah Okafor``, ``Jan de Vries``."""
    first, last = name_lists()
    tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]

    def joined(a: int, b: int) -> bool:  # tokens a and b separated by one blank only
        gap = text[tokens[a][1] : tokens[b][0]]
        return gap in (" ", "\u00a0")

    def followed_by_code(k: int) -> bool:
        return _followed_by_code(text, tokens[k][1])

    spans: list[Span] = []
    i = 0
    while i < len(tokens):
        start, _, word = tokens[i]
        before = text[max(0, start - 8) : start]
        prev_word = re.search(r"([^\W\d_]+)\W*$", before)
        if (
            not _is_first_name(word, first)
            or (prev_word and prev_word.group(1) in _PLACE_PREFIXES)
            or before.endswith("-")
        ):
            i += 1
            continue
        j = i  # last first-name token
        while (
            j + 1 < len(tokens) and j - i < 2 and joined(j, j + 1) and _is_first_name(tokens[j + 1][2], first)
        ):
            j += 1
        k = j + 1  # surname position, after particles
        while k < len(tokens) and k - j <= 2 and joined(k - 1, k) and tokens[k][2] in _PARTICLES:
            k += 1
        end_token = None
        if k < len(tokens) and joined(k - 1, k) and _is_surname(tokens[k][2]) and not followed_by_code(k):
            end_token = k
        elif j > i and k == j + 1 and not followed_by_code(j):
            end_token = j  # "Alejandro Gil": the last first name is the surname
        if end_token is None:
            i = j + 1
            continue
        # an everyday word as first name ("Will", "Mark") needs a surname from the lists
        if word in _WORD_FIRST_NAMES and tokens[end_token][2] not in last:
            i += 1
            continue
        # a second surname, when it is a known one (Lucía Fernández Ortega)
        n = end_token + 1
        if (
            n < len(tokens)
            and joined(end_token, n)
            and tokens[n][2] in last
            and _is_surname(tokens[n][2])
            and not followed_by_code(n)
        ):
            end_token = n
        spans.append((start, tokens[end_token][1], "PERSON"))
        i = end_token + 1
    return spans


def _valid_prefix(value: str, valid: Callable[[str], bool], min_len: int) -> int | None:
    """Length of the longest prefix of ``value`` ending at a group boundary that ``valid`` accepts
    (spaces and dashes removed): a candidate may have swallowed a word or number after it."""
    ends = [m.end() for m in re.finditer(r"[A-Za-z0-9](?=[ -]|$)", value)]
    for end in sorted(ends, reverse=True):
        compact = re.sub(r"[ -]", "", value[:end])
        if len(compact) >= min_len and valid(compact):
            return end
    return None


def _iban_valid(compact: str) -> bool:
    from stdnum import iban

    return bool(iban.is_valid(compact.upper()))


def _card_valid(digits: str) -> bool:
    """Luhn check digit plus a card issuer's prefix and length (Visa, Mastercard, Amex, Discover,
    Diners, JCB, UnionPay)."""
    from stdnum import luhn

    if not digits.isdigit() or not luhn.is_valid(digits):
        return False
    n, p2, p3, p4 = len(digits), int(digits[:2]), int(digits[:3]), int(digits[:4])
    if digits[0] == "4":
        return n in (16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16
    if p2 in (34, 37):
        return n == 15
    if p4 == 6011 or p2 == 65 or 644 <= p3 <= 649 or 3528 <= p4 <= 3589 or p2 == 62:
        return 16 <= n <= 19
    if p2 in (36, 38, 39) or 300 <= p3 <= 305:
        return 14 <= n <= 19
    return False


def _plausible_birth_year(match: re.Match[str]) -> bool:
    year = next((match.group(g) for g in ("y1", "y2", "y3", "y4") if match.group(g)), None)
    if year is None:
        return False
    if len(year) == 2:
        return True
    return 1900 <= int(year) <= _dt.date.today().year


def find_phones(text: str, regions: Iterable[str] = DEFAULT_PHONE_REGIONS) -> list[Span]:
    """Phone numbers: the fixed formats of :data:`PHONE_RES`, and numbers libphonenumber accepts
    (digits grouped as the country groups them) — neither glued to a code (``DE-2023-004512``),
    nor a date, nor right after an order, serial or part cue."""
    found: list[tuple[int, int, bool]] = []  # start, end, formatted
    for rx in PHONE_RES:
        found += [
            (m.start(), m.end(), True) for m in rx.finditer(text) if sum(c.isdigit() for c in m.group()) >= 7
        ]
    regions = tuple(regions)
    if regions:
        import phonenumbers

        strict = phonenumbers.Leniency.STRICT_GROUPING
        for cand in _PHONE_CANDIDATE.finditer(text):
            if sum(c.isdigit() for c in cand.group()) < 8:
                continue
            lo = max(0, cand.start() - 4)
            window = text[lo : min(len(text), cand.end() + 4)]
            for region in regions:
                for m in phonenumbers.PhoneNumberMatcher(window, region, leniency=strict):
                    raw = m.raw_string
                    international = raw[0] == "+" or raw.startswith("00")
                    if sum(c.isdigit() for c in raw) >= (8 if international else 9):
                        formatted = international or raw[0] == "(" or bool(_SEPARATED.search(raw))
                        found.append((lo + m.start, lo + m.end, formatted))
    ibanlike = [(m.start(), m.end()) for m in IBAN_CANDIDATE.finditer(text)]
    spans: list[Span] = []
    for start, end, formatted in found:
        if any(start < e and s < end for s, e in ibanlike):  # digits of an IBAN, valid or mistyped
            continue
        before = text[max(0, start - 30) : start]
        cue = bool(_PHONE_CUE.search(before))
        if (
            _GLUED_BEFORE.search(before)
            or _GLUED_AFTER.match(text, end)
            or _NOT_PHONE.fullmatch(text[start:end])
            or (not cue and _NUMBER_CUE.search(before))
            or not (formatted or cue)
        ):
            continue
        spans.append((start, end, "PHONE"))
    return spans


def find_ibans(text: str) -> list[Span]:
    spans = []
    for m in IBAN_CANDIDATE.finditer(text):
        length = _valid_prefix(m.group(), _iban_valid, 15)
        if length:
            spans.append((m.start(), m.start() + length, "IBAN"))
    return spans


def find_cards(text: str) -> list[Span]:
    spans = []
    for m in CARD_CANDIDATE.finditer(text):
        length = _valid_prefix(m.group(), _card_valid, 14)
        if length:
            spans.append((m.start(), m.start() + length, "CARD"))
    return spans


def find_national_ids(text: str) -> list[Span]:
    spans = []
    for rx, valid, cue in NATIONAL_IDS:
        for m in rx.finditer(text):
            if cue is not None and not cue.search(text[max(0, m.start() - _CUE_WINDOW) : m.start()]):
                continue
            if valid(m.group()):
                spans.append((m.start(), m.end(), "NATIONAL_ID"))
    return spans


def find_birth_dates(text: str) -> list[Span]:
    return [
        (m.start("date"), m.end("date"), "DOB") for m in DOB_RE.finditer(text) if _plausible_birth_year(m)
    ]


@dataclass
class Redaction:
    """The mapping between placeholders and the values they hide, shared by the messages of a call."""

    by_value: dict[tuple[str, str], str] = field(default_factory=dict)
    by_placeholder: dict[str, str] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    text: str = ""  # the last redacted text

    def placeholder(self, label: str, value: str) -> str:
        key = (label, value)
        if key not in self.by_value:
            n = self.counters.get(label, 0) + 1
            self.counters[label] = n
            ph = f"<{label}_{n}>"
            self.by_value[key] = ph
            self.by_placeholder[ph] = value
        return self.by_value[key]

    @property
    def found(self) -> dict[str, str]:
        """Placeholder → hidden value."""
        return dict(self.by_placeholder)

    def __len__(self) -> int:
        return len(self.by_placeholder)

    def restore(self, text: str) -> str:
        """Put the hidden values back where the placeholders are (with or without ``<>``)."""
        if not self.by_placeholder:
            return text
        names = {ph[1:-1]: value for ph, value in self.by_placeholder.items()}
        pattern = re.compile(r"<?\b(" + "|".join(re.escape(n) for n in names) + r")\b>?")
        return pattern.sub(lambda m: names[m.group(1)], text)

    def restore_obj(self, value: Any) -> Any:
        """:meth:`restore` applied to every string inside a JSON-like object."""
        if isinstance(value, str):
            return self.restore(value)
        if isinstance(value, list):
            return [self.restore_obj(v) for v in value]
        if isinstance(value, dict):
            return {
                self.restore(k) if isinstance(k, str) else k: self.restore_obj(v) for k, v in value.items()
            }
        return value


#: which recogniser wins where two overlap (lower first): checksum-validated kinds before phones,
#: phones before names
_PRIORITY = {"EMAIL": 1, "IBAN": 1, "CARD": 1, "NATIONAL_ID": 1, "DOB": 1, "PHONE": 2, "PERSON": 3}


class Redactor:
    """Finds personal data in text and replaces it with placeholders."""

    def __init__(
        self,
        *,
        emails: bool = True,
        phones: bool = True,
        person_names: bool = True,
        known_names: Iterable[str] = (),
        id_patterns: Mapping[str, str] | None = None,
        ibans: bool = True,
        cards: bool = True,
        national_ids: bool = True,
        birth_dates: bool = True,
        phone_regions: Iterable[str] = DEFAULT_PHONE_REGIONS,
        keep: Iterable[str] = (),
    ):
        self.emails = emails
        self.phones = phones
        self.person_names = person_names
        self.ibans = ibans
        self.cards = cards
        self.national_ids = national_ids
        self.birth_dates = birth_dates
        self.phone_regions = tuple(r.upper() for r in phone_regions)
        self.known_names = sorted({n.strip() for n in known_names if n.strip()}, key=len, reverse=True)
        terms = sorted({t.strip() for t in keep if t.strip()}, key=len, reverse=True)
        self.keep = (
            re.compile("|".join(rf"(?<!\w){re.escape(t)}(?!\w)" for t in terms), re.IGNORECASE)
            if terms
            else None
        )
        self.id_patterns: dict[str, re.Pattern[str]] = {}
        for label, pattern in (id_patterns or {}).items():
            if not re.fullmatch(r"[A-Z][A-Z0-9_]*", label):
                raise AIError(f"redaction id_patterns: label {label!r} must be upper case (A-Z, 0-9, _)")
            try:
                self.id_patterns[label] = re.compile(pattern)
            except re.error as exc:
                raise AIError(
                    f"redaction id_patterns[{label}]: invalid regular expression {pattern!r}: {exc}"
                ) from None
        if self.phone_regions:
            import phonenumbers

            unknown = sorted(set(self.phone_regions) - phonenumbers.SUPPORTED_REGIONS)
            if unknown:
                raise AIError(
                    f"redaction phone_regions: unknown region code(s) {unknown}; use ISO codes like DE"
                )

    @classmethod
    def from_settings(cls, settings: Any, *, keep: Iterable[str] = ()) -> Redactor:
        """A redactor for a ``[redaction]`` section; ``keep`` adds terms never redacted (entity names)."""
        return cls(
            emails=settings.emails,
            phones=settings.phones,
            person_names=settings.person_names,
            known_names=settings.known_names,
            id_patterns=settings.id_patterns,
            ibans=settings.ibans,
            cards=settings.cards,
            national_ids=settings.national_ids,
            birth_dates=settings.birth_dates,
            phone_regions=settings.phone_regions,
            keep=[*settings.keep, *keep],
        )

    def find(self, text: str, known: Iterable[tuple[str, str]] = ()) -> list[Span]:
        """Spans ``(start, end, label)`` of personal data in ``text``, non-overlapping, in order.

        ``known`` are ``(label, value)`` pairs found earlier in the same call: they are hidden
        wherever they appear, cue or not (e.g. a name the model repeats in its JSON answer)."""
        ranked: list[tuple[int, Span]] = []
        for label, value in known:
            ranked += [(0, (m.start(), m.end(), label)) for m in re.finditer(re.escape(value), text)]
        found: list[Span] = []
        if self.emails:
            found += [(m.start(), m.end(), "EMAIL") for m in EMAIL_RE.finditer(text)]
        for label, rx in self.id_patterns.items():
            ranked += [(1, (m.start(), m.end(), label)) for m in rx.finditer(text) if m.end() > m.start()]
        if self.ibans:
            found += find_ibans(text)
        if self.cards:
            found += find_cards(text)
        if self.national_ids:
            found += find_national_ids(text)
        if self.birth_dates:
            found += find_birth_dates(text)
        if self.phones:
            found += find_phones(text, self.phone_regions)
        if self.person_names:
            found += self._names(text)
        ranked += [(_PRIORITY.get(label, 1), (s, e, label)) for s, e, label in found]
        kept_terms = [(m.start(), m.end()) for m in self.keep.finditer(text)] if self.keep else []
        # the most trusted first, then the longest; drop spans overlapping one already kept
        ranked.sort(key=lambda r: (r[0], -(r[1][1] - r[1][0]), r[1][0]))
        kept: list[Span] = []
        for _, (s, e, label) in ranked:
            if any(s < ke and ks < e for ks, ke in kept_terms):
                continue
            if any(s < ke and ks < e for ks, ke, _ in kept):
                continue
            kept.append((s, e, label))
        return sorted(kept)

    def _names(self, text: str) -> list[Span]:
        names: set[str] = set(self.known_names)
        for m in PERSON_AFTER_CUE_RE.finditer(text):
            words = m.group(1).split()
            while words and words[0].rstrip(".") in _NOT_NAMES:
                words = words[1:]
            while words and words[-1] in _NOT_NAMES:
                words = words[:-1]
            if words and not _followed_by_code(text, m.start(1) + len(m.group(1))):
                names.add(" ".join(words))
        for m in EMAIL_RE.finditer(text):
            local = m.group().split("@", 1)[0]
            parts = [p for p in re.split(r"[._-]", local) if p.isalpha() and len(p) > 1]
            if len(parts) >= 2:
                names.add(" ".join(p.capitalize() for p in parts))
        lexicon = _lexicon_names(text)
        names |= {text[s:e] for s, e, _ in lexicon}
        surnames = {n.split()[-1] for n in names if len(n.split()) >= 2 and len(n.split()[-1]) >= 3}
        candidates = sorted(names | surnames, key=len, reverse=True)
        spans = list(lexicon)
        for name in candidates:
            for m in re.finditer(rf"(?<![\w@.]){re.escape(name)}(?![\w@])", text):
                spans.append((m.start(), m.end(), "PERSON"))
        return spans

    def redact(self, text: str, redaction: Redaction | None = None) -> Redaction:
        """Replace personal data in ``text``; pass the same ``redaction`` for every text of one call."""
        redaction = redaction if redaction is not None else Redaction()
        out, pos = [], 0
        for start, end, label in self.find(text, known=list(redaction.by_value)):
            out.append(text[pos:start])
            out.append(redaction.placeholder(label, text[start:end]))
            pos = end
        out.append(text[pos:])
        redaction.text = "".join(out)
        return redaction


@dataclass(frozen=True)
class PIISpan:
    """A labelled piece of personal data in a text: where it is and what kind it is."""

    start: int
    end: int
    kind: str


@dataclass
class RedactionScore:
    """Span-level recall and precision of a redactor on labelled texts.

    A true span is *found* when one redacted span covers it fully; a redacted span is *correct*
    when it overlaps some true span (its label may differ: a name hidden as ``<PHONE_1>`` is
    still hidden)."""

    found: dict[str, int] = field(default_factory=dict)  # kind → true spans found
    total: dict[str, int] = field(default_factory=dict)  # kind → true spans
    redacted: int = 0
    correct: int = 0
    false_positives: dict[str, int] = field(default_factory=dict)  # label → redacted spans on no PII
    misses: list[tuple[str, str, str]] = field(default_factory=list)  # (item id, kind, value)
    wrong: list[tuple[str, str, str]] = field(default_factory=list)  # (item id, label, redacted value)

    @property
    def recall(self) -> float:
        n = sum(self.total.values())
        return 100.0 * sum(self.found.values()) / n if n else 100.0

    @property
    def precision(self) -> float:
        return 100.0 * self.correct / self.redacted if self.redacted else 100.0


def score_redaction(
    redactor: Redactor, items: Iterable[tuple[str, str, Iterable[PIISpan]]]
) -> RedactionScore:
    """Score ``redactor`` on ``(item id, text, true spans)`` triples (see :class:`RedactionScore`)."""
    score = RedactionScore()
    for item_id, text, truth in items:
        truth = list(truth)
        predicted = redactor.find(text)
        for t in truth:
            score.total[t.kind] = score.total.get(t.kind, 0) + 1
            if any(s <= t.start and t.end <= e for s, e, _ in predicted):
                score.found[t.kind] = score.found.get(t.kind, 0) + 1
            else:
                score.misses.append((item_id, t.kind, text[t.start : t.end]))
        for s, e, label in predicted:
            score.redacted += 1
            if any(s < t.end and t.start < e for t in truth):
                score.correct += 1
            else:
                score.false_positives[label] = score.false_positives.get(label, 0) + 1
                score.wrong.append((item_id, label, text[s:e]))
    return score
