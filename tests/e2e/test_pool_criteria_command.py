"""`ideaflow pool criteria NAME --criteria FILE`: the console's criteria change from the command line,
with its exit codes (0 changed, 1 refused, 2 bad input). What the change may and may not do is
tested on the service (tests/integration/test_administration.py); this is the command's wiring."""

from __future__ import annotations

import json


def test_pool_criteria_replaces_them_for_an_administrator_only(cli, tmp_path):
    assert cli("init").returncode == 0
    assert cli("pool", "create", "Puljen", "--budget-dkk", 1_000_000).returncode == 0
    file = tmp_path / "criteria.yaml"
    file.write_text("criteria:\n  - {name: effekt, weight: 2}\n  - {name: lovlig, must_meet: true}\n", encoding="utf-8")

    done = cli("pool", "criteria", "Puljen", "--criteria", file)
    assert (done.returncode, done.stdout.strip()) == (0, "pool 'Puljen': 2 criteria")
    shown = json.loads(cli("pool", "show", "Puljen", "--json").stdout)
    assert [(c["name"], c["weight"], c["must_meet"]) for c in shown["criteria"]] == [("effekt", 2.0, False),
                                                                                   ("lovlig", 1.0, True)]
    assert cli("person", "add", "karin@kommune.dk", "--name", "Karin", "--role", "coordinator").returncode == 0
    refused = cli("pool", "criteria", "Puljen", "--criteria", file, "--by", "karin@kommune.dk")
    assert refused.returncode == 1 and refused.stderr.splitlines() == [
        "ideaflow: refused: karin@kommune.dk may not change pools' criteria: only an administrator may"]
    assert cli("pool", "criteria", "Andre", "--criteria", file).returncode == 2


def test_two_criteria_named_alike_but_for_capital_letters_are_bad_input_and_change_nothing(cli, expect, unchanged,
                                                                                         tmp_path):
    """A review names a criterion in any case ("effekt=4" scores "Effekt"): two such names could not be told apart."""
    expect.ok(cli("init"))
    expect.ok(cli("pool", "create", "Puljen", "--budget-dkk", 1_000_000))
    file = tmp_path / "criteria.yaml"
    file.write_text("criteria:\n  - {name: Effekt, weight: 2}\n  - {name: lovlig}\n  - {name: EFFEKT}\n",
                    encoding="utf-8")
    with unchanged():
        expect.failed(cli("pool", "criteria", "Puljen", "--criteria", file), 2,
                      "bad input: criteria names must be unique, also ignoring capital letters: 'Effekt' and 'EFFEKT' "
                      "are the same name")
    with unchanged():
        expect.failed(cli("pool", "create", "Anden pulje", "--budget-dkk", 1_000_000, "--criteria", file, lang="da"), 2,
                      "kriteriernes navne skal være forskellige, også uden hensyn til store og små bogstaver")
