"""measurement-based care: questionnaire responses, C-SSRS results, safety tasks, content packs,
self-report links

Revision ID: mbc_0001
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "mbc_0001"
down_revision = "0002"
branch_labels = ("mbc",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "self_report_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("instrument_ids", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["staff_user.id"],
            name=op.f("fk_self_report_link_created_by_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_self_report_link_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_self_report_link_site_id_site")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_self_report_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_self_report_link_token_hash")),
    )
    with op.batch_alter_table("self_report_link", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_self_report_link_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "questionnaire_response",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.String(length=32), nullable=False),
        sa.Column("instrument_version", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("entered_by", sa.Integer(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("answers_json", sa.Text(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("subscales_json", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=32), nullable=True),
        sa.Column("flags_json", sa.Text(), nullable=False),
        sa.Column("self_report_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["entered_by"],
            ["staff_user.id"],
            name=op.f("fk_questionnaire_response_entered_by_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_questionnaire_response_patient_id_patient"),
        ),
        sa.ForeignKeyConstraint(
            ["self_report_id"],
            ["self_report_link.id"],
            name=op.f("fk_questionnaire_response_self_report_id_self_report_link"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_response")),
        sa.UniqueConstraint(
            "patient_id", "instrument_id", "completed_at", name="uq_questionnaire_response_once"
        ),
    )
    with op.batch_alter_table("questionnaire_response", schema=None) as batch_op:
        batch_op.create_index(
            "ix_questionnaire_response_instrument",
            ["instrument_id", "patient_id", "completed_at"],
            unique=False,
        )

    op.create_table(
        "cssrs_result",
        sa.Column("response_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("form", sa.String(length=32), nullable=False),
        sa.Column("risk_level", sa.String(length=16), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["questionnaire_response.id"],
            name=op.f("fk_cssrs_result_response_id_questionnaire_response"),
        ),
        sa.PrimaryKeyConstraint("response_id", name=op.f("pk_cssrs_result")),
    )

    op.create_table(
        "safety_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("action", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["closed_by"], ["staff_user.id"], name=op.f("fk_safety_task_closed_by_staff_user")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_safety_task_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["questionnaire_response.id"],
            name=op.f("fk_safety_task_response_id_questionnaire_response"),
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_safety_task_site_id_site")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_task")),
    )
    with op.batch_alter_table("safety_task", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_safety_task_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index("ix_safety_task_site_status", ["site_id", "status"], unique=False)

    op.create_table(
        "content_pack",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.String(length=32), nullable=False),
        sa.Column("instrument_version", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("items_json", sa.Text(), nullable=False),
        sa.Column("anchors_json", sa.Text(), nullable=False),
        sa.Column("licence_attested_by", sa.String(length=100), nullable=True),
        sa.Column("licence_attested_on", sa.Date(), nullable=True),
        sa.Column("licence_statement", sa.Text(), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_pack")),
    )
    with op.batch_alter_table("content_pack", schema=None) as batch_op:
        batch_op.create_index(
            "ix_content_pack_instrument_language", ["instrument_id", "language"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("content_pack", schema=None) as batch_op:
        batch_op.drop_index("ix_content_pack_instrument_language")
    op.drop_table("content_pack")

    with op.batch_alter_table("safety_task", schema=None) as batch_op:
        batch_op.drop_index("ix_safety_task_site_status")
        batch_op.drop_index(batch_op.f("ix_safety_task_patient_id"))
    op.drop_table("safety_task")

    op.drop_table("cssrs_result")

    with op.batch_alter_table("questionnaire_response", schema=None) as batch_op:
        batch_op.drop_index("ix_questionnaire_response_instrument")
    op.drop_table("questionnaire_response")

    with op.batch_alter_table("self_report_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_self_report_link_patient_id"))
    op.drop_table("self_report_link")
