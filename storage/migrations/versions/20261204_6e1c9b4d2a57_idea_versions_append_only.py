"""idea versions: the text a proposer's revision replaced is kept, and the database refuses to change it

A revision of an idea sent back (`Idea.revise`) overwrites the idea's title, description, requested
amount and departments; the history names only the fields changed. `idea_versions` keeps each text a
revision replaced, with the gate round it was the text of, written in the revision's own transaction.
Like `history` (migration 7a1e0c4d2b90) it is the municipality's record: triggers refuse UPDATE and
DELETE on it (and TRUNCATE on PostgreSQL). A later migration that rebuilds this table in SQLite's
batch mode would drop the triggers and must create them again.

Ideas revised before this migration have no earlier versions to keep: their overwritten text is gone.

Revision ID: 6e1c9b4d2a57
Revises: 3d7b1f9a6c42
Create Date: 2026-12-04 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.tables

revision: str = '6e1c9b4d2a57'
down_revision: str | None = '3d7b1f9a6c42'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "idea_versions is append-only"


def upgrade() -> None:
    op.create_table('idea_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idea_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('requested_dkk', sa.BigInteger(), nullable=True),
    sa.Column('departments', sa.JSON(), nullable=False),
    sa.Column('replaced_at', storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('replaced_by_id', sa.Integer(), nullable=False),
    sa.Column('replaced_in_round', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['idea_id'], ['ideas.id'], name=op.f('fk_idea_versions_idea_id_ideas')),
    sa.ForeignKeyConstraint(['replaced_by_id'], ['people.id'], name=op.f('fk_idea_versions_replaced_by_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idea_versions'))
    )
    op.create_index(op.f('ix_idea_versions_idea_id'), 'idea_versions', ['idea_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION idea_versions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{MESSAGE}'; END $$
        """)
        op.execute("CREATE TRIGGER idea_versions_no_change BEFORE UPDATE OR DELETE ON idea_versions "
                   "FOR EACH ROW EXECUTE FUNCTION idea_versions_append_only()")
        op.execute("CREATE TRIGGER idea_versions_no_truncate BEFORE TRUNCATE ON idea_versions "
                   "FOR EACH STATEMENT EXECUTE FUNCTION idea_versions_append_only()")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER idea_versions_no_{verb.lower()} BEFORE {verb} ON idea_versions "
                       f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER idea_versions_no_truncate ON idea_versions")
        op.execute("DROP TRIGGER idea_versions_no_change ON idea_versions")
        op.execute("DROP FUNCTION idea_versions_append_only()")
    else:
        op.execute("DROP TRIGGER idea_versions_no_update")
        op.execute("DROP TRIGGER idea_versions_no_delete")
    op.drop_index(op.f('ix_idea_versions_idea_id'), table_name='idea_versions')
    op.drop_table('idea_versions')
