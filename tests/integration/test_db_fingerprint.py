"""The hostile-input tests' "nothing changed" check must see any change: one value in one row, a row
that goes; and must not see one where there is none (a value changed and changed back)."""

from sqlalchemy import text

from states.vocabulary import Stage


def test_the_fingerprint_sees_one_changed_value_and_a_deleted_row(engine, world, fingerprint):
    idea = world.idea(Stage.SCREENED)
    before = fingerprint()
    assert fingerprint() == before
    with engine.begin() as connection:
        connection.execute(text("UPDATE ideas SET title = title || '.' WHERE id = :id"), {"id": idea})
    changed = fingerprint()
    assert changed != before and changed["ideas"] != before["ideas"] and changed["history"] == before["history"]
    with engine.begin() as connection:
        connection.execute(text("UPDATE ideas SET title = substr(title, 1, length(title) - 1) WHERE id = :id"),
                           {"id": idea})
    assert fingerprint() == before
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM outbox WHERE id = (SELECT max(id) FROM outbox)"))
    gone = fingerprint()
    assert gone["outbox"] != before["outbox"] and {t: v for t, v in gone.items() if t != "outbox"} == \
        {t: v for t, v in before.items() if t != "outbox"}
