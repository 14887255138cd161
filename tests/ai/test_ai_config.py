from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

import twinforge.config as config_module
from twinforge.config import ConfigError, load_settings, register_section


def test_defaults_without_file(isolated: Path) -> None:
    s = load_settings()
    assert s.source is None
    assert s.llm.provider == "local" and s.llm.model is None
    assert s.llm.temperature == 0.0 and s.llm.seed == 0
    assert s.store.path == Path(".twinforge") / "twinforge.duckdb"
    assert s.audit.store_text == "full"
    assert s.redaction.enabled and s.redaction.emails


def test_file_in_current_directory_then_environment_then_overrides(isolated: Path, monkeypatch) -> None:
    (isolated / "twinforge.toml").write_text(
        '[llm]\nprovider = "openai"\nmodel = "gpt-4o-mini"\ntimeout_s = 12.5\n'
        '[store]\npath = "data/tf.duckdb"\n'
        '[redaction]\nid_patterns = { EMPLOYEE = "EMP-\\\\d{5}" }\n'
        "[sim]\nreplications = 100\n"
    )
    s = load_settings()
    assert s.source == isolated / "twinforge.toml"
    assert (s.llm.provider, s.llm.model, s.llm.timeout_s) == ("openai", "gpt-4o-mini", 12.5)
    assert s.store.path == Path("data/tf.duckdb")
    assert s.redaction.id_patterns == {"EMPLOYEE": r"EMP-\d{5}"}
    assert s.extra_sections["sim"] == {"replications": 100}  # kept for the layer that owns it

    monkeypatch.setenv("TWINFORGE_LLM_MODEL", "qwen2.5:0.5b")
    monkeypatch.setenv("TWINFORGE_LLM_BASE_URL", "http://127.0.0.1:11434/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("TWINFORGE_REDACTION_KNOWN_NAMES", '["Anna Schmidt", "Tom Baker"]')
    s = load_settings()
    assert s.llm.model == "qwen2.5:0.5b" and s.llm.base_url == "http://127.0.0.1:11434/v1"
    assert s.llm.api_key is not None and s.llm.api_key.get_secret_value() == "sk-test"
    assert "sk-test" not in repr(s.llm)  # secrets do not leak into logs
    assert s.redaction.known_names == ["Anna Schmidt", "Tom Baker"]

    s = load_settings(llm={"provider": "local", "model": None})
    assert s.llm.provider == "local" and s.llm.model is None


def test_config_path_from_environment(isolated: Path, monkeypatch) -> None:
    other = isolated / "elsewhere.toml"
    other.write_text('[audit]\nstore_text = "hash"\n')
    monkeypatch.setenv("TWINFORGE_CONFIG", str(other))
    assert load_settings().audit.store_text == "hash"
    monkeypatch.setenv("TWINFORGE_CONFIG", str(isolated / "missing.toml"))
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings()


def test_invalid_values_name_file_and_field(isolated: Path, monkeypatch) -> None:
    (isolated / "twinforge.toml").write_text('[llm]\nprovider = "anthropic"\nmax_tokens = -3\n')
    with pytest.raises(ConfigError) as err:
        load_settings()
    text = str(err.value)
    assert "twinforge.toml" in text and "llm.provider" in text and "llm.max_tokens" in text
    (isolated / "twinforge.toml").write_text("[llm\nprovider = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings()
    (isolated / "twinforge.toml").write_text("")
    monkeypatch.setenv("TWINFORGE_LLM_TIMEOUT_S", "soon")
    with pytest.raises(ConfigError, match=r"llm\.timeout_s"):
        load_settings()


def test_other_layers_register_sections(isolated: Path, monkeypatch) -> None:
    class CopilotSettings(BaseModel):
        max_steps: int = 3
        language: str = "en"

    register_section("copilot_test", CopilotSettings)
    (isolated / "twinforge.toml").write_text("[copilot_test]\nmax_steps = 5\n")
    monkeypatch.setenv("TWINFORGE_COPILOT_TEST_LANGUAGE", "de")
    s = load_settings()
    section = s.section("copilot_test", CopilotSettings)
    assert (section.max_steps, section.language) == (5, "de")
    (isolated / "twinforge.toml").write_text("[copilot_test]\nmax_steps = 'many'\n")
    with pytest.raises(ConfigError, match=r"copilot_test\.max_steps"):
        load_settings()
    with pytest.raises(ConfigError, match="already owned"):
        register_section("llm", CopilotSettings)
    monkeypatch.delitem(config_module._SECTIONS, "copilot_test")
    assert "copilot_test" not in load_settings().model_dump()
