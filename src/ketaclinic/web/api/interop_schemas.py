"""JSON shapes of the bulk export, research export and patient import API (web/api/interop.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ketaclinic.services.interop_import import ImportReport
from ketaclinic.web.api.schemas import ErrorResponse

SITE_CODE = r"^[A-Za-z0-9]+$"


class ResearchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: str = Field(min_length=2, max_length=10, pattern=SITE_CODE, description="e.g. MIA")
    format: Literal["csv", "parquet"] = "csv"
    key: str = Field(
        max_length=4096,
        description="the clinic's research key: the text of its key file (at least 32 bytes "
        "as hex). The same key gives the same pseudonymous ids in every export.",
    )


class RowErrorOut(BaseModel):
    line: int = Field(description="the line in the file (1 is the header)")
    where: str
    field: str
    reason: str


class SkippedOut(BaseModel):
    line: int
    mrn: str
    reason: str


class ImportReportOut(BaseModel):
    rows: int = Field(description="patient rows read")
    imported: bool = Field(description="true once the patients are stored")
    created: list[str] = Field(
        description="MRNs imported (a dry run: the MRNs that would be imported)"
    )
    skipped: list[SkippedOut] = Field(description="already registered at this site: unchanged")
    errors: list[RowErrorOut] = Field(description="every problem: line, field and reason")
    ignored: int
    summary: str

    @classmethod
    def of(cls, report: ImportReport) -> ImportReportOut:
        return cls(
            rows=report.rows,
            imported=report.imported,
            created=list(report.created),
            skipped=[SkippedOut(line=s.line, mrn=s.mrn, reason=s.reason) for s in report.skipped],
            errors=[
                RowErrorOut(line=e.line, where=e.where, field=e.field, reason=e.reason)
                for e in report.errors
            ],
            ignored=report.ignored,
            summary=report.summary,
        )


class ImportRefused(ErrorResponse):
    """A commit refused because of invalid rows (and no ``skip_invalid``): nothing is stored;
    ``report`` lists every problem."""

    report: ImportReportOut
