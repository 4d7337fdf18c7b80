"""Writing a whole population: one seeded simulation per person, then the ad costs."""

from __future__ import annotations

import datetime as dt
import pathlib
import random

from cdp.errors import InvalidField
from cdp.site.demo.population.chance import new_uuid
from cdp.site.demo.population.clock import Clock
from cdp.site.demo.population.costs import CampaignLedger, ad_cost_rows
from cdp.site.demo.population.crm import crm_records
from cdp.site.demo.population.devices import web_device
from cdp.site.demo.population.files import AD_COSTS_FILE, PopulationFiles
from cdp.site.demo.population.people import IdentifierSpace, ascii_letters, new_person
from cdp.site.demo.population.shop import SHOP_NAME, SITE_PAGES, WEB_LIBRARY, page_url
from cdp.site.demo.population.simulation import PersonSimulation

# People who signed up again on a second browser of their own (a work laptop), with the
# same name, birthday and postcode but another email and no account: no key ties it.
SECOND_DEVICE_RATE = 0.08


def second_device_signup(simulation: PersonSimulation, rng: random.Random) -> None:
    """Maybe add that sign-up (an identify from a new browser) to the person's web
    events; on its own random stream, so the rest of the population is unchanged."""
    person = simulation.person
    if rng.random() >= SECOND_DEVICE_RATE:
        return
    device = web_device(rng)
    t = rng.randrange(simulation.clock.end)
    local = ascii_letters(person.first_name)[:1] + ascii_letters(person.last_name)
    message = {
        "type": "identify",
        "messageId": new_uuid(rng),
        "anonymousId": device.anonymous_id,
        "timestamp": simulation.clock.iso(t),
        "context": {
            "ip": person.home_ip,
            "library": WEB_LIBRARY,
            "locale": "en-US" if person.country == "US" else "en-GB",
            "page": {
                "path": "/account/login",
                "referrer": "",
                "search": "",
                "title": f"{SITE_PAGES['/account/login'][1]} | {SHOP_NAME}",
                "url": page_url("/account/login"),
            },
            "userAgent": device.user_agent,
        },
        "traits": {
            "first_name": person.first_name,
            "last_name": person.last_name,
            "email": f"{local}.{rng.randrange(10**6)}@work.example",
            "birthday": person.birthday,
            "postal_code": person.address.postal_code,
            "city": person.address.city,
        },
    }
    simulation.record_message("web", t, message, device)
    simulation.web.sort(key=lambda row: row[0])


def default_start(days: int, *, today: dt.date | None = None) -> dt.date:
    """The start that makes the window end today (its last day is yesterday, UTC), so
    that every time-window segment ("last 7 days") has members on a fresh demo."""
    today = today or dt.datetime.now(dt.UTC).date()
    return today - dt.timedelta(days=days)


# Phone numbers are the smallest id space handed out by person number (see IdentifierSpace).
MAX_CUSTOMERS = 8_000_000


def generate_population(
    customers: int,
    seed: int,
    out_dir: pathlib.Path,
    *,
    start: dt.date | None = None,
    days: int = 90,
) -> dict:
    """Write the population's files into `out_dir`; return the rows written per file.

    Timestamps fall in [start, start + days) UTC; by default the window ends today
    (`default_start`).
    """
    if not 1 <= customers <= MAX_CUSTOMERS:
        raise InvalidField(f"must be between 1 and {MAX_CUSTOMERS:,}", field="customers")
    if days < 1:
        raise InvalidField("must be at least 1", field="days")
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clock = Clock(start or default_start(days), days)
    ids = IdentifierSpace(seed)
    ledger = CampaignLedger()
    with PopulationFiles(out_dir) as files:
        for number in range(1, customers + 1):
            rng = random.Random(f"omnitrail-demo/{seed}/person/{number}")
            person = new_person(number, rng, ids)
            simulation = PersonSimulation(
                person, rng, clock, ledger, crm_records(person, rng, ids, number)
            )
            simulation.run()
            second_device_signup(
                simulation, random.Random(f"omnitrail-demo/{seed}/device/{number}")
            )
            files.write_person(simulation)
        files.write_rows(
            AD_COSTS_FILE,
            ad_cost_rows(ledger, clock, random.Random(f"omnitrail-demo/{seed}/ad-costs")),
        )
    return dict(files.counts)
