"""One number format and one colour per channel on every page: the filters on their own."""

import pytest
from django.template import Context, Template

from attribution.engine.channels import DEFAULT_RULES
from cdp import formatting


def render(text: str, **context) -> str:
    return Template("{% load omnitrail %}" + text).render(Context(context))


def test_money_has_a_currency_and_grouping():
    assert formatting.money(305575.29) == "$305,575.29"
    assert formatting.money(305575.29, "EUR") == "€305,575.29"
    assert render("{{ v|money:'GBP' }}", v=1234.5) == "£1,234.50"
    assert formatting.money(None) == "—"


def test_a_locale_setting_changes_grouping_and_symbols(settings):
    settings.OMNITRAIL_NUMBER_LOCALE = "de_DE"
    settings.OMNITRAIL_CURRENCY = "EUR"
    assert formatting.money(305575.29) == "305.575,29\xa0€"
    assert formatting.count(1327) == "1.327"


def test_counts_are_whole_credits_one_decimal_ratios_and_rates_two():
    assert formatting.count(1327.0) == "1,327"
    assert render("{{ v|count }}", v=2000) == "2,000"
    assert formatting.credit(346.0001) == "346.0"
    assert formatting.credit(9.6346) == "9.6"
    assert formatting.ratio(74.6851) == "74.69"
    assert formatting.rate(0.1234) == "12.34%"


def test_nothing_spent_is_a_dash_not_zero():
    assert formatting.cost(0.0) == "—"
    assert formatting.cost(None) == "—"
    assert formatting.cost(12.5) == "$12.50"
    assert formatting.ratio(None) == "—"
    assert formatting.ratio(float("inf")) == "—"
    assert render("{{ v|cost }}", v=0) == "—"


@pytest.mark.parametrize(
    ("days", "shown"),
    [(0.193, "4.6 hours"), (0.02, "29 minutes"), (3.2, "3.2 days"), (1.5, "36.0 hours")],
)
def test_durations_read_in_minutes_hours_or_days(days, shown):
    assert formatting.duration_days(days) == shown  # 0.193 days = 4.632 hours


def test_table_cells_follow_their_column():
    assert formatting.table_cell(305575.29, "Revenue") == "$305,575.29"
    assert formatting.table_cell(0.0, "Cost") == "—"
    assert formatting.table_cell(74.6851, "ROAS") == "74.69"
    assert formatting.table_cell(346.0001, "Conversions (linear)") == "346.0"
    assert formatting.table_cell(1327, "Touchpoints") == "1,327"
    assert formatting.table_cell(1327, "Conversions") == "1,327"  # counted, not credited
    assert formatting.table_cell("Email", "Channel") == "Email"
    assert formatting.table_cell(61.2563, "Share of revenue (%)") == "61.26%"
    # A column named for a model, not for what it holds: two decimals, nothing lost.
    assert formatting.table_cell(2281.95, "Markov chain (data-driven)") == "2,281.95"


def test_every_channel_has_its_own_colour_the_same_everywhere():
    channels = list(dict.fromkeys(rule["channel"] for rule in DEFAULT_RULES)) + ["Unassigned"]
    colours = [formatting.channel_colour(c) for c in channels]
    assert len(set(colours)) == len(channels)  # Push and In-store differ, and all others
    assert formatting.channel_colour("Push") != formatting.channel_colour("In-store")
    assert formatting.channel_colour("Email") == "#ef6c00"
    # A channel of the channel rules staff added: from its name, the same in every run.
    assert formatting.channel_colour("Podcasts") == formatting.channel_colour("Podcasts")
    assert formatting.channel_colour("Podcasts") in formatting.SPARE_COLOURS
    assert render("{{ c|channel_colour }}", c="SMS") == "#6a1b9a"
