"""The twins of a workspace: loaded from files, replaced through the API, every version kept.

A twin is known by its ``name:``. Its first version is the file it was loaded from; each accepted
:meth:`TwinRegistry.put` adds a version (the text as given, validated first), kept under
``<workspace>/versions/<twin>/<n>.yaml`` so versions survive a restart and can be diffed.
Rejected text changes nothing and comes back as the validator's issues (file, line, field path).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twinforge.app.views import clean
from twinforge.errors import Issue, SpecError, TwinforgeError, UnknownEntityError
from twinforge.spec import TwinSpec, diff_specs, load_spec
from twinforge.spec.io import loads_spec

#: a twin name that is safe as a file name and in a URL
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


class TwinNotFound(UnknownEntityError):
    """No twin of that name in the workspace."""


@dataclass(frozen=True)
class TwinVersion:
    """One accepted version of a twin."""

    number: int
    created: float  # Unix seconds
    sha256: str
    source: str  # the file it was loaded from, or "api"
    text: str = field(repr=False)

    def summary(self) -> dict[str, Any]:
        return {"version": self.number, "created": self.created, "sha256": self.sha256, "source": self.source}


@dataclass
class _Entry:
    spec: TwinSpec
    versions: list[TwinVersion]
    path: Path | None  # the file it came from


def issue_dict(issue: Issue) -> dict[str, Any]:
    """An issue as JSON: message, field path (as a list and dotted), line, code, expected, found."""
    return {
        "message": issue.message,
        "path": list(issue.path),
        "field": issue.dotted_path,
        "line": issue.line,
        "code": issue.code,
        "expected": issue.expected,
        "found": issue.found,
        "severity": issue.severity,
    }


class TwinRegistry:
    """The workspace's twins by name, with their versions (thread-safe)."""

    def __init__(self, versions_dir: Path | None = None) -> None:
        self.versions_dir = versions_dir
        self._twins: dict[str, _Entry] = {}
        self._lock = threading.RLock()

    # -- loading ---------------------------------------------------------------------------------
    def load_file(self, path: str | Path) -> TwinSpec:
        """Add the twin in ``path`` (its first version, or the kept versions when there are some)."""
        path = Path(path)
        spec = load_spec(path)
        text = path.read_text(encoding="utf-8")
        with self._lock:
            if spec.name in self._twins and self._twins[spec.name].path != path:
                raise TwinforgeError(
                    f"two files define twin {spec.name!r}: {self._twins[spec.name].path} and {path}"
                )
            kept = self._read_versions(spec.name)
            if kept:
                latest = kept[-1]
                if latest.sha256 != _sha(text) and latest.source == str(path):
                    kept.append(self._version(len(kept) + 1, text, str(path)))
                    self._write_version(spec.name, kept[-1])
                spec = loads_spec(kept[-1].text, file=f"{spec.name} v{kept[-1].number}")
            else:
                kept = [self._version(1, text, str(path))]
                self._write_version(spec.name, kept[0])
            self._twins[spec.name] = _Entry(spec, kept, path)
        return spec

    def load_dir(self, folder: str | Path) -> list[TwinSpec]:
        """Every twin file (``*.yaml``, ``*.yml``, ``*.json``) in ``folder``."""
        folder = Path(folder)
        if not folder.is_dir():
            raise TwinforgeError(f"twin folder {folder} does not exist")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".yaml", ".yml", ".json"))
        return [self.load_file(p) for p in files]

    # -- reading ---------------------------------------------------------------------------------
    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._twins)

    def get(self, name: str) -> TwinSpec:
        with self._lock:
            entry = self._twins.get(name)
        if entry is None:
            raise TwinNotFound(f"no twin {name!r}; the workspace has {', '.join(self.names()) or 'none'}")
        return entry.spec

    def versions(self, name: str) -> list[TwinVersion]:
        self.get(name)
        with self._lock:
            return list(self._twins[name].versions)

    def version(self, name: str, number: int | None = None) -> TwinVersion:
        versions = self.versions(name)
        if number is None:
            return versions[-1]
        for v in versions:
            if v.number == number:
                return v
        raise TwinNotFound(f"twin {name!r} has no version {number}; it has 1..{versions[-1].number}")

    def spec_of(self, name: str, number: int | None = None) -> TwinSpec:
        v = self.version(name, number)
        return self.get(name) if number is None else loads_spec(v.text, file=f"{name} v{v.number}")

    def diff(self, name: str, a: int, b: int | None = None) -> list[dict[str, Any]]:
        """What changed from version ``a`` to ``b`` (default: the latest)."""
        changes = diff_specs(self.spec_of(name, a), self.spec_of(name, b))
        return [
            {
                "change": c.change,
                "element": c.element,
                "ref": c.ref,
                "field": c.field,
                "before": clean(c.before),
                "after": clean(c.after),
                "text": c.render(),
            }
            for c in changes
        ]

    # -- changing --------------------------------------------------------------------------------
    def check(self, text: str, fmt: str = "yaml", name: str | None = None) -> TwinSpec:
        """The twin in ``text`` (raises :class:`SpecError` with every issue); when ``name`` is given
        the text must define that twin."""
        spec = loads_spec(text, file=name or "<twin>", fmt=fmt)
        if name is not None and spec.name != name:
            raise SpecError(
                [
                    Issue(
                        message=f"the text defines twin {spec.name!r}, not {name!r}",
                        path=("name",),
                        code="name-mismatch",
                        expected=name,
                        found=spec.name,
                    )
                ]
            )
        return spec

    def put(self, name: str, text: str, fmt: str = "yaml") -> tuple[TwinVersion, list[dict[str, Any]]]:
        """Accept a new version of twin ``name`` (new or existing) after validating it; the version
        and what changed from the previous one."""
        if not _NAME.match(name):
            raise SpecError(
                [
                    Issue(
                        message="a twin name is 1-128 letters, digits, '_', '-' or '.'",
                        path=("name",),
                        code="bad-name",
                        found=name,
                    )
                ]
            )
        spec = self.check(text, fmt, name)
        with self._lock:
            entry = self._twins.get(name)
            if entry is not None and entry.versions[-1].sha256 == _sha(text):
                return entry.versions[-1], []
            number = 1 if entry is None else entry.versions[-1].number + 1
            version = self._version(number, text, "api")
            previous = entry.spec if entry is not None else None
            if entry is None:
                self._twins[name] = _Entry(spec, [version], None)
            else:
                entry.spec = spec
                entry.versions.append(version)
            self._write_version(name, version)
        changes = (
            [
                {"change": c.change, "element": c.element, "ref": c.ref, "field": c.field, "text": c.render()}
                for c in diff_specs(previous, spec)
            ]
            if previous is not None
            else []
        )
        return version, changes

    # -- versions on disk --------------------------------------------------------------------------
    @staticmethod
    def _version(number: int, text: str, source: str) -> TwinVersion:
        return TwinVersion(number, time.time(), _sha(text), source, text)

    def _folder(self, name: str) -> Path | None:
        return self.versions_dir / name if self.versions_dir is not None else None

    def _write_version(self, name: str, v: TwinVersion) -> None:
        folder = self._folder(name)
        if folder is None:
            return
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{v.number:04d}.yaml").write_text(v.text, encoding="utf-8")
        meta = v.summary()
        (folder / f"{v.number:04d}.json").write_text(json.dumps(meta), encoding="utf-8")

    def _read_versions(self, name: str) -> list[TwinVersion]:
        folder = self._folder(name)
        if folder is None or not folder.is_dir():
            return []
        out = []
        for text_file in sorted(folder.glob("*.yaml")):
            meta_file = text_file.with_suffix(".json")
            try:
                meta = json.loads(meta_file.read_text(encoding="utf-8"))
                text = text_file.read_text(encoding="utf-8")
            except (OSError, ValueError):
                continue  # a half-written version: ignore it, the previous ones stand
            out.append(
                TwinVersion(int(meta["version"]), float(meta["created"]), _sha(text), meta["source"], text)
            )
        return out


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


__all__ = ["TwinNotFound", "TwinRegistry", "TwinVersion", "issue_dict"]
