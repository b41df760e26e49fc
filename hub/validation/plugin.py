"""pytest plugin: requirement markers and the results file of a run.

Loaded for every run of the suite (``-p hub.validation.plugin`` in pyproject's ``addopts``):

* ``@pytest.mark.req("REQ-...", ...)`` on a test, a class or a module (``pytestmark``) names
  the requirements the test gives evidence for. Every id is checked against the register (ini
  ``validation_register``) when the suite is collected; an unknown id stops the run before any
  test runs (exit 4, each offending test and id named, with the closest known id).
* ``--validation-out PATH`` writes, when the session ends, every test that ran with its
  requirement ids and outcome, the commit under test and the environment (JSON, see
  :mod:`hub.validation.results`), for ``python -m hub.validation report``.

The product never imports this module (import-linter contract in pyproject).
"""

from __future__ import annotations

import difflib
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pytest

from hub.validation.register import RegisterError, load_register
from hub.validation.results import CollectionError, Evidence, Outcome, RunRecord, git_commit

MARKER = "req"
MESSAGE_CHARS = 400
PACKAGES = (
    "v2v-hub",
    "pytest",
    "faust-streaming",
    "confluent-kafka",
    "aiokafka",
    "fastavro",
    "pydantic",
    "redis",
)
_MARKED = pytest.StashKey[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]]()
"""nodeid -> (requirement ids, other marker names), for every collected test."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("validation", "validation evidence (docs/validation.md)")
    group.addoption(
        "--validation-out",
        metavar="PATH",
        default=None,
        help="write each test's requirement ids and outcome to PATH (JSON) for "
        "`python -m hub.validation report`",
    )
    parser.addini(
        "validation_register",
        "the requirements register (YAML), relative to the rootdir",
        default="docs/validation/requirements.yaml",
    )


def register_path(config: pytest.Config) -> Path:
    return config.rootpath / str(config.getini("validation_register"))


def pytest_configure(config: pytest.Config) -> None:
    out = config.getoption("validation_out")
    if out:
        path = Path(config.invocation_params.dir, out)
        config.pluginmanager.register(Recorder(config, path), "validation-recorder")


def requirement_ids(item: pytest.Item) -> tuple[tuple[str, ...], list[str]]:
    """The requirement ids ``item`` claims (its own, its class's and its module's markers),
    and what is wrong with its markers."""
    ids: list[str] = []
    problems: list[str] = []
    for mark in item.iter_markers(MARKER):
        if mark.kwargs:
            problems.append(f"req takes requirement ids only, not {sorted(mark.kwargs)}")
        if not mark.args:
            problems.append("req names no requirement id")
        for arg in mark.args:
            if isinstance(arg, str):
                ids.append(arg)
            else:
                problems.append(f"req id {arg!r} is not a string")
    return tuple(dict.fromkeys(ids)), problems


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check every collected test's markers (deselected ones too) before any test runs."""
    path = register_path(config)
    try:
        known = load_register(path).ids
    except RegisterError as exc:
        raise pytest.UsageError(str(exc)) from exc
    marked: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    errors: list[str] = []
    for item in items:
        ids, problems = requirement_ids(item)
        errors.extend(f"{item.nodeid}: {p}" for p in problems)
        for rid in ids:
            if rid not in known:
                close = difflib.get_close_matches(rid, sorted(known), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                errors.append(f"{item.nodeid}: unknown requirement id {rid}{hint}")
        others = {m.name for m in item.iter_markers()} - {MARKER, "parametrize"}
        marked[item.nodeid] = (ids, tuple(sorted(others)))
    if errors:
        shown = "\n  ".join(errors[:40])
        more = f"\n  ... and {len(errors) - 40} more" if len(errors) > 40 else ""
        raise pytest.UsageError(
            f"requirement markers do not match the register {path}:\n  {shown}{more}\n"
            "Add the requirement to the register or fix the marker (docs/validation.md)."
        )
    config.stash[_MARKED] = marked


def merge_outcome(previous: Outcome | None, report: pytest.TestReport) -> Outcome | None:
    """A test's outcome after one more phase (setup, call, teardown) of it was reported."""
    xfail = hasattr(report, "wasxfail")
    if report.when == "setup":
        if report.failed:
            return "error"
        if report.skipped:
            return "xfailed" if xfail else "skipped"
        return None
    if report.when == "call":
        if report.failed:
            return "failed"
        if report.skipped:
            return "xfailed" if xfail else "skipped"
        return "xpassed" if xfail else "passed"
    if report.failed and previous not in ("failed", "error"):
        return "error"
    return previous


def _message(report: pytest.TestReport | pytest.CollectReport) -> str:
    if report.passed:
        return ""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (path, line, reason)
        text = str(longrepr[2]).removeprefix("Skipped: ")
    else:
        crash = getattr(longrepr, "reprcrash", None)
        text = str(getattr(crash, "message", "")) or report.longreprtext
        lines = [line for line in text.splitlines() if line.strip()]
        text = lines[-1] if crash is None and lines else text
    if hasattr(report, "wasxfail") and not text:
        text = str(report.wasxfail)
    return text.strip()[:MESSAGE_CHARS]


def environment() -> dict[str, str]:
    env = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "host": platform.node(),
    }
    for name in PACKAGES:
        try:
            env[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            env[name] = "not installed"
    return env


class Recorder:
    """Collects the outcome of every test that runs and writes the results file at the end."""

    def __init__(self, config: pytest.Config, out: Path) -> None:
        self.config = config
        self.out = out
        self.started = datetime.now(UTC)
        self.outcomes: dict[str, Outcome | None] = {}
        self.durations: dict[str, float] = {}
        self.messages: dict[str, str] = {}
        self.collection_errors: list[CollectionError] = []

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(
                CollectionError(nodeid=report.nodeid or "<session>", message=_message(report))
            )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        before = self.outcomes.get(nodeid)
        after = merge_outcome(before, report)
        self.outcomes[nodeid] = after
        self.durations[nodeid] = self.durations.get(nodeid, 0.0) + report.duration
        if after != before and after not in (None, "passed"):
            self.messages[nodeid] = _message(report)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        marked = self.config.stash.get(_MARKED, {})
        tests = [
            Evidence(
                nodeid=nodeid,
                requirements=marked.get(nodeid, ((), ()))[0],
                outcome=outcome,
                duration_s=round(self.durations.get(nodeid, 0.0), 4),
                markers=marked.get(nodeid, ((), ()))[1],
                message=self.messages.get(nodeid, ""),
            )
            for nodeid, outcome in self.outcomes.items()
            if outcome is not None
        ]
        root = self.config.rootpath
        commit, dirty = git_commit(root)
        path = register_path(self.config)
        RunRecord(
            commit=commit,
            dirty=dirty,
            started_at=self.started,
            finished_at=datetime.now(UTC),
            exit_status=int(exitstatus),
            args=tuple(self.config.invocation_params.args),
            environment=environment(),
            register_file=str(path.relative_to(root) if path.is_relative_to(root) else path),
            tests=tuple(tests),
            collection_errors=tuple(self.collection_errors),
        ).write(self.out)
