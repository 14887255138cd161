from __future__ import annotations

from pathlib import Path

import pytest

from twinforge.config import Settings, load_settings


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder with no twinforge config or LLM variables from the environment."""
    import os

    for name in list(os.environ):
        if (
            name.startswith(
                (
                    "TWINFORGE_LLM",
                    "TWINFORGE_EMBEDDINGS",
                    "TWINFORGE_STORE",
                    "TWINFORGE_AUDIT",
                    "TWINFORGE_REDACTION",
                    "OPENAI_",
                )
            )
            or name == "TWINFORGE_CONFIG"
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def settings(isolated: Path) -> Settings:
    """Default settings with the store in a temporary folder."""
    return load_settings(store={"path": isolated / "store.duckdb"})
