"""Writing a whole population: one seeded simulation per person, then the ad costs."""

from __future__ import annotations

import datetime as dt
import pathlib
import random

from cdp.errors import InvalidField
from cdp.site.demo.population.clock import Clock
from cdp.site.demo.population.costs import CampaignLedger, ad_cost_rows
from cdp.site.demo.population.crm import crm_records
from cdp.site.demo.population.files import AD_COSTS_FILE, PopulationFiles
from cdp.site.demo.population.people import IdentifierSpace, new_person
from cdp.site.demo.population.simulation import PersonSimulation

DEFAULT_START = dt.date(2026, 8, 1)
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

    Timestamps fall in [start, start + days) UTC (start defaults to 2026-08-01).
    """
    if not 1 <= customers <= MAX_CUSTOMERS:
        raise InvalidField(f"must be between 1 and {MAX_CUSTOMERS:,}", field="customers")
    if days < 1:
        raise InvalidField("must be at least 1", field="days")
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clock = Clock(start or DEFAULT_START, days)
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
            files.write_person(simulation)
        files.write_rows(
            AD_COSTS_FILE,
            ad_cost_rows(ledger, clock, random.Random(f"omnitrail-demo/{seed}/ad-costs")),
        )
    return dict(files.counts)
