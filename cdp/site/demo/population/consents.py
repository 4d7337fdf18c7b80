"""Consent: the purposes, what people choose when and where (consents.csv)."""

from __future__ import annotations

import bisect
import random
from typing import TYPE_CHECKING

from cdp.site.demo.population.clock import DAY, Clock

if TYPE_CHECKING:
    from cdp.site.demo.population.people import Person

PURPOSES = (
    "analytics",
    "personalization",
    "ad_user_data",
    "ad_personalization",
    "email_marketing",
    "sms_marketing",
)
# Share of people granting each purpose when they sign up (the rest deny).
SIGNUP_GRANT_RATES = {
    "analytics": 0.88,
    "personalization": 0.72,
    "ad_user_data": 0.52,
    "ad_personalization": 0.85,  # of those who granted ad_user_data; nobody else can
    "email_marketing": 0.62,
    "sms_marketing": 0.2,
}
PREFERENCE_CENTER_WITHDRAWALS = {
    "analytics": 0.03,
    "personalization": 0.04,
    "ad_user_data": 0.06,
    "ad_personalization": 0.08,
}
CHECKOUT_EMAIL_OPT_IN = 0.15  # subscribers who first said no, ticking the box at checkout
POS_EMAIL_OPT_IN = 0.4  # loyalty members without an account, asked at the till


class ConsentChoices:
    """One person's consent over time: a part of PersonSimulation."""

    # Kept by PersonSimulation.
    person: Person
    rng: random.Random
    clock: Clock
    consents: list[tuple[int, list[str]]]
    consent_history: dict[str, list[tuple[int, str]]]

    def consented(self, purpose: str, t: int) -> bool:
        history = self.consent_history[purpose]
        at = bisect.bisect_right(history, (t, "~"))
        return at > 0 and history[at - 1][1] == "granted"

    def record_consent(self, t: int, purpose: str, status: str, source: str, *, user_id=None):
        if t >= self.clock.end:
            return
        bisect.insort(self.consent_history[purpose], (t, status))
        user_id = self.person.user_id if user_id is None else user_id
        row = [self.clock.iso(t), user_id, self.person.email, purpose, status, source]
        self.consents.append((t, row))

    def record_signup_consents(self, t: int, source: str) -> None:
        rng = self.rng
        for offset, purpose in enumerate(PURPOSES):
            granted = rng.random() < SIGNUP_GRANT_RATES[purpose]
            if purpose == "ad_personalization":
                granted = granted and self.consented("ad_user_data", t + offset)
            self.record_consent(t + offset, purpose, "granted" if granted else "denied", source)
            withdrawal_rate = PREFERENCE_CENTER_WITHDRAWALS.get(purpose, 0.0)
            if granted and rng.random() < withdrawal_rate:
                later = t + rng.randint(DAY, max(DAY, self.clock.end - t))
                self.record_consent(later, purpose, "withdrawn", "preference_center")
