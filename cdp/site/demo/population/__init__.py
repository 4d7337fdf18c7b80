"""A seeded, synthetic omnichannel customer population, written as the files a brand feeds a CDP.

The demo, the tests and the benchmarks need data whose answers are known: website and app
tracking (Segment spec), email platform events, in-store purchases, CRM records with the
noise real CRMs have, consent records and daily ad costs, plus `ground_truth.csv`, which says
which person every identifier belongs to, so identity resolution can be scored and
attribution checked against a known channel mix.

The same seed writes byte-identical files. Each person is simulated on their own random
stream and written as soon as they are finished, so memory does not grow with the number of
customers. Rows are therefore grouped by person and in time order within a person, not
across people. Pure Python, no Django.

One module per concern: `people` and `devices` (who shops, on what), `shop` (products,
pages), `traffic` (where a visit comes from), `sessions` (website visits and app sessions:
web.ndjson, app.ndjson), `emails` (email.ndjson), `stores` (pos.csv), `crm` (crm.csv),
`consents` (consents.csv), `costs` (ad_costs.csv), `files` (the eight files and
ground_truth.csv), `simulation` (one person's window, in time order) and `generate` (the
whole population). `chance` and `clock` are the seeded draws and the window's time.
"""

from cdp.site.demo.population.files import (
    AD_COSTS_FILE,
    APP_FILE,
    CONSENTS_FILE,
    CRM_FILE,
    CSV_COLUMNS,
    EMAIL_FILE,
    FILES,
    GROUND_TRUTH_FILE,
    POS_FILE,
    TRACKED,
    WEB_FILE,
    tracked_in_time_order,
)
from cdp.site.demo.population.generate import generate_population
from cdp.site.demo.population.shop import SITE

__all__ = [
    "AD_COSTS_FILE",
    "APP_FILE",
    "CONSENTS_FILE",
    "CRM_FILE",
    "CSV_COLUMNS",
    "EMAIL_FILE",
    "FILES",
    "GROUND_TRUTH_FILE",
    "POS_FILE",
    "SITE",
    "TRACKED",
    "WEB_FILE",
    "generate_population",
    "tracked_in_time_order",
]
