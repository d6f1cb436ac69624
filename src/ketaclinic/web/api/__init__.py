"""The JSON API under ``/api/v1`` (DESIGN.md §4.3)."""

from __future__ import annotations

from fastapi import APIRouter

from ketaclinic.web.api import (
    auth,
    chair,
    clinic_settings,
    dosing,
    intake,
    intake_booking,
    intake_care,
    interop,
    mbc,
    patients,
)

router = APIRouter(prefix="/api/v1")
router.include_router(auth.router)
router.include_router(patients.router)
router.include_router(interop.router)
router.include_router(mbc.router)
router.include_router(intake.router)
router.include_router(intake_care.router)
router.include_router(intake_booking.router)
router.include_router(dosing.router)
router.include_router(chair.router)
router.include_router(clinic_settings.router)
