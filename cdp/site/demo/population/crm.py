"""CRM records (crm.csv), with the noise real CRMs have: typos, nicknames, missing
fields, old addresses, duplicates."""

from __future__ import annotations

import random

from cdp.site.demo.population.files import CRM_FILE, CSV_COLUMNS
from cdp.site.demo.population.people import (
    NICKNAMES,
    UK_CITIES,
    US_CITIES,
    Address,
    IdentifierSpace,
    Person,
    home_address,
    written_phone,
)

CRM_SHARE = {"loyalty member": 0.9, "other": 0.5}
CRM_NOISE_RATE = 0.25
CRM_DUPLICATE_RATE = 0.05
# People with a CRM row that shares no identifier with anything else they sent.
CRM_UNTIED_RATE = 0.2
# People with a nickname who also signed up for a loyalty card at a store's desk, under
# the nickname and with nothing but their name, birthday and address.
STORE_SIGNUP_RATE = 0.3
CRM_NOISE_KINDS = ("typo", "nickname", "missing", "moved", "email case")


def crm_records(person: Person, rng: random.Random, ids: IdentifierSpace, number: int):
    """The person's rows in the CRM: none, one, or (for some) a noisy duplicate."""
    share = CRM_SHARE["loyalty member" if person.loyalty_id else "other"]
    if rng.random() >= share:
        return []
    records = [crm_record(person, rng, ids.crm_id(number, 0), noisy=rng.random() < CRM_NOISE_RATE)]
    if rng.random() < CRM_DUPLICATE_RATE:
        records.append(crm_record(person, rng, ids.crm_id(number, 1), noisy=True))
    else:
        # Its own random stream, so that the rest of the person's life is as before.
        untied = random.Random(f"{ids.offsets['crm']}/untied/{number}")
        if untied.random() < CRM_UNTIED_RATE:
            records.append(untied_crm_record(person, untied, ids.crm_id(number, 1)))
    desk = random.Random(f"{ids.offsets['crm']}/store-signup/{number}")
    if person.first_name in NICKNAMES and desk.random() < STORE_SIGNUP_RATE:
        records.append(store_signup_record(person, ids.crm_id(number, 0)))
    return records


def store_signup_record(person: Person, crm_id: str) -> list[str]:
    """A loyalty sign-up typed in at a store's desk: the nickname the person gave ("Bill"
    for William), their surname, birthday and home address; no email, no phone, so no
    key ties it to them. Its id is the store's own (STORE-..., one per person)."""
    record = {
        "crm_id": f"STORE-{crm_id.removeprefix('CRM-')}",
        "first_name": NICKNAMES[person.first_name],
        "last_name": person.last_name,
        "email": "",
        "phone": "",
        "birthday": person.birthday,
        **person.address.as_traits(),
        "loyalty_id": "",
    }
    return [record[column] for column in CSV_COLUMNS[CRM_FILE]]


def untied_crm_record(person: Person, rng: random.Random, crm_id: str) -> list[str]:
    """A second CRM row that no key ties to the person: entered by another store with a
    slip in the surname and the email they had years ago, no phone, no loyalty card.
    Only the names, birthday and address say it is them (what Splink is for)."""
    record = {
        "crm_id": crm_id,
        "first_name": person.first_name,
        "last_name": misspelled(person.last_name, rng),
        "email": f"{person.first_name}.{person.last_name}.{crm_id[-4:]}@old-isp.example".lower(),
        "phone": "",
        "birthday": person.birthday,
        **person.address.as_traits(),
        "loyalty_id": "",
    }
    return [record[column] for column in CSV_COLUMNS[CRM_FILE]]


def crm_record(person: Person, rng: random.Random, crm_id: str, *, noisy: bool) -> list[str]:
    record = {
        "crm_id": crm_id,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "phone": written_phone(person.phone, rng),
        "birthday": person.birthday,
        **person.address.as_traits(),
        "loyalty_id": person.loyalty_id or "",
    }
    if noisy:
        for kind in rng.sample(CRM_NOISE_KINDS, rng.choice((1, 1, 1, 2))):
            add_crm_noise(record, kind, person, rng)
    return [record[column] for column in CSV_COLUMNS[CRM_FILE]]


def add_crm_noise(record: dict, kind: str, person: Person, rng: random.Random) -> None:
    if kind == "nickname" and person.first_name in NICKNAMES:
        record["first_name"] = NICKNAMES[person.first_name]
    elif kind in ("typo", "nickname"):
        field = rng.choice(("first_name", "last_name"))
        record[field] = misspelled(record[field], rng)
    elif kind == "missing":
        for field in rng.sample(("email", "phone", "birthday"), rng.choice((1, 1, 2))):
            record[field] = ""
    elif kind == "moved":
        record.update(previous_address(person, rng).as_traits())
    elif kind == "email case" and record["email"]:
        record["email"] = recased_email(record["email"], rng)


def misspelled(name: str, rng: random.Random) -> str:
    """One slip of the keyboard: two letters swapped, one dropped or one doubled."""
    if len(name) < 3:
        return name + name[-1]
    at = rng.randrange(1, len(name) - 1)
    slip = rng.choice(("swap", "drop", "double"))
    if slip == "swap" and name[at] != name[at + 1]:
        return name[:at] + name[at + 1] + name[at] + name[at + 2 :]
    if slip == "double":
        return name[: at + 1] + name[at:]
    return name[:at] + name[at + 1 :]


def recased_email(email: str, rng: random.Random) -> str:
    local, domain = email.split("@")
    style = rng.randrange(3)
    if style == 0:
        return email.upper()
    if style == 1:
        return ".".join(part.capitalize() for part in local.split(".")) + "@" + domain.capitalize()
    return local.capitalize() + "@" + domain


def previous_address(person: Person, rng: random.Random) -> Address:
    """Where the person lived before: the CRM was not told they moved."""
    if rng.random() < 0.6:
        cities = US_CITIES if person.country == "US" else UK_CITIES
        city = next(city for city in cities if city[0] == person.address.city)
        return home_address(rng, person.country, city=city)[0]
    return home_address(rng, person.country)[0]
