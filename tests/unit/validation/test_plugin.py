"""The pytest plugin, run on small projects of its own (pytester): unknown requirement ids stop
collection; ``--validation-out`` records every test with its requirements, outcome and commit."""

from __future__ import annotations

import subprocess

import pytest

from hub.validation.results import RunRecord

pytestmark = pytest.mark.req("REQ-P11-VALIDATION", "REQ-A11-PERIODIC")

REGISTER = """
version: 1
sources: {s: {document: D, title: a clause}}
requirements:
  - {id: REQ-ONE, title: one, sources: [s], risk: high, impact: patient safety,
     rationale: r, feature: f}
  - {id: REQ-TWO, title: two, sources: [s], risk: low, impact: operations,
     rationale: r, feature: f}
"""

TESTS = """
import pytest

pytestmark = pytest.mark.req("REQ-ONE")


def test_pass():
    pass


@pytest.mark.req("REQ-TWO")
def test_fail():
    assert 1 == 2, "the reading was 9 C"


@pytest.mark.skip(reason="no logger attached")
def test_skip():
    pass


@pytest.mark.xfail(reason="known")
def test_xfail():
    assert False


@pytest.fixture
def broken():
    raise RuntimeError("no broker")


def test_setup_error(broken):
    pass


def test_teardown_error(request):
    request.addfinalizer(lambda: 1 / 0)


class TestGroup:
    pytestmark = pytest.mark.req("REQ-TWO")

    @pytest.mark.parametrize("n", [1, 2])
    def test_param(self, n):
        pass
"""


PLUGIN = ("-p", "hub.validation.plugin", "-p", "no:hypothesispytest", "-p", "no:cacheprovider")
"""The plugin under test, without plugins these small projects do not need (faster)."""


def _git(pytester: pytest.Pytester, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(
        "[pytest]\nmarkers =\n    req: requirement ids\nvalidation_register = reqs.yaml\n"
    )
    pytester.makefile(".yaml", reqs=REGISTER)
    return pytester


def test_unknown_or_empty_requirement_markers_stop_the_run_before_any_test(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_a="""
import pytest

@pytest.mark.req("REQ-ONE", "REQ-TWOO")
def test_x():
    pass

@pytest.mark.req()
def test_y():
    pass

def test_z():
    pass
"""
    )
    result = project.runpytest(*PLUGIN, "-k", "test_z")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*requirement markers do not match the register*reqs.yaml*",
            "*test_a.py::test_x: unknown requirement id REQ-TWOO (did you mean REQ-TWO?)",
            "*test_a.py::test_y: req names no requirement id",
        ]
    )
    assert "passed" not in result.stdout.str()


def test_known_markers_run_and_nothing_is_written_without_the_option(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_a="import pytest\n\n@pytest.mark.req('REQ-ONE')\ndef test_x():\n    pass\n"
    )
    result = project.runpytest(*PLUGIN)
    result.assert_outcomes(passed=1)
    assert not list(project.path.rglob("*.json"))


def test_the_results_file_has_each_test_with_its_requirements_outcome_and_the_commit(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(test_b=TESTS)
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "under test")
    head = _git(project, "rev-parse", "HEAD")
    result = project.runpytest(*PLUGIN, "--validation-out", "build/results.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    run = RunRecord.read(project.path / "build" / "results.json")
    assert (run.commit, run.dirty, run.exit_status) == (head, False, 1)
    assert run.register_file == "reqs.yaml"
    assert run.environment["v2v-hub"] != "not installed"
    got = {t.nodeid.removeprefix("test_b.py::"): (t.outcome, t.requirements) for t in run.tests}
    assert got == {
        "test_pass": ("passed", ("REQ-ONE",)),
        "test_fail": ("failed", ("REQ-TWO", "REQ-ONE")),
        "test_skip": ("skipped", ("REQ-ONE",)),
        "test_xfail": ("xfailed", ("REQ-ONE",)),
        "test_setup_error": ("error", ("REQ-ONE",)),
        "test_teardown_error": ("error", ("REQ-ONE",)),
        "TestGroup::test_param[1]": ("passed", ("REQ-TWO", "REQ-ONE")),
        "TestGroup::test_param[2]": ("passed", ("REQ-TWO", "REQ-ONE")),
    }
    messages = {t.nodeid.removeprefix("test_b.py::"): t.message for t in run.tests}
    assert "the reading was 9 C" in messages["test_fail"]
    assert messages["test_skip"] == "no logger attached"
    assert "no broker" in messages["test_setup_error"]
    assert "ZeroDivisionError" in messages["test_teardown_error"]
    assert messages["test_pass"] == ""


def test_deselected_tests_are_not_recorded_and_edits_mark_the_run_dirty(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(test_b=TESTS)
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "under test")
    (project.path / "reqs.yaml").write_text(REGISTER + "\n# edited\n")
    project.runpytest(*PLUGIN, "--validation-out", "r.json", "-k", "param")
    run = RunRecord.read(project.path / "r.json")
    assert run.dirty
    assert [t.nodeid for t in run.tests] == [
        "test_b.py::TestGroup::test_param[1]",
        "test_b.py::TestGroup::test_param[2]",
    ]
