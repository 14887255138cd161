from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def networks() -> Path:
    """The EPANET example networks that ship inside the installed wntr package."""
    import wntr

    path = Path(wntr.__file__).parent / "library" / "networks"
    assert (path / "Net1.inp").exists(), f"wntr ships no example networks at {path}"
    return path
