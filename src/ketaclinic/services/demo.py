"""The demo clinic of DESIGN.md §4.5: synthetic, the same every time it is loaded.

Organisation "Demo Ketamine Clinic", sites MIA and FLL with four chairs each, one user per role
per site (``nurse.mia`` …), and 40 patients DEMO-0001 … DEMO-0040 with made-up names. Nothing
here describes a real person. Later capabilities add their parts (series, scores, the infusion
running on MIA-1) through :data:`EXTENSIONS`.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

from ketaclinic.domain.people import BodyMeasurement, NewPatient, Role, Sex
from ketaclinic.services import demo_chair, demo_dosing, demo_intake, demo_mbc
from ketaclinic.services.audit import SYSTEM, Actor
from ketaclinic.services.auth import Passwords
from ketaclinic.services.ports import Clock, UnitOfWork
from ketaclinic.services.staff import add_chair, add_site, add_user

ORGANISATION = "Demo Ketamine Clinic"
# Phone numbers from the 555-0100–0199 block, which North American numbering keeps fictional.
SITES = (
    ("MIA", "Miami", "America/New_York", "+1 305 555 0142"),
    ("FLL", "Fort Lauderdale", "America/New_York", "+1 954 555 0178"),
)
CHAIRS_PER_SITE = 4
PATIENTS = 40
SEED = 20261124
DEMO_PASSWORD = "demo-clinic-2026"  # noqa: S105 - published: the demo holds synthetic data only

ROLE_PREFIX = {
    Role.FRONT_DESK: "frontdesk",
    Role.NURSE: "nurse",
    Role.PRESCRIBER: "prescriber",
    Role.DIRECTOR: "director",
}

GIVEN_FEMALE = (
    "Alma",
    "Brisa",
    "Carmen",
    "Dalia",
    "Elena",
    "Fabiola",
    "Gloria",
    "Hilda",
    "Ines",
    "Julia",
    "Karina",
    "Lucia",
    "Marisol",
    "Nadia",
    "Olga",
    "Paula",
    "Rosa",
    "Sonia",
    "Tamara",
    "Vera",
)
GIVEN_MALE = (
    "Adrian",
    "Bruno",
    "Cesar",
    "Dario",
    "Emilio",
    "Felix",
    "Gael",
    "Hector",
    "Ivan",
    "Jorge",
    "Kevin",
    "Luis",
    "Mateo",
    "Nelson",
    "Oscar",
    "Pablo",
    "Rafael",
    "Samuel",
    "Tomas",
    "Victor",
)
FAMILY = (
    "Arbolado",
    "Brightwater",
    "Castellano",
    "Delmonte",
    "Estrada-Lune",
    "Fairhaven",
    "Galvanez",
    "Hollister",
    "Iturbe",
    "Jessamine",
    "Kingsfold",
    "Lazaro-Vidal",
    "Marchetti",
    "Northway",
    "Ocampo",
    "Pelletier",
    "Quintanar",
    "Redfern",
    "Salcedo",
    "Thornbury",
    "Umberland",
    "Valdivia",
    "Westmoreland",
    "Yarrowby",
    "Zamorano",
)


@dataclass(frozen=True, slots=True)
class DemoLogin:
    username: str
    role: Role
    site: str
    password: str


# Each later capability registers a function that adds its part of the demo clinic.
Extension = Callable[[UnitOfWork, Clock, random.Random], None]
EXTENSIONS: list[Extension] = []
EXTENSIONS.append(demo_intake.load)
EXTENSIONS.append(demo_chair.load)
EXTENSIONS.append(demo_mbc.load)
EXTENSIONS.append(demo_dosing.load)


def demo_logins() -> list[DemoLogin]:
    return [
        DemoLogin(f"{ROLE_PREFIX[role]}.{code.lower()}", role, code, DEMO_PASSWORD)
        for code, _name, _tz, _phone in SITES
        for role in Role
    ]


def is_loaded(uow: UnitOfWork) -> bool:
    return uow.sites.organisation_name() == ORGANISATION


def load(uow: UnitOfWork, clock: Clock, passwords: Passwords) -> list[DemoLogin]:
    """Load the demo clinic into an empty database (no-op if it is already there)."""
    logins = demo_logins()
    if is_loaded(uow):
        return logins
    rng = random.Random(SEED)
    actor: Actor = SYSTEM
    uow.sites.set_organisation_name(ORGANISATION)
    sites = {}
    for code, name, tz, phone in SITES:
        site = add_site(uow, code, name, tz, phone)
        sites[code] = site
        for n in range(1, CHAIRS_PER_SITE + 1):
            add_chair(uow, site, f"{code}-{n}", f"Chair {n}")
    for login in logins:
        add_user(
            uow,
            clock,
            actor,
            passwords,
            username=login.username,
            role=login.role,
            site_codes=[login.site],
            password=login.password,
            display_name=f"Demo {login.role.label} ({login.site})",
            email=f"{login.username}@demo.invalid",
            enforce_policy=False,
        )
    now = clock.now()
    for number in range(1, PATIENTS + 1):
        site = sites["MIA"] if number == 1 or number % 2 == 1 else sites["FLL"]
        sex = Sex.FEMALE if rng.random() < 0.5 else Sex.MALE
        given = rng.choice(GIVEN_FEMALE if sex is Sex.FEMALE else GIVEN_MALE)
        family = rng.choice(FAMILY)
        age = rng.randint(22, 64)
        birth = dt.date(now.year - age, rng.randint(1, 12), rng.randint(1, 28))
        mrn = f"DEMO-{number:04d}"
        patient = uow.patients.add(
            NewPatient(
                site_id=site.id,
                mrn=mrn,
                given_name=given,
                family_name=family,
                birth_date=birth,
                sex=sex,
                email=f"{mrn.lower()}@patients.demo.invalid",
                phone=f"+1-555-01{number:02d}",
                preferred_language="es" if rng.random() < 0.35 else "en",
            ),
            now - dt.timedelta(days=120),
        )
        height = rng.uniform(158, 172) if sex is Sex.FEMALE else rng.uniform(168, 188)
        weight = round(rng.uniform(55, 95) if sex is Sex.FEMALE else rng.uniform(68, 115), 1)
        for weeks_ago in (12, 6, 0):
            drift = rng.uniform(-1.5, 1.5) if weeks_ago else 0.0
            uow.patients.add_measurement(
                BodyMeasurement(
                    patient.id,
                    now - dt.timedelta(weeks=weeks_ago, hours=2),
                    round(weight + drift, 1),
                    round(height, 1),
                )
            )
    for extension in EXTENSIONS:
        extension(uow, clock, rng)
    return logins
