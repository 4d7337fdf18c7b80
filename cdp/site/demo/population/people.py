"""People: names, email addresses, homes and phones, and the ids a shop hands out."""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from dataclasses import dataclass

from cdp.site.demo.population.chance import WeightedChoice
from cdp.site.demo.population.devices import HOME_NETWORKS, Device, ip_address, new_devices

# Formal first name → the nickname a CRM record may carry instead.
NICKNAMES = {
    "Jonathan": "Jon", "William": "Bill", "Elizabeth": "Liz", "Robert": "Bob",
    "Katherine": "Kate", "Michael": "Mike", "James": "Jim", "Richard": "Rick",
    "Thomas": "Tom", "Christopher": "Chris", "Daniel": "Dan", "Matthew": "Matt",
    "Anthony": "Tony", "Joseph": "Joe", "Steven": "Steve", "Andrew": "Andy",
    "Joshua": "Josh", "Benjamin": "Ben", "Nicholas": "Nick", "Alexander": "Alex",
    "Edward": "Ed", "Margaret": "Maggie", "Jennifer": "Jen", "Patricia": "Pat",
    "Rebecca": "Becky", "Susan": "Sue", "Deborah": "Debbie", "Jessica": "Jess",
    "Victoria": "Vicky", "Abigail": "Abby", "Samantha": "Sam", "Kimberly": "Kim",
    "Timothy": "Tim", "Gregory": "Greg", "Theodore": "Ted", "Catherine": "Cathy",
}  # fmt: skip
FIRST_NAMES = (
    *NICKNAMES,
    *"""Emma Olivia Noah Liam Sophia Mia Ethan Grace Chloe Lucas Ava Isabella Harper Aiden Priya
    Arjun Wei Mei Carlos María José Luis Sofía Fatima Omar Aisha Hiroshi Yuki Ngozi Kwame Zoë
    Renée Siobhan Oliver Harry Amelia Isla Freya""".split(),
)
LAST_NAMES = tuple(
    """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
    Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris
    Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill
    Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Patel Kim Chen
    Singh O'Brien Murphy Kelly Evans Hughes Edwards Cooper Ward Morgan Bell Shah Okafor Kowalski
    Müller Novak Rossi Dubois Tanaka Cohen""".split()
)
# Handles some people use instead of their name in their email address.
EMAIL_HANDLES = tuple(
    "trailrunner sunnyday mountainfan bluesky coffeelover wanderer campfire peakbagger".split()
)
EMAIL_PATTERNS = (
    ("{first}.{last}{n}", 30),
    ("{first}{last}{n}", 20),
    ("{initial}{last}{n}", 15),
    ("{first}_{last}{n}", 8),
    ("{first}{n}", 8),
    ("{last}.{first}{n}", 7),
    ("{handle}{n}", 12),
)
EMAIL_DOMAINS = {
    "US": (
        ("gmail.com", 38),
        ("yahoo.com", 12),
        ("icloud.com", 12),
        ("outlook.com", 8),
        ("hotmail.com", 7),
        ("aol.com", 3),
        ("comcast.net", 3),
        ("att.net", 2),
        ("proton.me", 2),
    ),
    "GB": (
        ("gmail.com", 40),
        ("hotmail.co.uk", 15),
        ("outlook.com", 10),
        ("yahoo.co.uk", 10),
        ("icloud.com", 10),
        ("btinternet.com", 8),
        ("sky.com", 5),
    ),
}

UK_SHARE = 0.12
# (city, state, first three zip digits, area codes, UTC offset in summer)
US_CITIES = (
    ("New York", "NY", "100", ("212", "646", "917"), -4),
    ("Brooklyn", "NY", "112", ("718", "347"), -4),
    ("Boston", "MA", "021", ("617", "857"), -4),
    ("Philadelphia", "PA", "191", ("215", "267"), -4),
    ("Washington", "DC", "200", ("202",), -4),
    ("Atlanta", "GA", "303", ("404", "678"), -4),
    ("Miami", "FL", "331", ("305", "786"), -4),
    ("Charlotte", "NC", "282", ("704", "980"), -4),
    ("Chicago", "IL", "606", ("312", "773"), -5),
    ("Minneapolis", "MN", "554", ("612",), -5),
    ("Austin", "TX", "787", ("512", "737"), -5),
    ("Dallas", "TX", "752", ("214", "469"), -5),
    ("Houston", "TX", "770", ("713", "832"), -5),
    ("Nashville", "TN", "372", ("615",), -5),
    ("Denver", "CO", "802", ("303", "720"), -6),
    ("Salt Lake City", "UT", "841", ("801", "385"), -6),
    ("Phoenix", "AZ", "850", ("602", "480"), -7),
    ("Seattle", "WA", "981", ("206",), -7),
    ("Portland", "OR", "972", ("503", "971"), -7),
    ("San Francisco", "CA", "941", ("415", "628"), -7),
    ("Oakland", "CA", "946", ("510",), -7),
    ("Los Angeles", "CA", "900", ("213", "323", "310"), -7),
    ("San Diego", "CA", "921", ("619", "858"), -7),
    ("Sacramento", "CA", "958", ("916",), -7),
)
# (city, region, postcode districts, UTC offset in summer)
UK_CITIES = (
    ("London", "England", ("SW1A", "N1", "E8", "SE15", "W11", "NW3"), 1),
    ("Manchester", "England", ("M1", "M4", "M20"), 1),
    ("Birmingham", "England", ("B1", "B15"), 1),
    ("Leeds", "England", ("LS1", "LS6"), 1),
    ("Bristol", "England", ("BS1", "BS8"), 1),
    ("Liverpool", "England", ("L1", "L17"), 1),
    ("Edinburgh", "Scotland", ("EH1", "EH3"), 1),
    ("Glasgow", "Scotland", ("G1", "G12"), 1),
    ("Cardiff", "Wales", ("CF10", "CF24"), 1),
)
STREET_NAMES = tuple(
    """Oak Maple Cedar Pine Elm Washington Lake Hill Park Main Church Highland Sunset Mill River
    Spring Valley Forest Meadow Lincoln Franklin Madison Willow Chestnut Walnut Ridge Harbor
    Grove""".split()
)
STREET_SUFFIXES = {
    "US": ("St", "Ave", "Blvd", "Rd", "Ln", "Dr", "Ct", "Way", "Pl"),
    "GB": ("Road", "Street", "Lane", "Avenue", "Close", "Gardens", "Crescent", "Terrace"),
}
UK_POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
US_PHONE_FORMATS = (
    "({area}) {exchange}-{line}",
    "{area}.{exchange}.{line}",
    "+1 {area} {exchange} {line}",
    "{area}-{exchange}-{line}",
    "+1{area}{exchange}{line}",
    "1-{area}-{exchange}-{line}",
)
UK_PHONE_FORMATS = ("0{head} {tail}", "+44 {head} {tail}", "+44{head}{tail}")

REGISTERED_SHARE = 0.60  # people with a shop account (a user_id) who log in in the window
LOYALTY_SHARE_US = 0.55  # in-store loyalty members; the loyalty programme is US-only

PICK_EMAIL_PATTERN = WeightedChoice(EMAIL_PATTERNS)
PICK_EMAIL_DOMAIN = {country: WeightedChoice(pairs) for country, pairs in EMAIL_DOMAINS.items()}


def ascii_letters(text: str) -> str:
    """`José O'Brien` → `joseobrien`: what survives into an email address."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(char for char in folded.lower() if "a" <= char <= "z")


class IdentifierSpace:
    """Identifiers handed out by person number, unique by construction.

    Each kind is an affine permutation of the person number (a multiplier near the golden
    ratio of the modulus and coprime to it, an offset from the seed), so no two people share
    an id, neighbours' ids look unrelated, and no set of issued ids is kept in memory.
    """

    def __init__(self, seed: int):
        offsets = random.Random(f"omnitrail-demo/{seed}/identifiers")
        self.offsets = {
            kind: offsets.randrange(10**9) for kind in ("user", "loyalty", "crm", "phone", "email")
        }

    def _scramble(self, number: int, kind: str, multiplier: int, modulus: int) -> int:
        return (number * multiplier + self.offsets[kind]) % modulus

    def user_id(self, number: int) -> str:
        return str(100_000_000 + self._scramble(number, "user", 556_231_217, 900_000_000))

    def loyalty_id(self, number: int) -> str:
        return f"LOY{self._scramble(number, 'loyalty', 618_033_989, 10**9):09d}"

    def crm_id(self, number: int, copy: int) -> str:
        return f"CRM-{self._scramble(2 * number + copy, 'crm', 381_966_011, 10**9):09d}"

    def phone_digits(self, number: int) -> int:
        """Seven digits, the first not 0 or 1, as a US exchange must start."""
        return 2_000_000 + self._scramble(number, "phone", 4_944_271, 8_000_000)

    def email_number(self, number: int) -> str:
        return str(self._scramble(number, "email", 6_180_339, 10**7))


@dataclass(frozen=True)
class Address:
    street: str
    city: str
    postal_code: str
    state: str
    country: str

    def as_traits(self) -> dict:
        return {
            "street": self.street,
            "city": self.city,
            "postal_code": self.postal_code,
            "state": self.state,
            "country": self.country,
        }


@dataclass
class Person:
    person_id: str
    first_name: str
    last_name: str
    email: str
    phone: str  # E.164
    shares_phone: bool  # gives the phone number when signing up online
    birthday: str
    address: Address
    utc_offset: int
    user_id: str | None
    loyalty_id: str | None
    devices: list[Device]
    home_ip: str
    activity: float  # how often they visit, relative to the average
    propensity: float  # how readily they buy, relative to the average

    @property
    def country(self) -> str:
        return self.address.country


def new_person(number: int, rng: random.Random, ids: IdentifierSpace) -> Person:
    country = "GB" if rng.random() < UK_SHARE else "US"
    first_name = rng.choice(FIRST_NAMES)
    last_name = rng.choice(LAST_NAMES)
    address, utc_offset, area_code = home_address(rng, country)
    born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(365 * 57))
    return Person(
        person_id=f"P{number:06d}",
        first_name=first_name,
        last_name=last_name,
        email=email_address(rng, first_name, last_name, ids.email_number(number), country),
        phone=phone_number(country, area_code, ids.phone_digits(number)),
        shares_phone=rng.random() < 0.5,
        birthday=born.isoformat(),
        address=address,
        utc_offset=utc_offset,
        user_id=ids.user_id(number) if rng.random() < REGISTERED_SHARE else None,
        loyalty_id=(
            ids.loyalty_id(number) if country == "US" and rng.random() < LOYALTY_SHARE_US else None
        ),
        devices=new_devices(rng, country),
        home_ip=ip_address(rng, HOME_NETWORKS[country]),
        activity=min(4.0, rng.lognormvariate(0.0, 0.6)),
        propensity=min(4.0, rng.lognormvariate(0.0, 0.5)),
    )


def home_address(rng: random.Random, country: str, *, city: tuple | None = None):
    """(address, UTC offset, phone area code) somewhere in `country`."""
    street = (
        f"{rng.randint(1, 4999)} {rng.choice(STREET_NAMES)} {rng.choice(STREET_SUFFIXES[country])}"
    )
    if country == "US":
        name, state, zip_prefix, area_codes, offset = city or rng.choice(US_CITIES)
        if rng.random() < 0.15:
            street += f" Apt {rng.randint(1, 30)}{rng.choice('ABCD')}"
        postal_code = f"{zip_prefix}{rng.randint(0, 99):02d}"
        return Address(street, name, postal_code, state, country), offset, rng.choice(area_codes)
    name, region, districts, offset = city or rng.choice(UK_CITIES)
    letters = rng.choice(UK_POSTCODE_LETTERS) + rng.choice(UK_POSTCODE_LETTERS)
    postal_code = f"{rng.choice(districts)} {rng.randint(1, 9)}{letters}"
    return Address(street, name, postal_code, region, country), offset, ""


def phone_number(country: str, area_code: str, digits: int) -> str:
    if country == "US":
        return f"+1{area_code}{digits}"
    # UK mobiles: 7, two digits, then seven.
    return f"+447{40 + digits % 60}{digits}"


def written_phone(phone: str, rng: random.Random) -> str:
    """The E.164 number as a person or a clerk would type it."""
    if phone.startswith("+1"):
        return rng.choice(US_PHONE_FORMATS).format(
            area=phone[2:5], exchange=phone[5:8], line=phone[8:12]
        )
    return rng.choice(UK_PHONE_FORMATS).format(head=phone[3:7], tail=phone[7:])


def email_address(rng: random.Random, first: str, last: str, number: str, country: str) -> str:
    """Usually the name plus a number; the number makes it unique to this person."""
    local = PICK_EMAIL_PATTERN.pick(rng).format(
        first=ascii_letters(first),
        last=ascii_letters(last),
        initial=ascii_letters(first)[:1],
        handle=rng.choice(EMAIL_HANDLES),
        n=number,
    )
    return f"{local}@{PICK_EMAIL_DOMAIN[country].pick(rng)}"
