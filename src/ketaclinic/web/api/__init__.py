"""The JSON API under ``/api/v1`` (DESIGN.md §4.3)."""

from __future__ import annotations

from fastapi import APIRouter

from ketaclinic.web.api import auth, patients

router = APIRouter(prefix="/api/v1")
router.include_router(auth.router)
router.include_router(patients.router)
