"""Schemas for structured output: a JSON Schema dict or a pydantic model, one validation interface."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import jsonschema
from pydantic import BaseModel, ValidationError

from twinforge.ai.errors import SchemaError
from twinforge.errors import format_path


@dataclass(frozen=True)
class CompiledSchema:
    """A schema ready to constrain decoding (``json_schema``) and to check results (:meth:`validate`)."""

    json_schema: dict[str, Any]
    model: type[BaseModel] | None = None

    @property
    def name(self) -> str:
        return self.model.__name__ if self.model else str(self.json_schema.get("title", "answer"))

    def validate(self, value: Any) -> tuple[Any, str | None]:
        """``(result, None)`` when ``value`` is valid (a model instance for pydantic schemas), else
        ``(None, message)`` naming every problem with its path."""
        if self.model is not None:
            try:
                return self.model.model_validate(value), None
            except ValidationError as exc:
                problems = [
                    f"at {_path(err['loc'])}: {err['msg']} (found {_show(err.get('input'))})"
                    for err in exc.errors()
                ]
                return None, "; ".join(problems)
        validator = jsonschema.Draft202012Validator(self.json_schema)
        errors = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
        if not errors:
            return value, None
        return None, "; ".join(f"at {_path(tuple(e.absolute_path))}: {_message(e)}" for e in errors[:8])


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator in ("anyOf", "oneOf") and error.context:
        best = jsonschema.exceptions.best_match(error.context)
        return f"{error.message[:120]} — closest alternative: {best.message[:160]}"
    return error.message if len(error.message) <= 240 else error.message[:237] + "..."


def _path(loc: tuple[Any, ...]) -> str:
    return "$" + ("." + format_path(tuple(loc)) if loc else "")


def _show(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def compile_schema(schema: dict[str, Any] | type[BaseModel] | CompiledSchema) -> CompiledSchema:
    """Accept a JSON Schema (draft 2020-12) or a pydantic model class; reject invalid schemas."""
    if isinstance(schema, CompiledSchema):
        return schema
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return CompiledSchema(json_schema=schema.model_json_schema(), model=schema)
    if not isinstance(schema, dict):
        raise SchemaError(
            f"schema must be a JSON Schema dict or a pydantic model class; found {type(schema).__name__}"
        )
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise SchemaError(
            f"invalid JSON Schema at {_path(tuple(exc.absolute_path))}: {exc.message}"
        ) from None
    try:
        json.dumps(schema)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"JSON Schema is not JSON-serialisable: {exc}") from None
    return CompiledSchema(json_schema=schema)
