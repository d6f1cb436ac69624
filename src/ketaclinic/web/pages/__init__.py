"""Server-rendered pages for staff (and, later, the public and patients)."""

from __future__ import annotations

from fastapi import APIRouter

from ketaclinic.web.pages import (
    admin,
    admin_chairs,
    auth,
    chair,
    clinic_settings,
    dosing,
    home,
    intake,
    interop,
    mbc,
    patients,
)

router = APIRouter(include_in_schema=False)
router.include_router(auth.router)
router.include_router(home.router)
router.include_router(patients.router)
router.include_router(admin.router)
router.include_router(admin_chairs.router)
router.include_router(interop.router)
router.include_router(mbc.router)
router.include_router(intake.router)
router.include_router(dosing.router)
router.include_router(chair.router)
router.include_router(clinic_settings.router)
