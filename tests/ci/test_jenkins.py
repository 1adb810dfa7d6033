"""Jenkinsfiles: tree-sitter-groovy parsing and the declarative structure checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metarepo.ci.jenkins import JenkinsfileInvalid, brace_problem, check_jenkinsfile

GOOD = """pipeline {
  agent any
  environment {
    IMAGE = 'registry/x'
  }
  stages {
    stage('Test') {
      steps {
        sh 'echo "${IMAGE%%/*}" }'
      }
    }
    stage('Deploy') {
      when { beforeInput true; branch 'main' }
      input {
        message 'Deploy?'
      }
      steps { sh 'deploy' }
    }
    stage('Checks') {
      parallel {
        stage('Lint') { steps { sh 'lint' } }
        stage('Unit') { steps { sh 'unit' } }
      }
    }
  }
  post { always { echo 'done' } }
}
"""


def test_a_good_declarative_pipeline_passes() -> None:
    check_jenkinsfile(GOOD, "main")


@pytest.mark.parametrize("change,line,message", [
    (("  agent any\n", ""), 1, "`pipeline` has no `agent` section"),
    (("  post {", "  stuff {"), 26, "unknown section `stuff` in pipeline"),
    (("stage('Unit')", "stage('Lint')"), 22, "stage 'Lint' appears twice"),
    (("branch 'main' }", "branch 'develop' }"), 12, "deploy stage 'Deploy' must run on the default branch"),
    (("beforeInput true; ", ""), 13, "asks for its input before `when` is checked"),
    (("beforeInput true; ", "beforeInput false; "), 13, "add `beforeInput true` to its `when`"),
    (("      steps { sh 'deploy' }\n", ""), 12, "stage 'Deploy' needs exactly one of steps"),
    (("    stage('Test') {", "    stage {"), 7, "a stage needs a name in quotes"),
    (("      }\n    }\n    stage('Deploy')", "    }\n    stage('Deploy')"), 8, "not closed where its indentation says"),
    (("  post { always", "  }\n  post { always"), 26, "does not line up with the `{` it closes (line 1)"),
    (("pipeline {", "}\npipeline {"), 1, "this `}` closes nothing"),
])
def test_declarative_problems_are_named_with_their_line(change, line: int, message: str) -> None:
    text = GOOD.replace(*change, 1)
    assert text != GOOD
    with pytest.raises(JenkinsfileInvalid) as caught:
        check_jenkinsfile(text, "main")
    assert caught.value.line == line and message in caught.value.message


def test_not_a_pipeline_at_all() -> None:
    with pytest.raises(JenkinsfileInvalid, match="exactly one `pipeline"):
        check_jenkinsfile("node {\n  sh 'make'\n}\n", "main")


def test_braces_inside_strings_and_comments_do_not_count() -> None:
    assert brace_problem("x = '{'\ny = \"}\"\n// {\n/* } */\nz = '''\n{\n'''\n") is None


@given(st.text(alphabet="pipeline{}()'\" \nstagesagentany/\\*", max_size=200))
@settings(max_examples=200, deadline=None)
def test_any_text_gives_a_verdict_never_a_crash(text: str) -> None:
    try:
        check_jenkinsfile(text, "main")
    except JenkinsfileInvalid as exc:
        assert exc.line >= 1
