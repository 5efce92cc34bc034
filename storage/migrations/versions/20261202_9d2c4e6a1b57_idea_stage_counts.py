"""idea_stage_counts: how many ideas each pool has in each stage, kept by the database

The portfolio's first page shows the counts per stage of every idea a coordinator may see. Counted
from `ideas`, that is a walk through one index entry per idea (100,000 in the benchmark: 10–40 ms
on every request, whatever index); read from this table, it is a few rows. Triggers on `ideas`
keep it, so every writer (the repository, a bulk load, a restore through SQL) keeps it right, in
the writer's own transaction. A change of stage touches its two rows in the order of their stage
names, so two transactions moving ideas in opposite directions (hold and resume) cannot deadlock.

Revision ID: 9d2c4e6a1b57
Revises: 4f0e2b7c9a13
Create Date: 2026-12-02 13:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9d2c4e6a1b57"
down_revision: str | None = "4f0e2b7c9a13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ADD = ("INSERT INTO idea_stage_counts (pool_id, stage, ideas) VALUES ({row}.pool_id, {row}.stage, 1) "
        "ON CONFLICT (pool_id, stage) DO UPDATE SET ideas = idea_stage_counts.ideas + 1;")
_TAKE = "UPDATE idea_stage_counts SET ideas = ideas - 1 WHERE pool_id = {row}.pool_id AND stage = {row}.stage;"


def upgrade() -> None:
    op.create_table(
        "idea_stage_counts",
        sa.Column("pool_id", sa.Integer(), sa.ForeignKey("pools.id", name="fk_idea_stage_counts_pool_id_pools"),
                  nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("ideas", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("pool_id", "stage", name="pk_idea_stage_counts"),
    )
    op.execute("INSERT INTO idea_stage_counts (pool_id, stage, ideas) "
               "SELECT pool_id, stage, count(*) FROM ideas GROUP BY pool_id, stage")
    add_new, take_old = _ADD.format(row="NEW"), _TAKE.format(row="OLD")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION idea_stage_counts_keep() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' THEN {add_new}
                ELSIF TG_OP = 'DELETE' THEN {take_old}
                ELSIF OLD.stage <= NEW.stage THEN {take_old} {add_new}
                ELSE {add_new} {take_old}
                END IF;
                RETURN NULL;
            END $$
        """)
        op.execute("CREATE TRIGGER idea_stage_counts_insert_delete AFTER INSERT OR DELETE ON ideas "
                   "FOR EACH ROW EXECUTE FUNCTION idea_stage_counts_keep()")
        op.execute("CREATE TRIGGER idea_stage_counts_update AFTER UPDATE OF stage, pool_id ON ideas FOR EACH ROW "
                   "WHEN (OLD.stage IS DISTINCT FROM NEW.stage OR OLD.pool_id IS DISTINCT FROM NEW.pool_id) "
                   "EXECUTE FUNCTION idea_stage_counts_keep()")
    else:  # SQLite runs one writer at a time: no order to keep
        op.execute(f"CREATE TRIGGER idea_stage_counts_insert AFTER INSERT ON ideas BEGIN {add_new} END")
        op.execute(f"CREATE TRIGGER idea_stage_counts_delete AFTER DELETE ON ideas BEGIN {take_old} END")
        op.execute("CREATE TRIGGER idea_stage_counts_update AFTER UPDATE OF stage, pool_id ON ideas "
                   "WHEN OLD.stage IS NOT NEW.stage OR OLD.pool_id IS NOT NEW.pool_id "
                   f"BEGIN {take_old} {add_new} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER idea_stage_counts_update ON ideas")
        op.execute("DROP TRIGGER idea_stage_counts_insert_delete ON ideas")
        op.execute("DROP FUNCTION idea_stage_counts_keep()")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER idea_stage_counts_{name}")
    op.drop_table("idea_stage_counts")
