"""The stores and what people buy there: in-store purchases from the tills (pos.csv)."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import TYPE_CHECKING

from cdp.site.demo.population.chance import new_uuid
from cdp.site.demo.population.clock import MINUTE, Clock
from cdp.site.demo.population.consents import POS_EMAIL_OPT_IN
from cdp.site.demo.population.shop import CURRENCY, PICK_PRODUCT, cart_value

if TYPE_CHECKING:
    from cdp.site.demo.population.people import Person

# (id, city, state): stores are in the US, where the loyalty programme runs.
STORES = (
    ("S001", "New York", "NY"),
    ("S002", "Brooklyn", "NY"),
    ("S003", "Boston", "MA"),
    ("S004", "Philadelphia", "PA"),
    ("S005", "Atlanta", "GA"),
    ("S006", "Chicago", "IL"),
    ("S007", "Austin", "TX"),
    ("S008", "Denver", "CO"),
    ("S009", "Seattle", "WA"),
    ("S010", "Portland", "OR"),
    ("S011", "San Francisco", "CA"),
    ("S012", "Los Angeles", "CA"),
)
STORE_HOURS = range(10, 20)  # local opening hours
STORE_VISITS_MEAN = 0.8  # per loyalty member
RECEIPT_BY_EMAIL_SHARE = 0.08  # non-members who shop in store and give an email for a receipt

STORES_BY_STATE = defaultdict(list)
for _store in STORES:
    STORES_BY_STATE[_store[2]].append(_store[0])


class StoreTrips:
    """One person's visits to a store: a part of PersonSimulation."""

    # Kept by PersonSimulation.
    person: Person
    rng: random.Random
    clock: Clock
    pos: list[tuple[int, list[str]]]
    registered_at: int | None
    pos_opt_in_asked: bool

    if TYPE_CHECKING:  # PersonSimulation's and ConsentChoices' own, used here

        def note(self, source: str, kind: str, value: str | None) -> None: ...
        def record_consent(
            self, t: int, purpose: str, status: str, source: str, *, user_id: str | None = None
        ) -> None: ...

    def store_trip(self, t: int) -> None:
        person, rng = self.person, self.rng
        loyalty_id = person.loyalty_id or ""
        email = person.email if not loyalty_id or rng.random() < 0.25 else ""
        registered = self.registered_at is not None and self.registered_at <= t
        # Members who show the app's barcode at the till are recognised by their account.
        user_id = (
            (person.user_id or "") if loyalty_id and registered and rng.random() < 0.15 else ""
        )
        stores = STORES_BY_STATE.get(person.address.state) or [store[0] for store in STORES]
        basket = [
            (PICK_PRODUCT.pick(rng), rng.choice((1, 1, 2))) for _ in range(rng.choice((1, 1, 2, 3)))
        ]
        self.pos.append(
            (
                t,
                [
                    new_uuid(rng),
                    self.clock.iso(t),
                    "Order Completed",
                    user_id,
                    loyalty_id,
                    email,
                    f"POS-{rng.getrandbits(52):016d}",
                    rng.choice(stores),
                    f"{cart_value(basket):.2f}",
                    CURRENCY,
                ],
            )
        )
        self.note("pos", "user_id", user_id)
        self.note("pos", "loyalty_id", loyalty_id)
        self.note("pos", "email", email)
        if loyalty_id and email and not person.user_id and not self.pos_opt_in_asked:
            self.pos_opt_in_asked = True
            if rng.random() < POS_EMAIL_OPT_IN:
                self.record_consent(t + MINUTE, "email_marketing", "granted", "pos", user_id="")
