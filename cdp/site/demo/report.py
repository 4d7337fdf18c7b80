"""What the demo prints: the figures it stored, read back from the database, one section
(ingestion, storage, identity, consent, attribution, segments, pages) per function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Count, Sum

from attribution.engine.paths import pareto
from attribution.models import AttributionRun
from attribution.selectors.performance import channel_performance
from attribution.selectors.reports import compare_report
from cdp.models import RejectedEvent, Touchpoint
from cdp.site.demo.run import DemoReport
from cdp.site.demo.tracking_plan import say_tracking_plan
from consent.models import ConsentRecord

Say = Callable[[str], None]


def print_report(report: DemoReport, *, say: Say) -> None:
    say_ingestion(report, say)
    say_tracking_plan(report.tracking_plan, say)
    say_stored(report, say)
    say_identity(report, say)
    say_consent(report, say)
    if report.attribution_run is None:
        return
    say_attribution(report, report.attribution_run, say)
    say_segments(report, say)
    say_pages(report, say)


def say_ingestion(report: DemoReport, say: Say) -> None:
    say("")
    say("== Ingestion ==")
    say(f"HTTP batches sent          {report.http_batches}")
    say(f"HTTP events accepted       {report.http_accepted}")
    say(f"HTTP events rejected       {report.http_rejected} (kept with their reason)")
    for filename, line in report.imported.items():
        say(f"{filename:<26} {line}")


def say_stored(report: DemoReport, say: Say) -> None:
    summary = report.summary
    say("")
    say("== Stored ==")
    say(f"touchpoints                {summary['touchpoints']}")
    for name, count in sorted(summary["touchpoints_by_source"].items()):
        say(f"  from {name:<21} {count}")
    for kind, count in sorted(summary["touchpoints_by_type"].items()):
        say(f"  {kind:<25} {count}")
    say(f"rejected events kept       {summary['rejected_events']}")
    for code, count in RejectedEvent.objects.values_list("code").annotate(n=Count("id")):
        say(f"  {code:<25} {count}")
    orders = Touchpoint.objects.filter(event="Order Completed").aggregate(
        n=Count("id"), revenue=Sum("revenue")
    )
    say(f"orders                     {orders['n']} worth {orders['revenue'] or 0:.2f}")
    say("visits by utm_medium:")
    mediums = (
        Touchpoint.objects.filter(type="page")
        .values_list("utm_medium")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    for medium, count in mediums:
        say(f"  {medium or '(none)':<25} {count}")


def say_identity(report: DemoReport, say: Say) -> None:
    summary, identity = report.summary, report.identity
    say("")
    say("== Identity ==")
    say(f"profiles                   {summary['profiles']}")
    say(f"profiles merged away       {summary['profiles_merged_away']}")
    say(f"touchpoints unresolved     {summary['unresolved_touchpoints']}")
    for kind, count in sorted(identity["identifiers_by_kind"].items()):
        say(f"  {kind + ' identifiers':<25} {count}")
    for method, count in sorted(identity["merges_by_method"].items()):
        say(f"merges by {method:<17} {count}")
    for reason, count in sorted(identity["refusals_by_reason"].items()):
        say(f"joins refused: {reason:<12} {count}")
    say(f"identifiers quarantined    {identity['quarantined_identifiers']}")
    say_splink_run(report, say)
    for label, scores in (
        ("stitching", report.identity_scores),
        ("with splink", report.matched_scores),
    ):
        if scores:
            say(
                f"{label} vs ground truth ({scores.items} ids): precision "
                f"{scores.precision:.3f}, recall {scores.recall:.3f}, F1 {scores.f1:.3f}"
            )


def say_splink_run(report: DemoReport, say: Say) -> None:
    run = report.match_run
    if not run:
        return
    say(f"splink records compared    {run.records}")
    if run.note:
        say(f"splink matched nothing     {run.note}")
    else:
        say(f"splink model               v{run.model.version if run.model else '?'}")
        say(f"splink pairs scored        {run.pairs_scored}")
        say(f"splink merges              {run.merges}")
        say(f"splink pairs to review     {run.reviews}")
        say(f"splink merges refused      {run.refused}")


def say_consent(report: DemoReport, say: Say) -> None:
    say("")
    say("== Consent ==")
    say(f"consents.csv               {report.consents}")
    by_channel = ConsentRecord.objects.values_list("channel").annotate(n=Count("id"))
    for channel, count in sorted(by_channel):
        say(f"  records via {channel:<15} {count}")
    for purpose, (allowed, total) in report.consent_allowed.items():
        say(f"  {purpose:<24} may use {allowed} of {total} profiles")


# --- attribution ------------------------------------------------------------------------


def say_attribution(report: DemoReport, run: AttributionRun, say: Say) -> None:
    say("")
    say(f"== Attribution (goal: {run.goal.event}, {run.goal.lookback_days}-day lookback) ==")
    say(f"ad_costs.csv               {report.costs}")
    say(f"journeys                   {run.journeys}")
    say(f"  converting               {run.conversions}")
    say(f"  conversion value         {run.value}")
    say(f"profiles left out for consent {run.profiles_left_out_for_consent}")
    channels = channels_by_revenue(report)
    say_credits(report, channels, say)
    say_costs(report, channels, say)
    say_paths(report, run.summary, say)
    say_funnel_and_clv(run.summary, say)
    say_holdouts(run.summary, say)
    say_budget(report, say)
    say_return_on_spend(run, say)
    say_channel_performance(run, say)


def channels_by_revenue(report: DemoReport) -> list[str]:
    """The channels, those credited the most revenue (by any model) first."""
    models = list(report.credits)
    channels = {c for rows in report.credits.values() for c in rows}
    revenue = {
        c: max(report.credits[m].get(c, {}).get("revenue", 0) for m in models) for c in channels
    }
    return sorted(channels, key=lambda c: (-revenue[c], c))


def say_credits(report: DemoReport, channels: list[str], say: Say) -> None:
    models = list(report.credits)
    say("revenue credited by channel and model:")
    say(f"  {'channel':<16}" + "".join(f"{m:>16}" for m in models))
    for channel in channels:
        cells = "".join(
            f"{report.credits[m].get(channel, {}).get('revenue', 0):>16.2f}" for m in models
        )
        say(f"  {channel:<16}{cells}")


def say_costs(report: DemoReport, channels: list[str], say: Say) -> None:
    say("cost and ROAS by channel (linear | markov):")
    for channel in channels:
        linear, markov = (
            report.credits["linear"].get(channel),
            report.credits["markov"].get(channel),
        )
        if linear and linear["cost"]:
            say(
                f"  {channel:<16} cost {linear['cost']:>10.2f}   ROAS {linear['roas']:>6.2f} | "
                f"{markov['roas'] if markov and markov['roas'] is not None else 0:>6.2f}"
            )


def say_paths(report: DemoReport, summary: dict[str, Any], say: Say) -> None:
    say("top conversion paths:")
    for row in summary["top_paths"][:3]:
        say(f"  {row['conversions']:>4} conversions, {row['value']:>10.2f}  {row['path']}")
    say(f"mean path length           {summary['path_lengths']['mean']} touches")
    say(f"median time to convert     {summary['time_to_convert']['median_days']} days")
    view = pareto([row for row in report.credits["linear"].values() if row["revenue"] > 0])
    say(
        f"Pareto (linear)            {view['rows_for_share']} of {len(view['rows'])} "
        "channels bring 80% of revenue"
    )
    say("channel pairs (markov), by revenue of the journeys with both:")
    for row in summary.get("channel_pairs", {}).get("markov", [])[:3]:
        roas = f"{row['roas']:.2f}" if row["roas"] is not None else "-"
        say(
            f"  {' + '.join(row['channels']):<32} {row['journeys']:>5} journeys, conversion "
            f"rate {row['conversion_rate']:.1%}, credited {row['credited_revenue']:>9.2f}, "
            f"ROAS {roas}"
        )


def say_funnel_and_clv(summary: dict, say: Say) -> None:
    say("funnel (profiles reaching each stage, from the stage before):")
    for row in summary.get("funnel", []):
        rate = f"{row['conversion_rate']:.1%}" if row["conversion_rate"] is not None else ""
        say(f"  {row['stage']:<14} {row['profiles']:>6}  {rate:>6}")
    say("CLV by first-touch channel (top 5):")
    for row in summary.get("clv_by_first_touch", [])[:5]:
        say(f"  {row['channel']:<16} {row['customers']:>5} customers, CLV {row['clv']:>8.2f}")


def say_holdouts(summary: dict, say: Say) -> None:
    for row in summary.get("holdouts", []):
        if "relative_lift" in row:
            lift = row["relative_lift"]
            low, high = row["relative_lift_low"], row["relative_lift_high"]
            say(
                f"holdout {row['holdout']} ({row['percent']:g}%): exposed "
                f"{row['exposed_rate']:.2%} of {row['exposed_profiles']} vs held out "
                f"{row['holdout_rate']:.2%} of {row['holdout_profiles']}; lift "
                + (f"{lift:+.1%} [{low:+.1%}, {high:+.1%}]" if lift is not None else "n/a")
                + f"; markov credits {row.get('markov_credited_conversions', 0)} conversions"
            )


def say_budget(report: DemoReport, say: Say) -> None:
    if not report.budget:
        return
    say("budget advice (markov, next period, at most ±6 points of share per channel):")
    for row in report.budget:
        say(
            f"  {row['channel']:<16} {row['current_share']:>6.1%} -> "
            f"{row['proposed_share']:>6.1%} ({row['change_points']:+.1f} pts), marginal "
            f"ROAS {row['marginal_roas'] or 0:.2f}, effect {row['expected_effect']:+.2f}"
        )


def say_return_on_spend(run: AttributionRun, say: Say) -> None:
    """Paid ROAS and blended MER, and markov against last touch per channel (GA4's
    model comparison)."""
    compared = compare_report(run, model="markov", compare="last_touch")
    for side, name in (("first", "markov"), ("second", "last_touch")):
        ros = compared["return_on_spend"][side]
        paid = f"{ros['paid_roas']:.2f}" if ros["paid_roas"] is not None else "-"
        mer = f"{ros['mer']:.2f}" if ros["mer"] is not None else "-"
        say(
            f"return on spend ({name}): paid ROAS {paid} (paid revenue "
            f"{ros['paid_revenue']:.2f} / cost {ros['paid_cost']:.2f}), blended MER {mer} "
            f"(all revenue {ros['revenue']:.2f} / all cost)"
        )
    say("model comparison, markov -> last touch (conversions, revenue, % change):")
    for row in compared["rows"][:6]:
        change = row["revenue_change_percent"]
        say(
            f"  {row['channel']:<16} {row['conversions_first']:>8.1f} -> "
            f"{row['conversions_second']:>8.1f}   {row['revenue_first']:>10.2f} -> "
            f"{row['revenue_second']:>10.2f}   "
            + (f"{change:+.1f}%" if change is not None else "-")
        )


def say_channel_performance(run: AttributionRun, say: Say) -> None:
    """The monthly report's PPC, email, social and search sections over the whole run."""
    performance = channel_performance(run, model="linear")
    if not performance["months"]:
        return
    sections = performance["sections"]
    say(f"PPC ({performance['start']} to {performance['end']}, linear):")
    for row in sections["ppc"][:6]:
        say(
            f"  {row['channel']:<13} {row['campaign'] or '(none)':<22} reach {row['reach']:>5} "
            f"freq {row['frequency'] or 0:>4.1f} impr {row['impressions']:>8} clicks "
            f"{row['clicks']:>6} CTR {(row['ctr'] or 0):>6.2%} CPC {row['cpc'] or 0:>5.2f} "
            f"CPM {row['cpm'] or 0:>6.2f} post-click conv {row['post_click_conversions']:>4} "
            f"CPA {row['cpa'] or 0:>7.2f}"
        )
    say("email campaigns:")
    for row in sections["email"]:
        say(
            f"  {row['campaign']:<22} delivered {row['delivered']:>6} open "
            f"{(row['open_rate'] or 0):>6.1%} click {(row['click_rate'] or 0):>6.1%} "
            f"unsubscribed {row['unsubscribed']:>4} bounced {row['bounced']:>4} "
            f"({(row['bounce_rate'] or 0):.1%}) conversions {row['conversions']:>6.1f} "
            f"revenue {row['revenue']:>9.2f}"
        )
    for name in ("social", "search"):
        say(f"{name}:")
        for row in sections[name]:
            say(
                f"  {row['channel']:<16} visits {row['sessions']:>6} engaged "
                f"{row['engaged_sessions']:>6} conversions {row['conversions']:>7.1f} "
                f"revenue {row['revenue']:>10.2f}"
            )


# --- segments and pages -----------------------------------------------------------------


def say_segments(report: DemoReport, say: Say) -> None:
    say("")
    say("== Segments ==")
    for result in report.segments:
        say(
            f"  {result.segment:<40} {result.size:>6} members"
            + (
                f" ({result.left_out_for_consent} left out for consent)"
                if result.left_out_for_consent
                else ""
            )
        )
    for persona in report.personas:
        say(f"  persona {persona['label']}: {persona['description']}")
    for export in report.exports:
        say(
            f"export to '{export.destination.name}': {export.rows} profiles of "
            f"'{export.segment.name}', {export.left_out_for_consent} left out for consent "
            f"({export.path})"
        )
    hook = report.webhook
    if hook:
        say(
            f"webhook: {hook['events']} entered events in {hook['batches']} signed batches "
            f"({hook['verified']} signatures verified by the receiver), "
            f"{hook['left_out']} members left out for consent"
        )


def say_pages(report: DemoReport, say: Say) -> None:
    if not report.pages or report.page_login is None:
        return
    say("")
    say("== Pages (as a member of Identity stewards) ==")
    for path, status, milliseconds, tables, charts in report.pages:
        say(f"  {path:<44} {status}  {milliseconds:>5.0f} ms  {tables} tables, {charts} charts")
    user, password = report.page_login
    say(
        "look at them: `python manage.py runserver`, open http://127.0.0.1:8000/app/ and "
        f"sign in as {user} / {password}"
    )
