"""twinforge settings: ``twinforge.toml`` plus environment variables, one pydantic model per section.

Where settings come from, later sources winning:

1. the defaults of each section model below;
2. ``twinforge.toml`` in the current directory, or the file named by ``TWINFORGE_CONFIG``;
3. environment variables ``TWINFORGE_<SECTION>_<FIELD>`` (for example ``TWINFORGE_LLM_PROVIDER``,
   ``TWINFORGE_LLM_MODEL``, ``TWINFORGE_LLM_BASE_URL``, ``TWINFORGE_STORE_PATH``), and for the API key
   also the usual ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``;
4. keyword overrides given to :func:`load_settings`.

Other layers add their own sections with :func:`register_section`; a section read from the file
that no layer registered is kept as raw data (``settings.extra_sections``) and can be parsed later
with :meth:`Settings.section`.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from twinforge.errors import TwinforgeError, format_path

CONFIG_FILE_NAME = "twinforge.toml"
CONFIG_ENV = "TWINFORGE_CONFIG"


class ConfigError(TwinforgeError):
    """The configuration file or an environment variable holds an invalid value."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LLMSettings(_Section):
    """``[llm]``: which language model answers, and how calls to it behave."""

    provider: Literal["local", "openai"] = "local"
    #: local: path to a GGUF file (None = the packaged SmolLM2-135M-Instruct); openai: the model name.
    model: str | None = None
    #: OpenAI-compatible endpoint, e.g. ``http://localhost:11434/v1`` (Ollama) or an Azure/vLLM URL.
    base_url: str | None = None
    api_key: SecretStr | None = None
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(2, ge=0, le=10)
    #: first back-off delay; doubled on each retry (with jitter), capped at 20 s.
    backoff_s: float = Field(0.5, ge=0)
    max_tokens: int = Field(512, ge=1)
    temperature: float = Field(0.0, ge=0, le=2)
    seed: int = 0
    #: cache responses of deterministic calls (temperature 0) in the store.
    cache: bool = True
    # -- local (llama.cpp) only --
    context_length: int = Field(4096, ge=256)
    #: CPU threads for llama.cpp; None = all cores.
    threads: int | None = Field(None, ge=1)
    #: constrained decoding engine for structured output: llguidance (default) or llama.cpp's GBNF.
    grammar_backend: Literal["llguidance", "gbnf"] = "llguidance"
    #: llama.cpp weight repacking into "extra buffer types" (AMX, ...). Off by default: on virtual
    #: machines that advertise AMX without enabling it, it kills the process with SIGILL.
    extra_buffer_types: bool = False
    # -- openai-compatible only --
    #: how structured output is requested: response_format json_schema, or a forced tool call.
    structured_mode: Literal["json_schema", "tools"] = "json_schema"


class EmbeddingSettings(_Section):
    """``[embeddings]``: the sentence-embedding model."""

    provider: Literal["local", "openai"] = "local"
    #: local: path of an ONNX sentence-transformer (None = packaged all-MiniLM-L6-v2 int8); openai: name.
    model: str | None = None
    #: local: tokenizer.json matching ``model`` (None = the one of the packaged model).
    tokenizer: str | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(2, ge=0, le=10)
    backoff_s: float = Field(0.5, ge=0)
    batch_size: int = Field(32, ge=1)
    #: tokens per text; longer texts are truncated (all-MiniLM-L6-v2 was trained with 256).
    max_length: int = Field(256, ge=8, le=512)
    threads: int | None = Field(None, ge=1)


class StoreSettings(_Section):
    """``[store]``: the local DuckDB database (audit log, response cache; later time series)."""

    path: Path = Path(".twinforge") / "twinforge.duckdb"


class AuditSettings(_Section):
    """``[audit]``: the log of every LLM and embedding call."""

    enabled: bool = True
    #: ``full`` keeps prompt and response text; ``hash`` keeps only their SHA-256.
    store_text: Literal["full", "hash"] = "full"
    #: store prompts, answers and errors with personal data replaced by placeholders (the
    #: recognisers, roster and patterns of ``[redaction]``), never the raw text.
    redact: bool = True
    #: days an audit row (and a cached completion) is kept; older ones are deleted when the log is
    #: opened or written. 0 keeps them forever.
    retention_days: float = Field(30.0, ge=0)


class RedactionSettings(_Section):
    """``[redaction]``: personal data removed before text goes to a non-local provider."""

    enabled: bool = True
    emails: bool = True
    phones: bool = True
    person_names: bool = True
    #: names always treated as persons (a roster), in addition to the detected ones.
    known_names: list[str] = Field(default_factory=list)
    #: extra identifiers, ``{"LABEL": "regex"}``; matches become ``<LABEL_n>``.
    id_patterns: dict[str, str] = Field(default_factory=dict)
    #: also redact when the provider is local (off: local text never leaves the machine).
    redact_local: bool = False
    #: IBANs (mod-97 check and the country's account format).
    ibans: bool = True
    #: payment card numbers (issuer prefix and length, Luhn check digit).
    cards: bool = True
    #: national ids with their checksums: US SSN, UK NI number, Steuer-ID, NIR, BSN, DNI/NIE, ...
    national_ids: bool = True
    #: dates right after a birth cue ("born", "DOB", "geb.", "né le", "nacido el", "geboren op" ...).
    birth_dates: bool = True
    #: countries (ISO codes) whose national phone formats are recognised; +/00 numbers are always.
    phone_regions: list[str] = Field(
        default_factory=lambda: ["GB", "US", "DE", "AT", "CH", "FR", "BE", "ES", "NL"]
    )
    #: terms never redacted, whatever a recogniser says (e.g. the twin's entity names).
    keep: list[str] = Field(default_factory=list)


_SECTIONS: dict[str, type[BaseModel]] = {
    "llm": LLMSettings,
    "embeddings": EmbeddingSettings,
    "store": StoreSettings,
    "audit": AuditSettings,
    "redaction": RedactionSettings,
}

SectionT = TypeVar("SectionT", bound=BaseModel)


def register_section(name: str, model: type[BaseModel]) -> None:
    """Let another layer own section ``[name]`` (parsed with ``model``, env ``TWINFORGE_NAME_*``)."""
    existing = _SECTIONS.get(name)
    if existing is not None and existing is not model:
        raise ConfigError(f"config section [{name}] is already owned by {existing.__name__}")
    _SECTIONS[name] = model


class Settings(BaseModel):
    """All settings. Known sections are typed; the rest stays raw in ``extra_sections``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    llm: LLMSettings = Field(default_factory=LLMSettings)
    embeddings: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    redaction: RedactionSettings = Field(default_factory=RedactionSettings)
    extra_sections: dict[str, Any] = Field(default_factory=dict)
    source: Path | None = None  # the file read, if any

    def section(self, name: str, model: type[SectionT]) -> SectionT:
        """Parse section ``[name]`` with ``model`` (for sections registered after loading)."""
        if hasattr(self, name) and isinstance(getattr(self, name), model):
            return getattr(self, name)
        raw = dict(self.extra_sections.get(name, {}))
        raw.update(_env_values(name, model))
        return _parse_section(name, model, raw, self.source)


def config_path(cwd: Path | None = None) -> Path | None:
    """The config file that applies: ``$TWINFORGE_CONFIG`` or ``./twinforge.toml`` (None when absent)."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        path = Path(env)
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV}={env}: no such config file")
        return path
    candidate = (cwd or Path.cwd()) / CONFIG_FILE_NAME
    return candidate if candidate.is_file() else None


def load_settings(path: Path | str | None = None, **overrides: dict[str, Any]) -> Settings:
    """Read settings from the file, the environment and ``overrides`` (``llm={"provider": "openai"}``)."""
    file = Path(path) if path is not None else config_path()
    raw: dict[str, Any] = {}
    if file is not None:
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{file}: cannot read config file ({exc.strerror})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    for name, value in raw.items():
        if not isinstance(value, dict):
            raise ConfigError(f"{file}: top-level key {name!r} must be a [section] table")
    sections: dict[str, Any] = {}
    for name, model in _SECTIONS.items():
        data = dict(raw.get(name, {}))
        data.update(_env_values(name, model))
        data.update(overrides.get(name, {}))
        sections[name] = _parse_section(name, model, data, file)
    known = {"llm", "embeddings", "store", "audit", "redaction"}
    extra = {k: v for k, v in raw.items() if k not in known}
    for name in _SECTIONS.keys() - known:  # registered by other layers: validated above, kept raw
        extra[name] = {**raw.get(name, {}), **overrides.get(name, {})}
    unknown_override = set(overrides) - set(_SECTIONS)
    if unknown_override:
        raise ConfigError(f"unknown config section(s) {sorted(unknown_override)}; known: {sorted(_SECTIONS)}")
    return Settings(**{k: sections[k] for k in known}, extra_sections=extra, source=file)


def _parse_section(name: str, model: type[SectionT], data: dict[str, Any], file: Path | None) -> SectionT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        where = str(file) if file else "settings"
        lines = []
        for err in exc.errors():
            path = format_path((name, *err["loc"]))
            lines.append(f"  {path}: {err['msg']} (found {err.get('input')!r})")
        raise ConfigError(f"{where}: invalid [{name}] settings\n" + "\n".join(lines)) from None


def _env_values(section: str, model: type[BaseModel]) -> dict[str, Any]:
    """``TWINFORGE_<SECTION>_<FIELD>`` values for the fields of ``model`` (strings; pydantic converts)."""
    values: dict[str, Any] = {}
    prefix = f"TWINFORGE_{section.upper()}_"
    for field_name, field in model.model_fields.items():
        env = os.environ.get(prefix + field_name.upper())
        if env is None:
            continue
        values[field_name] = _env_value(env, field.annotation)
    if section in ("llm", "embeddings"):
        if "api_key" not in values and os.environ.get("OPENAI_API_KEY"):
            values["api_key"] = os.environ["OPENAI_API_KEY"]
        if "base_url" not in values and os.environ.get("OPENAI_BASE_URL"):
            values["base_url"] = os.environ["OPENAI_BASE_URL"]
    return values


def _env_value(text: str, annotation: Any) -> Any:
    """Lists and dicts come as JSON in the environment; everything else as plain text."""
    origin = getattr(annotation, "__origin__", None)
    if origin in (list, dict) or annotation in (list, dict):
        import json

        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return [part.strip() for part in text.split(",") if part.strip()] if origin is list else text
    return text
