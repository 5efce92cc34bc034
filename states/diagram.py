"""The lifecycle as a Mermaid `stateDiagram-v2`, read off the shared machine so docs cannot drift.

`python -m states.diagram` prints it; a test checks that the README holds exactly this text.
"""

from states.lifecycle import MACHINE
from states.vocabulary import Stage


def mermaid() -> str:
    lines = ["stateDiagram-v2", f"    [*] --> {Stage.SUBMITTED}"]
    for name, event in MACHINE.events.items():
        for source, transitions in event.transitions.items():
            for transition in transitions:
                lines.append(f"    {Stage[source]} --> {Stage[transition.dest]}: {name}")
    lines += [f"    {stage} --> [*]" for stage in (Stage.EVALUATED, Stage.REJECTED, Stage.WITHDRAWN)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(mermaid(), end="")
