"""Seeded, labelled customer records for probabilistic matching tests and benchmarks.

People with one to three records each, the later records carrying the noise real CRM,
shop and web sign-ups carry (typos, nicknames, swapped names, gaps, moves, new emails
and phones), and households sharing a surname, address and sometimes a landline.
Emails are mostly made of names, which is what makes blocking EM on names go wrong.
`make_population` returns the records and the person each belongs to.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa

from identity.engine.matching import MATCH_COLUMNS

FIRST_NAMES = [
    "james", "mary", "robert", "patricia", "john", "jennifer", "michael", "linda",
    "william", "elizabeth", "david", "barbara", "richard", "susan", "joseph", "jessica",
    "thomas", "sarah", "charles", "karen", "christopher", "nancy", "daniel", "lisa",
    "matthew", "betty", "anthony", "margaret", "mark", "sandra", "donald", "ashley",
    "steven", "katherine", "paul", "emily", "andrew", "donna", "joshua", "michelle",
    "kenneth", "dorothy", "kevin", "carol", "brian", "amanda", "george", "melissa",
    "timothy", "deborah", "ronald", "stephanie", "edward", "rebecca", "jason", "sharon",
    "jeffrey", "laura", "ryan", "cynthia", "jacob", "kathleen", "gary", "amy",
    "nicholas", "angela", "eric", "shirley", "jonathan", "anna", "stephen", "brenda",
    "larry", "pamela", "justin", "emma", "scott", "nicole", "brandon", "helen",
    "benjamin", "samantha", "samuel", "victoria", "gregory", "abigail", "frank", "olivia",
]  # fmt: skip
NICKNAMES = {
    "jonathan": ["jon"], "william": ["bill", "will"], "elizabeth": ["liz", "beth"],
    "robert": ["bob", "rob"], "katherine": ["kate", "katie"], "michael": ["mike"],
    "james": ["jim", "jimmy"], "thomas": ["tom"], "richard": ["rick", "rich"],
    "christopher": ["chris"], "daniel": ["dan"], "matthew": ["matt"], "joseph": ["joe"],
    "jennifer": ["jen", "jenny"], "margaret": ["maggie", "peggy"], "anthony": ["tony"],
    "steven": ["steve"], "edward": ["ed", "ted"], "samuel": ["sam"], "benjamin": ["ben"],
    "rebecca": ["becky"], "victoria": ["vicky"], "abigail": ["abby"], "susan": ["sue"],
    "nicholas": ["nick"], "timothy": ["tim"], "deborah": ["debbie"], "donald": ["don"],
}  # fmt: skip
# Common surnames, most common first (SURNAME_WEIGHTS makes the first far more common).
LAST_NAMES = [
    "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis",
    "rodriguez", "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson",
    "thomas", "taylor", "moore", "jackson", "martin", "lee", "perez", "thompson", "white",
    "harris", "sanchez", "clark", "ramirez", "lewis", "robinson", "walker", "young",
    "allen", "king", "wright", "scott", "torres", "nguyen", "hill", "flores", "green",
    "adams", "nelson", "baker", "hall", "rivera", "campbell", "mitchell", "carter",
    "roberts", "gomez", "phillips", "evans", "turner", "diaz", "parker", "cruz",
    "edwards", "collins", "reyes", "stewart", "morris", "morales", "murphy", "cook",
    "rogers", "gutierrez", "ortiz", "morgan", "cooper", "peterson", "bailey", "reed",
    "kelly", "howard", "ramos", "kim", "cox", "ward", "richardson", "watson", "brooks",
    "chavez", "wood", "james", "bennett", "gray", "mendoza", "ruiz", "hughes", "price",
    "alvarez", "castillo", "sanders", "patel", "myers", "long", "ross", "foster",
    "jimenez", "powell", "jenkins", "perry", "russell", "sullivan", "bell", "coleman",
    "butler", "henderson", "barnes", "gonzales", "fisher", "vasquez", "simmons",
    "romero", "jordan", "patterson", "alexander", "hamilton", "graham", "reynolds",
    "griffin", "wallace", "moreno", "west", "cole", "hayes", "bryant", "herrera",
    "gibson", "ellis", "tran", "medina", "aguilar", "stevens", "murray", "ford",
    "castro", "marshall", "owens", "harrison", "fernandez", "mcdonald", "woods",
    "washington", "kennedy", "wells", "vargas", "henry", "chen", "freeman", "webb",
    "tucker", "guzman", "burns", "crawford", "olson", "simpson", "porter", "hunter",
    "gordon", "mendez", "silva", "shaw", "snyder", "mason", "dixon", "munoz", "hunt",
    "hicks", "holmes", "palmer", "wagner", "black", "robertson", "boyd", "rose", "stone",
    "salazar", "fox", "warren", "mills", "meyer", "rice", "schmidt", "garza", "daniels",
]  # fmt: skip
STREET_NAMES = [
    "high", "main", "oak", "park", "pine", "maple", "cedar", "elm", "washington", "lake",
    "hill", "church", "mill", "station", "victoria", "market", "bridge", "river", "king",
    "queen", "spring", "north", "sunset", "highland", "forest", "meadow", "willow",
    "jackson", "lincoln", "franklin", "madison", "jefferson", "walnut", "chestnut",
]  # fmt: skip
STREET_TYPES = [("street", "st"), ("avenue", "ave"), ("road", "rd"), ("lane", "ln"),
                ("drive", "dr"), ("court", "ct"), ("place", "pl")]  # fmt: skip
CITIES = [
    "springfield", "riverside", "franklin", "greenville", "bristol", "clinton",
    "fairview", "salem", "madison", "georgetown", "arlington", "ashland", "burlington",
    "manchester", "milton", "newport", "oxford", "auburn", "dayton", "lexington",
    "jackson", "marion", "oakland", "winchester", "chester", "kingston", "dover",
    "hudson", "troy", "columbia",
]  # fmt: skip
POSTCODES = {
    city: [f"{10000 + 311 * i + 13 * k:05d}" for k in range(20)] for i, city in enumerate(CITIES)
}
SURNAME_WEIGHTS = [1 / (rank + 10) for rank in range(len(LAST_NAMES))]
# Rarer surnames, made of parts: most people do not share their surname with many others.
SURNAME_PARTS = (
    ["ash", "bel", "brad", "car", "dal", "els", "fair", "gar", "hol", "kings", "lang", "mar",
     "nor", "ost", "pem", "ral", "stan", "thorn", "wal", "whit", "york", "ban", "crom", "dun"],
    ["son", "ton", "ley", "field", "worth", "wood", "ford", "by", "man", "er", "well", "ham",
     "ridge", "brook", "stone", "more", "gate", "croft", "dale", "hurst"],
)  # fmt: skip
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com"]


@dataclass(frozen=True)
class Record:
    unique_id: int
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    birthday: str | None
    street: str | None
    city: str | None
    postal_code: str | None


@dataclass
class Person:
    first_name: str
    last_name: str
    birthday: str
    email: str
    phone: str
    street: str
    city: str
    postal_code: str


def _surname(rng: random.Random) -> str:
    if rng.random() < 0.6:  # common surnames, the first far more common than the last
        return rng.choices(LAST_NAMES, weights=SURNAME_WEIGHTS)[0]
    return rng.choice(SURNAME_PARTS[0]) + rng.choice(SURNAME_PARTS[1])


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["swap", "drop", "replace", "double"])
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice("aeiourstnl") + word[i + 1 :]


def _address(rng: random.Random) -> tuple[str, str, str]:
    city = rng.choice(CITIES)
    name = rng.choice(STREET_NAMES)
    kind = rng.choice(STREET_TYPES)[0]
    return f"{rng.randint(1, 250)} {name.title()} {kind.title()}", city, rng.choice(POSTCODES[city])


def _phone(rng: random.Random) -> str:
    return f"+1{rng.randint(201, 989)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"


def _email(rng: random.Random, first: str, last: str, taken: set[str]) -> str:
    """A mailbox nobody else has: people sharing a name get a number, as providers do."""
    domain = rng.choice(DOMAINS)
    style = rng.random()
    if style < 0.55:
        user = f"{first}.{last}"
    elif style < 0.75:
        user = f"{first[0]}{last}"
    elif style < 0.9:
        user = f"{first}{last}{rng.randint(1, 99)}"
    else:
        user = f"{rng.choice(STREET_NAMES)}{rng.choice(CITIES)}{rng.randint(1, 999)}"
    email = f"{user}@{domain}"
    while email in taken:
        email = f"{user}{rng.randint(1, 999)}@{domain}"
    taken.add(email)
    return email


def _person(rng: random.Random, household: Person | None, taken: set[str]) -> Person:
    first = rng.choice(FIRST_NAMES)
    if household is not None:
        # Someone living with `household`: same surname, address and often landline.
        last, street, city, postal_code = (
            household.last_name,
            household.street,
            household.city,
            household.postal_code,
        )
        phone = household.phone if rng.random() < 0.3 else _phone(rng)
    else:
        last = _surname(rng)
        street, city, postal_code = _address(rng)
        phone = _phone(rng)
    birthday = f"{rng.randint(1940, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    email = _email(rng, first, last, taken)
    return Person(first, last, birthday, email, phone, street, city, postal_code)


def _first_record(rng: random.Random, unique_id: int, person: Person, taken: set[str]) -> Record:
    return Record(
        unique_id=unique_id,
        first_name=person.first_name.title(),
        last_name=person.last_name.title(),
        email=person.email,
        phone=person.phone if rng.random() < 0.85 else None,
        birthday=person.birthday if rng.random() < 0.9 else None,
        street=person.street,
        city=person.city.title(),
        postal_code=person.postal_code,
    )


def _noisy_record(rng: random.Random, unique_id: int, person: Person, taken: set[str]) -> Record:
    """Another profile of `person`, as a different channel or a later sign-up saw them.
    The steps draw from `rng` in this order, so a seed gives the same records."""
    first, last = _noisy_name(rng, person)
    email = _noisy_email(rng, person, first, last, taken)
    phone = person.phone if rng.random() < 0.8 else (_phone(rng) if rng.random() < 0.5 else None)
    birthday = _noisy_birthday(rng, person.birthday)
    street, city, postal_code = _noisy_address(rng, person)
    first, last = first.title() if rng.random() < 0.7 else first.upper(), last.title()
    if rng.random() < 0.04:
        first, last = last, first
    record = Record(
        unique_id, first, last, email, phone, birthday, street, city.title(), postal_code
    )
    for column in ("email", "phone", "birthday", "street", "postal_code"):
        if rng.random() < 0.08:
            blank: dict[str, Any] = {column: None}
            record = replace(record, **blank)
    return record


def _noisy_name(rng: random.Random, person: Person) -> tuple[str, str]:
    """A nickname or a typo in the first name, sometimes a typo in the last."""
    first, last = person.first_name, person.last_name
    roll = rng.random()
    if roll < 0.2 and first in NICKNAMES:
        first = rng.choice(NICKNAMES[first])
    elif roll < 0.3:
        first = _typo(rng, first)
    if rng.random() < 0.1:
        last = _typo(rng, last)
    return first, last


def _noisy_email(rng: random.Random, person: Person, first: str, last: str, taken: set[str]) -> str:
    """Sometimes another address, sometimes the same one in other letter case."""
    email = person.email
    if rng.random() < 0.15:
        email = _email(rng, first, last, taken)
    if rng.random() < 0.2:
        email = email.upper() if rng.random() < 0.5 else email.title()
    return email


def _noisy_birthday(rng: random.Random, birthday: str) -> str:
    """A wrong last digit, day and month swapped, or a placeholder date."""
    roll = rng.random()
    if roll < 0.05:
        return birthday[:-1] + str((int(birthday[-1]) + 1) % 10)
    if roll < 0.08:
        return f"{birthday[:4]}-{birthday[8:]}-{birthday[5:7]}"
    if roll < 0.1:
        return rng.choice(["1900-01-01", f"{rng.randint(1940, 2005)}-01-01"])
    return birthday


def _noisy_address(rng: random.Random, person: Person) -> tuple[str, str, str]:
    """A new address (moved house), or the same one with street types abbreviated and
    sometimes a ZIP+4 postal code."""
    if rng.random() < 0.2:
        return _address(rng)
    street, city, postal_code = person.street, person.city, person.postal_code
    for long, short in STREET_TYPES:
        if rng.random() < 0.5:
            street = street.replace(long.title(), short.upper() if rng.random() < 0.3 else short)
    if rng.random() < 0.2:
        postal_code = f"{postal_code}-{rng.randint(0, 9999):04d}"
    return street, city, postal_code


def make_population(people: int, *, seed: int = 7) -> tuple[list[Record], dict[int, int]]:
    """Records and the person each record belongs to; record ids are shuffled so that
    nothing can be learnt from their order."""
    rng = random.Random(seed)
    persons: list[Person] = []
    taken: set[str] = set()
    for _ in range(people):
        household = persons[-1] if persons and rng.random() < 0.08 else None
        persons.append(_person(rng, household, taken))
    ids = list(range(1, people * 3 + 1))
    rng.shuffle(ids)
    records, truth = [], {}
    for index, person in enumerate(persons):
        copies = rng.choices([1, 2, 3], weights=[0.35, 0.4, 0.25])[0]
        for copy in range(copies):
            unique_id = ids.pop()
            make = _first_record if copy == 0 else _noisy_record
            records.append(make(rng, unique_id, person, taken))
            truth[unique_id] = index
    return records, truth


def to_table(records: list[Record]) -> pa.Table:
    columns = {"unique_id": pa.array([r.unique_id for r in records], pa.int64())}
    for column in MATCH_COLUMNS:
        columns[column] = pa.array([getattr(r, column) for r in records], pa.string())
    return pa.table(columns)


def true_pairs(truth: dict[int, int]) -> set[tuple[int, int]]:
    members = defaultdict(list)
    for unique_id, person in truth.items():
        members[person].append(unique_id)
    return {pair for group in members.values() for pair in itertools.combinations(sorted(group), 2)}


def pairwise_scores(clusters: list[list[int]], truth: dict[int, int]) -> tuple[float, float, float]:
    found = {pair for cluster in clusters for pair in itertools.combinations(sorted(cluster), 2)}
    expected = true_pairs(truth)
    right = len(found & expected)
    precision = right / len(found) if found else 1.0
    recall = right / len(expected)
    return precision, recall, 2 * precision * recall / (precision + recall)
