"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_number", sa.BigInteger(), nullable=False),
        sa.Column("handle", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum("redteamer", "reviewer", "admin", name="role", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("pool", sa.String(length=50), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=True),
        sa.Column("survey", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("handle", name=op.f("uq_person_handle")),
        sa.UniqueConstraint("member_number", name=op.f("uq_person_member_number")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_person_token_hash")),
    )
    op.create_table(
        "preference_model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("data_hash", sa.String(length=64), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preference_model")),
        sa.UniqueConstraint("name", name=op.f("uq_preference_model_name")),
    )
    op.create_table(
        "target",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("family", sa.String(length=100), nullable=False),
        sa.Column("num_params", sa.BigInteger(), nullable=False),
        sa.Column("size_label", sa.String(length=20), nullable=False),
        sa.Column("model_type", sa.String(length=50), nullable=False),
        sa.Column("config", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_target")),
        sa.UniqueConstraint("name", name=op.f("uq_target_name")),
    )
    op.create_table(
        "task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active_seconds", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_task_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task")),
    )
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_person_id"), ["person_id"], unique=False)

    op.create_table(
        "wellbeing_survey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("feelings", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_wellbeing_survey_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wellbeing_survey")),
    )
    with op.batch_alter_table("wellbeing_survey", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_wellbeing_survey_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column(
            "origin",
            sa.Enum(
                "human",
                "replay",
                "automated",
                "imported",
                name="origin",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("source_attempt_id", sa.Integer(), nullable=True),
        sa.Column("task_description", sa.Text(), nullable=True),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("harmfulness", sa.Integer(), nullable=True),
        sa.Column("actionability", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "in_progress",
                "finished",
                "abandoned",
                name="attempt_status",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("min_harmlessness", sa.Float(), nullable=True),
        sa.Column("mean_harmlessness", sa.Float(), nullable=True),
        sa.Column("task_description_harmlessness", sa.Float(), nullable=True),
        sa.Column("scored_by", sa.String(length=80), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=True),
        sa.Column("raw_transcript", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_attempt_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["source_attempt_id"], ["attempt.id"], name=op.f("fk_attempt_source_attempt_id_attempt")
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["target.id"], name=op.f("fk_attempt_target_id_target")
        ),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], name=op.f("fk_attempt_task_id_task")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempt")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_attempt_content_hash")),
    )
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attempt_origin"), ["origin"], unique=False)
        batch_op.create_index(batch_op.f("ix_attempt_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attempt_target_id"), ["target_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attempt_task_id"), ["task_id"], unique=False)

    op.create_table(
        "review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("skipped", sa.Boolean(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempt.id"], name=op.f("fk_review_attempt_id_attempt")
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["person.id"], name=op.f("fk_review_reviewer_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review")),
        sa.UniqueConstraint("attempt_id", "reviewer_id", name=op.f("uq_review_attempt_id")),
    )
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_attempt_id"), ["attempt_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_reviewer_id"), ["reviewer_id"], unique=False)

    op.create_table(
        "turn",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("human", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempt.id"],
            name=op.f("fk_turn_attempt_id_attempt"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_turn")),
        sa.UniqueConstraint("attempt_id", "index", name=op.f("uq_turn_attempt_id")),
    )
    op.create_table(
        "candidate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("turn_id", sa.Integer(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("picked", sa.Boolean(), nullable=False),
        sa.Column("harmlessness", sa.Float(), nullable=True),
        sa.Column("scored_by", sa.String(length=80), nullable=True),
        sa.Column("latency_s", sa.Float(), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["turn_id"], ["turn.id"], name=op.f("fk_candidate_turn_id_turn"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candidate")),
        sa.UniqueConstraint("turn_id", "index", name=op.f("uq_candidate_turn_id")),
    )


def downgrade() -> None:

    op.drop_table("candidate")
    op.drop_table("turn")
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_reviewer_id"))
        batch_op.drop_index(batch_op.f("ix_review_attempt_id"))

    op.drop_table("review")
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attempt_task_id"))
        batch_op.drop_index(batch_op.f("ix_attempt_target_id"))
        batch_op.drop_index(batch_op.f("ix_attempt_person_id"))
        batch_op.drop_index(batch_op.f("ix_attempt_origin"))

    op.drop_table("attempt")
    with op.batch_alter_table("wellbeing_survey", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wellbeing_survey_person_id"))

    op.drop_table("wellbeing_survey")
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_person_id"))

    op.drop_table("task")
    op.drop_table("target")
    op.drop_table("preference_model")
    op.drop_table("person")
