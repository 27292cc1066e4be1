"""import identity: a source-scoped member id for imported people; extra record fields

Imported people used to take their file's ``red_team_member_id`` as their
``member_number``, the number the platform also hands out (max + 1), so the two collided
(issue 14). Imported people now keep that id in ``source_member_id``, scoped by
``source``. People that earlier imports created (handle ``hh-rlhf:<id>``) get
``source = 'hh-rlhf'`` and their id copied; their ``member_number`` stays as it was, so
nothing that refers to it changes.

Revision ID: 0003
Revises: 0002
Create Date: 2027-01-10
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("source_member_id", sa.BigInteger(), nullable=True))
        batch_op.create_index("uq_person_source_id", ["source", "source_member_id"], unique=True)

    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("extra", sa.JSON(), nullable=True))

    op.execute(
        "UPDATE person SET source = 'hh-rlhf', source_member_id = member_number "
        "WHERE handle LIKE 'hh-rlhf:%' AND member_number >= 0"
    )


def downgrade() -> None:
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.drop_column("extra")

    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index("uq_person_source_id")
        batch_op.drop_column("source_member_id")
        batch_op.drop_column("source")
