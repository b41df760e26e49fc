"""The results file: what one test run proved, test by test, for the report to trace.

Written by the pytest plugin (``--validation-out PATH``) at the end of a session, read by
``python -m hub.validation report``. JSON, one object; ``format`` changes only with a new reader.
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.errors import ConfigurationError

Outcome = Literal["passed", "failed", "error", "skipped", "xfailed", "xpassed"]
FAILING: frozenset[str] = frozenset({"failed", "error"})
"""Outcomes that are deviations: the test ran and did not prove what it claims."""


class ResultsError(ConfigurationError):
    """The results file cannot be read or is not one."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Evidence(_Strict):
    """One test of the run, the requirements it claims and what it showed."""

    nodeid: str
    requirements: tuple[str, ...] = ()
    outcome: Outcome
    duration_s: float = 0.0
    markers: tuple[str, ...] = ()
    message: str = ""
    """For a failure, error or skip: its last line (why), at most a few hundred characters."""


class CollectionError(_Strict):
    nodeid: str
    message: str


class RunRecord(_Strict):
    format: Literal[1] = 1
    commit: str
    dirty: bool
    started_at: datetime
    finished_at: datetime
    exit_status: int
    args: tuple[str, ...] = ()
    environment: dict[str, str] = Field(default_factory=dict)
    register_file: str
    tests: tuple[Evidence, ...] = ()
    collection_errors: tuple[CollectionError, ...] = ()

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=1) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> RunRecord:
        try:
            return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise ResultsError(f"results file {path}: cannot be read ({exc})") from exc
        except (ValueError, ValidationError) as exc:
            raise ResultsError(
                f"results file {path}: not a validation results file ({exc})"
            ) from exc


def git_commit(cwd: Path) -> tuple[str, bool]:
    """(``git rev-parse HEAD``, whether tracked files differ from it) in ``cwd``;
    ("unknown", True) outside a git checkout."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607 (git from PATH, as make does)
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown", True
    return head, bool(status)
