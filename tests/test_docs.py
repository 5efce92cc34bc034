"""The README stays true to the code."""

import re
from pathlib import Path

from states.diagram import mermaid

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_diagram_is_the_machine():
    block = re.search(r"```mermaid\n(.*?)```", README, re.S)
    assert block is not None, "README has no mermaid block"
    assert block.group(1) == mermaid()


def test_diagram_has_every_stage_and_the_documented_moves():
    diagram = mermaid()
    for line in ("submitted --> screened: go", "screened --> funded: go", "funded --> piloting: start_pilot",
                 "piloting --> evaluated: evaluate", "on_hold --> screened: resume", "on_hold --> rejected: kill"):
        assert line in diagram
    assert "evaluated --> " not in diagram.replace("evaluated --> [*]", "")


def test_quickstart_holds_two_commands_and_ci_runs_the_second():
    section = README.split("## Quickstart", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    commands = [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(commands) == 2
    assert "ideaflow demo" in commands[0]
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci
