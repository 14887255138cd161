"""Schema-guided decoding by ranking: the model chooses, the schema decides what can be chosen.

A small local model (SmolLM2-135M) is unreliable at writing JSON token by token, even under a
grammar, and a large grammar makes llama.cpp's sampler slow. This decoder walks a JSON Schema and
builds the JSON text itself. Wherever the schema leaves a choice — which ``oneOf`` variant, which
``enum`` value, which optional key, whether an array goes on — it asks the model for the
log-probability of every allowed continuation and takes the most likely one. Numbers are chosen
from a list of candidates supplied by the caller (typically the numbers written in the user's
text), so the model can never invent a number; a slot with no admissible candidate is an error,
not a guess.

Supported schema features: ``const``, ``enum``, ``oneOf``/``anyOf`` of objects (walked as a trie
over their properties), ``$ref`` to ``$defs``, objects (required keys in schema order, then
optional keys chosen by ranking), arrays (``minItems``/``maxItems``), numbers and integers
(``minimum``, ``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum``), booleans, and free
strings (greedy, up to the closing quote). Extension keywords: ``x-candidates`` (the numbers a
slot may take, instead of the global list) and ``x-must-include`` (values an array must contain);
``uniqueItems`` is honoured for arrays of enum values.

The output uses ``json.dumps`` spacing (``", "`` and ``": "``), so few-shot examples written with
:func:`dumps` look exactly like what the decoder produces.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twinforge.errors import TwinforgeError

_CLOSE = object()


class RankedDecodeError(TwinforgeError):
    """The schema leaves no admissible choice (e.g. a number slot with no fitting candidate)."""


def dumps(value: Any) -> str:
    """JSON text exactly as the ranked decoder writes it."""
    return json.dumps(value, ensure_ascii=False)


def _fmt_number(x: float, integer: bool = False) -> str:
    if integer or float(x).is_integer():
        return str(round(x))
    return f"{x:.6g}"


@dataclass
class Choice:
    """One decision the model made: where, among what, and how likely each option was."""

    path: str
    options: list[str]
    logprobs: list[float]
    chosen: int

    @property
    def margin(self) -> float:
        """Log-probability gap between the chosen option and the runner-up (confidence)."""
        if len(self.logprobs) < 2:
            return math.inf
        ordered = sorted(self.logprobs, reverse=True)
        return ordered[0] - ordered[1]


@dataclass
class RankedResult:
    value: Any
    text: str
    choices: list[Choice] = field(default_factory=list)
    prompt_tokens: int = 0
    scored_tokens: int = 0

    @property
    def min_margin(self) -> float:
        return min((c.margin for c in self.choices), default=math.inf)


def _open_ended(texts: list[str]) -> list[str]:
    """Options to score: string values without their closing quote when no option is a prefix
    of another. In running text a closing quote merges with what follows (``",`` is one token),
    so a lone ``"`` is improbable and would add noise to every score."""
    if not all(t.endswith('"') for t in texts):
        return texts
    cut = [t[:-1] for t in texts]
    prefix = any(a != b and b.startswith(a) for a in cut for b in cut)
    return texts if prefix else cut


class RankedDecoder:
    """Decode a JSON value for a schema with a llama.cpp model created with ``logits_all=True``."""

    def __init__(self, llm: Any) -> None:
        if not getattr(llm, "_logits_all", False):
            raise TwinforgeError("ranked decoding needs a llama_cpp.Llama created with logits_all=True")
        self.llm = llm

    # -- model access ----------------------------------------------------------------------
    def _tok(self, text: str, special: bool = False) -> list[int]:
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=special))

    def _set_prompt(self, tokens: list[int]) -> int:
        """Make the context hold exactly ``tokens``, reusing the cached common prefix."""
        llm = self.llm
        n = llm.n_tokens
        cached = llm.input_ids[:n]
        common = 0
        limit = min(n, len(tokens) - 1)  # keep at least one token to evaluate (fresh logits)
        while common < limit and cached[common] == tokens[common]:
            common += 1
        llm.n_tokens = common
        self._eval(tokens[common:])
        return len(tokens) - common

    def _eval(self, tokens: list[int], all_logits: bool = False) -> None:
        """Append ``tokens`` to the context. Logits are kept for the last token only, unless
        ``all_logits`` (computing the output layer for every prompt token is wasted work)."""
        llm = self.llm
        if not all_logits and len(tokens) > 1:
            llm._logits_all = False
            try:
                llm.eval(tokens[:-1])
            finally:
                llm._logits_all = True
            tokens = tokens[-1:]
        llm.eval(tokens)

    def _logprob(self, base: int, tokens: list[int]) -> float:
        """Log-probability of ``tokens`` following the first ``base`` tokens of the context."""
        llm = self.llm
        llm.n_tokens = base
        self._eval(tokens, all_logits=True)
        rows = np.asarray(llm.scores[base - 1 : base - 1 + len(tokens)], dtype=np.float64)
        rows = rows - rows.max(axis=1, keepdims=True)
        logz = np.log(np.exp(rows).sum(axis=1))
        picked = rows[np.arange(len(tokens)), tokens]
        return float((picked - logz).sum())

    # -- decoding state --------------------------------------------------------------------
    def decode(
        self,
        prompt: str,
        schema: dict[str, Any],
        numbers: Sequence[float] = (),
        max_string_tokens: int = 32,
    ) -> RankedResult:
        """Decode one JSON value for ``schema`` after ``prompt`` (already chat-formatted).

        ``numbers``: the candidates for every number slot.
        """
        self.schema = schema
        self.numbers = list(numbers)
        self.max_string_tokens = max_string_tokens
        prompt_tokens = self._tok(prompt, special=True)
        self.base = len(prompt_tokens)
        self.prompt_tokens = prompt_tokens
        self.text = ""  # decided output so far
        self.pending = ""  # decided text not yet in the model's context
        self.choices: list[Choice] = []
        self.scored = 0
        evaluated = self._set_prompt(prompt_tokens)
        value = self._value([schema], lead="", path="$")
        return RankedResult(
            value=value,
            text=self.text,
            choices=self.choices,
            prompt_tokens=evaluated,
            scored_tokens=self.scored,
        )

    def _emit(self, piece: str) -> None:
        self.text += piece
        self.pending += piece

    def _flush(self) -> None:
        """Put the decided text into the model's context."""
        if not self.pending:
            return
        tokens = self._tok(self.pending)
        self.llm.n_tokens = self.base
        self._eval(tokens)
        self.base += len(tokens)
        self.pending = ""

    def _rank(self, path: str, options: list[str]) -> int:
        """Index of the most likely continuation among ``options`` (each after the pending text)."""
        if len(options) == 1:
            return 0
        self._flush()
        scores = []
        for text in options:
            tokens = self._tok(text)
            self.scored += len(tokens)
            scores.append(self._logprob(self.base, tokens))
        best = int(np.argmax(scores))
        self.choices.append(Choice(path=path, options=options, logprobs=scores, chosen=best))
        self.llm.n_tokens = self.base
        return best

    # -- schema helpers --------------------------------------------------------------------
    def _resolve(self, s: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in s:
            ref = s["$ref"]
            if not ref.startswith("#/"):
                raise RankedDecodeError(f"only local $ref is supported, found {ref!r}")
            node: Any = self.schema
            for part in ref[2:].split("/"):
                node = node[part]
            extra = {k: v for k, v in s.items() if k != "$ref"}
            s = {**node, **extra}
        return s

    def _flatten(self, schemas: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for s in schemas:
            s = self._resolve(s)
            alts = s.get("oneOf") or s.get("anyOf")
            if alts:
                out.extend(self._flatten(list(alts)))
            else:
                out.append(s)
        return out

    @staticmethod
    def _kind(s: dict[str, Any]) -> str:
        if "const" in s or "enum" in s:
            return "choice"
        t = s.get("type")
        if isinstance(t, list):
            t = next((x for x in t if x != "null"), t[0])
        if t is None and "properties" in s:
            t = "object"
        return t or "any"

    @staticmethod
    def _fits_number(s: dict[str, Any], x: float) -> bool:
        if s.get("type") == "integer" and not float(x).is_integer():
            return False
        if "minimum" in s and x < s["minimum"] - 1e-12:
            return False
        if "maximum" in s and x > s["maximum"] + 1e-12:
            return False
        if "exclusiveMinimum" in s and x <= s["exclusiveMinimum"]:
            return False
        return not ("exclusiveMaximum" in s and x >= s["exclusiveMaximum"])

    @classmethod
    def accepts(cls, s: dict[str, Any], value: Any) -> bool:
        """Whether a resolved schema admits a scalar value already chosen."""
        if "anyOf" in s or "oneOf" in s:
            return any(cls.accepts(x, value) for x in s.get("anyOf") or s.get("oneOf"))
        if "const" in s:
            return s["const"] == value
        if "enum" in s:
            return value in s["enum"]
        kind = cls._kind(s)
        if kind in ("number", "integer"):
            return (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and cls._fits_number(s, float(value))
            )
        if kind == "string":
            return isinstance(value, str)
        if kind == "boolean":
            return isinstance(value, bool)
        return True

    # -- values ----------------------------------------------------------------------------
    def _viable(self, s: dict[str, Any], depth: int = 0) -> bool:
        """Whether a value for ``s`` can be completed with the numbers at hand (no dead ends)."""
        if depth > 32:
            return True
        s = self._resolve(s)
        alts = s.get("oneOf") or s.get("anyOf")
        if alts:
            return any(self._viable(a, depth + 1) for a in alts)
        kind = self._kind(s)
        if kind == "choice":
            return "const" in s or bool(s.get("enum"))
        if kind in ("number", "integer"):
            return any(self._fits_number(s, x) for x in s.get("x-candidates", self.numbers))
        if kind == "object":
            props = s.get("properties", {})
            return all(self._viable(props[k], depth + 1) for k in s.get("required", []) if k in props)
        if kind == "array":
            return int(s.get("minItems", 0)) == 0 or self._viable(s.get("items", {}), depth + 1)
        return True

    def _value(self, schemas: list[dict[str, Any]], lead: str, path: str) -> Any:
        variants = [v for v in self._flatten(schemas) if self._viable(v)]
        if not variants:
            raise RankedDecodeError(
                f"{path}: no alternative can be completed with the numbers in the context"
            )
        kinds = {self._kind(v) for v in variants}
        if kinds <= {"choice"}:
            return self._choice(variants, lead, path)
        if kinds == {"object"}:
            return self._object(variants, lead, path)
        if kinds <= {"number", "integer"}:
            return self._number(variants, lead, path)
        if kinds == {"array"}:
            if len(variants) > 1:
                raise RankedDecodeError(f"{path}: alternatives between arrays are not supported")
            return self._array(variants[0], lead, path)
        if kinds == {"boolean"}:
            i = self._rank(path, [lead + "true", lead + "false"])
            self._emit(lead + ("true" if i == 0 else "false"))
            return i == 0
        if kinds == {"string"}:
            return self._string(lead, path)
        raise RankedDecodeError(f"{path}: cannot choose between value kinds {sorted(kinds)}")

    def _choice(self, variants: list[dict[str, Any]], lead: str, path: str) -> Any:
        values: list[Any] = []
        for v in variants:
            for x in [v["const"]] if "const" in v else v["enum"]:
                if x not in values:
                    values.append(x)
        texts = [lead + dumps(x) for x in values]
        i = self._rank(path, _open_ended(texts))
        self._emit(texts[i])
        return values[i]

    def _number(self, variants: list[dict[str, Any]], lead: str, path: str) -> float:
        integer = all(v.get("type") == "integer" for v in variants)
        pool: list[float] = []
        for v in variants:  # a slot may name its own candidates (extension keyword x-candidates)
            for x in v.get("x-candidates", self.numbers):
                if x not in pool:
                    pool.append(x)
        candidates = [x for x in pool if any(self._fits_number(v, x) for v in variants)]
        if not candidates:
            raise RankedDecodeError(
                f"{path}: no number in the context fits {self._describe_bounds(variants)}"
            )
        texts = [_fmt_number(x, integer) for x in candidates]
        i = self._rank(path, [lead + t for t in texts])
        self._emit(lead + texts[i])
        x = candidates[i]
        return round(x) if integer else x

    @staticmethod
    def _describe_bounds(variants: list[dict[str, Any]]) -> str:
        parts = []
        for v in variants:
            lo = v.get("minimum", v.get("exclusiveMinimum"))
            hi = v.get("maximum", v.get("exclusiveMaximum"))
            parts.append(f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]")
        return " or ".join(sorted(set(parts)))

    def _string(self, lead: str, path: str) -> str:
        """A free string, greedily, until the closing quote."""
        self._emit(lead + '"')
        self._flush()
        llm = self.llm
        out = ""
        for _ in range(self.max_string_tokens):
            row = np.asarray(llm.scores[self.base - 1], dtype=np.float64)
            token = int(np.argmax(row))
            piece = llm.detokenize([token]).decode("utf-8", errors="ignore")
            if '"' in piece or token == llm.token_eos():
                out += piece.split('"', 1)[0]
                break
            out += piece
            llm.n_tokens = self.base
            self._eval([token])
            self.base += 1
        value = out.replace("\\", "")
        self.text += json.dumps(value)[1:]  # the content and the closing quote
        self.pending = ""
        # re-sync the context with the canonical text of the string
        self.pending = json.dumps(value)[1:]
        return value

    def _array(self, s: dict[str, Any], lead: str, path: str) -> list[Any]:
        """An array. ``uniqueItems`` keeps chosen scalar values out of later items; the extension
        keyword ``x-must-include`` (values) keeps the array going until they are all in it."""
        items = s.get("items", {})
        must = list(s.get("x-must-include", []))
        lo = max(int(s.get("minItems", 0)), 1 if must else 0)
        hi = s.get("maxItems")
        unique = bool(s.get("uniqueItems"))
        out: list[Any] = []
        self._emit(lead + "[")
        if lo == 0:
            close = self._rank(f"{path}[0]?", ["]", self._peek(items)])
            if close == 0:
                self._emit("]")
                return out
        while True:
            item_schema = self._without(items, out) if unique else items
            out.append(self._value([item_schema], lead="" if not out else ", ", path=f"{path}[{len(out)}]"))
            if hi is not None and len(out) >= int(hi):
                break
            if len(out) < lo or any(m not in out for m in must):
                continue
            more = self._rank(f"{path}[{len(out)}]?", ["]", ", " + self._peek(items)])
            if more == 0:
                break
        self._emit("]")
        return out

    def _without(self, items: dict[str, Any], chosen: list[Any]) -> dict[str, Any]:
        """``items`` minus the scalar values already chosen (for ``uniqueItems``)."""
        flat = self._flatten([items])
        if not all("enum" in v or "const" in v for v in flat):
            return items
        values = [x for v in flat for x in ([v["const"]] if "const" in v else v["enum"]) if x not in chosen]
        return {"enum": values}

    def _peek(self, items: dict[str, Any]) -> str:
        """First characters an item starts with (to compare 'another item' with 'end')."""
        kinds = {self._kind(v) for v in self._flatten([items])}
        if kinds == {"object"}:
            return "{"
        if kinds == {"array"}:
            return "["
        if kinds <= {"choice", "string"}:
            return '"'
        return ""

    def _object(self, variants: list[dict[str, Any]], lead: str, path: str) -> dict[str, Any]:
        """Walk the properties of one or more object variants, narrowing the variants as values
        are chosen (a trie over ``oneOf`` members)."""
        self._emit(lead + "{")
        out: dict[str, Any] = {}
        remaining = list(variants)
        while True:
            options: list[Any] = []
            for v in remaining:
                nxt = self._next_keys(v, out)
                for k in nxt:
                    if k is not _CLOSE and not self._viable(v["properties"][k]):
                        continue  # an optional key that could not be given a value
                    if k not in options:
                        options.append(k)
            if not options:
                raise RankedDecodeError(f"{path}: no way to continue this object")
            sep = "" if not out else ", "
            texts = [("}" if k is _CLOSE else f"{sep}{dumps(k)}:") for k in options]
            key = options[self._rank(f"{path}.?", texts)]
            remaining = [v for v in remaining if key in self._next_keys(v, out)]
            if key is _CLOSE:
                self._emit("}")
                return out
            self._emit(f"{sep}{dumps(key)}:")
            prop_schemas = [v["properties"][key] for v in remaining]
            value = self._value(prop_schemas, lead=" ", path=f"{path}.{key}")
            out[key] = value
            if not isinstance(value, dict | list):
                kept = [
                    v for v in remaining if self.accepts(self._resolve_single(v["properties"][key]), value)
                ]
                remaining = kept or remaining

    def _resolve_single(self, s: dict[str, Any]) -> dict[str, Any]:
        flat = self._flatten([s])
        return flat[0] if len(flat) == 1 else {"anyOf": flat}

    @staticmethod
    def _next_keys(v: dict[str, Any], done: dict[str, Any]) -> list[Any]:
        """Keys a variant allows next: its first missing required key, else any missing optional
        key or the end of the object."""
        props = list(v.get("properties", {}))
        required = [k for k in props if k in set(v.get("required", []))]
        for k in required:
            if k not in done:
                return [k]
        if any(k not in props for k in done):
            return []
        return [k for k in props if k not in done] + [_CLOSE]
