"""The demo: a generated omnichannel population pushed through the real ingestion paths.

Web, app and email events go through the Segment HTTP endpoint (gzip batches of 100,
Basic-auth write keys), CRM records and POS purchases through `import_records`; the
figures printed are read back from the database.
"""

from __future__ import annotations

import base64
import csv
import gzip
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import orjson
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Count, Sum
from django.test import Client, override_settings

from attribution.engine.paths import pareto
from attribution.models import AttributionRun, Destination, Goal, Holdout, Segment
from attribution.segments.destinations import export_segment, sync_webhooks, verify_signature
from attribution.segments.rules import TEMPLATES
from attribution.segments.selectors import personas
from attribution.segments.services import (
    create_from_template,
    create_persona_segments,
    refresh_facts,
    refresh_segments,
    save_segment,
)
from attribution.selectors import credit_report
from attribution.selectors.reports import budget_report
from attribution.services import import_costs, refresh_attribution
from cdp.demo.population import SITE
from cdp.models import Profile, RejectedEvent, Touchpoint
from cdp.selectors import storage_summary
from cdp.services.imports import import_file
from cdp.services.sources import create_source
from consent.models import ConsentRecord, Purpose
from consent.policy import allowed_profiles
from consent.services import import_consents
from identity.engine.evaluation import PairwiseScores, pairwise_scores
from identity.engine.normalize import normalize_identifier
from identity.models import MatchRun
from identity.selectors import identifier_profiles, identity_summary
from identity.services.matching import full_run

HTTP_FILES = (
    ("web", "web", "web.ndjson"),
    ("app", "app", "app.ndjson"),
    ("email", "email", "email.ndjson"),
)
BATCH = 100


@dataclass
class DemoReport:
    http_batches: int = 0
    http_accepted: int = 0
    http_rejected: int = 0
    imported: dict[str, str] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    identity: dict = field(default_factory=dict)
    identity_scores: PairwiseScores | None = None  # after deterministic stitching
    consents: str = ""
    consent_allowed: dict[str, tuple[int, int]] = field(default_factory=dict)
    costs: str = ""
    attribution_run: AttributionRun | None = None
    credits: dict[str, dict[str, dict]] = field(default_factory=dict)
    match_run: MatchRun | None = None
    matched_scores: PairwiseScores | None = None  # after Splink too
    segments: list = field(default_factory=list)  # RefreshResult per segment
    personas: list = field(default_factory=list)
    exports: list = field(default_factory=list)  # Export rows
    webhook: dict = field(default_factory=dict)
    budget: list = field(default_factory=list)
    pages: list = field(default_factory=list)  # (path, status, milliseconds, tables, charts)
    page_login: tuple[str, str] | None = None  # (user name, password) to look at them


def _batches(path: Path) -> Iterator[list[dict]]:
    batch: list[dict] = []
    with path.open("rb") as lines:
        for line in lines:
            if line.strip():
                batch.append(orjson.loads(line))
            if len(batch) == BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def _post_batch(client: Client, write_key: str, events: list[dict]) -> dict:
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    response = client.post(
        "/v1/batch",
        gzip.compress(orjson.dumps({"batch": events})),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {token}",
        HTTP_CONTENT_ENCODING="gzip",
    )
    return response.json()


def run_demo(data_dir: Path, *, say: Callable[[str], None]) -> DemoReport:
    """Ingest the generated files in `data_dir` as each source would send them."""
    # The shop's own domain: a referrer there is the site itself, not a Referral.
    with override_settings(OMNITRAIL_OWN_DOMAINS=[urlsplit(SITE).hostname]):
        return _run_demo(data_dir, say=say)


def _run_demo(data_dir: Path, *, say: Callable[[str], None]) -> DemoReport:
    report = DemoReport()
    client = Client()
    for name, kind, filename in HTTP_FILES:
        _, write_key = create_source(name, kind=kind)
        for events in _batches(data_dir / filename):
            body = _post_batch(client, write_key, events)
            report.http_batches += 1
            report.http_accepted += body.get("accepted", 0)
            report.http_rejected += len(body.get("rejected", []))
        say(f"  sent {filename} to POST /v1/batch as source '{name}'")

    # One malformed event, as a buggy integration would send: it is kept with its reason.
    _, broken_key = create_source("legacy-widget", kind="other")
    body = _post_batch(client, broken_key, [{"type": "track", "userId": "u-unknown"}])
    report.http_rejected += len(body.get("rejected", []))

    pos, _ = create_source("pos", kind="pos")
    crm, _ = create_source("crm", kind="crm")
    for source, filename, kind, id_column in (
        (crm, "crm.csv", "records", "crm_id"),
        (pos, "pos.csv", "events", "id"),
    ):
        summary = import_file(source, data_dir / filename, kind=kind, id_column=id_column)
        report.imported[filename] = (
            f"{summary.rows} rows, {summary.accepted} stored, {len(summary.rejected)} rejected"
        )
        say(f"  imported {filename} ({kind}) as source '{source.name}'")
    # Consent choices from sign-ups, checkouts and the preference centre, by user id or email.
    platform, _ = create_source("consent-platform", kind="other")
    imported = import_consents(platform, data_dir / "consents.csv")
    report.consents = (
        f"{imported.rows} rows, {imported.recorded} stored, {len(imported.errors)} rejected"
    )
    say("  imported consents.csv as source 'consent-platform'")
    truth = data_dir / "ground_truth.csv"
    report.identity_scores = score_against_truth(truth)
    say("  matching profiles with Splink (full run: train, score, merge, queue reviews)")
    report.match_run = full_run()
    report.matched_scores = score_against_truth(truth)
    report.summary = storage_summary()
    report.identity = identity_summary()
    profiles = list(Profile.objects.filter(merged_into=None).values_list("pk", flat=True))
    for purpose in Purpose.objects.all():
        report.consent_allowed[purpose.key] = (
            len(allowed_profiles(purpose, profiles)),
            len(profiles),
        )
    # Ad costs, then attribution of the purchases over the channels by every model.
    costs = import_costs(data_dir / "ad_costs.csv")
    report.costs = f"{costs.rows} rows, {costs.stored} stored, {len(costs.errors)} rejected"
    say("  imported ad_costs.csv; attributing purchases with every model")
    # A holdout on email from the start of the data: its lift is measured in every run.
    first = Touchpoint.objects.order_by("timestamp").values_list("timestamp", flat=True).first()
    Holdout.objects.get_or_create(
        scope="channel",
        value="Email",
        goal=Goal.objects.get(key="purchase"),
        defaults={"percent": 10.0, "started_at": first},
    )
    refresh_facts()  # CLV by first-touch channel reads them
    run = refresh_attribution("purchase")
    report.attribution_run = run
    report.budget = budget_report(run, model="markov")
    for name in run.models_run:
        report.credits[name] = {
            row["channel"]: row for row in credit_report(run, model=name, group_by="channel")
        }
    say("  segments: profile facts, the built-in templates and personas, then every segment")
    run_segments(report, data_dir)
    say("  pages: every page under /app/, fetched as a signed-in identity steward")
    visit_pages(report)
    return report


def run_segments(report: DemoReport, data_dir: Path) -> None:
    """Facts, template and persona segments, two hand-made ones, a file export and a
    webhook to a local receiver, both for the consenting members only."""
    refresh_facts()
    for key in TEMPLATES:
        create_from_template(key)
    create_persona_segments()
    report.personas = personas()
    save_segment(
        name="Store buyers who never clicked an email",
        definition={
            "all": [
                {"channel": "In-store"},
                {"fact": "order_count", "op": "gte", "value": 1},
                {"not": {"event": "Email Link Clicked"}},
            ]
        },
    )
    high_value = save_segment(
        name="High CLV, SMS consent",
        definition={"fact": "clv", "op": "gte", "value": 500},
        purpose="sms_marketing",
    )
    report.segments = refresh_segments()
    ads = Destination.objects.create(
        name="Ad platform audience",
        kind="file",
        purpose=Purpose.objects.get(key="ad_user_data"),
        path=str(data_dir / "exports"),
    )
    champions = Segment.objects.get(template="rfm_champions")
    ads.segments.add(champions)
    report.exports = [export_segment(ads, champions)]
    report.webhook = _webhook_to_local_receiver(high_value)


def visit_pages(report: DemoReport) -> None:
    """Fetch every page under /app/ as a member of "Identity stewards" (every page and
    action but the admin), the way a browser would: what they show is what the runs
    stored. The user stays, with a fresh password, to look at them with runserver."""
    password = secrets.token_urlsafe(12)
    user = get_user_model().objects.create_user("demo", "demo@example.com", password)
    user.groups.add(Group.objects.get(name="Identity stewards"))
    report.page_login = ("demo", password)
    client = Client()
    client.force_login(user)
    customer = Profile.objects.filter(merged_into=None, traits__has_key="email").first()
    segment = Segment.objects.order_by("-size").first()
    paths = ["/app/", "/app/attribution/", "/app/journeys/", "/app/segments/"]
    if segment is not None:
        paths.append(f"/app/segments/{segment.pk}/")
    if customer is not None:
        paths += [
            f"/app/profiles/?{urlencode({'q': customer.traits['email']})}",
            f"/app/profiles/{customer.pk}/",
        ]
    paths.append("/app/identity/review/")
    for path in paths:
        started = time.perf_counter()
        response = client.get(path)
        milliseconds = (time.perf_counter() - started) * 1000
        html = response.content.decode()
        report.pages.append(
            (
                path,
                response.status_code,
                milliseconds,
                html.count("data-table="),
                html.count("data-chart="),
            )
        )


def _webhook_to_local_receiver(segment: Segment) -> dict:
    """Send the segment's entered events to a receiver on localhost and check the
    signature there, as a customer's endpoint would."""
    received: list[tuple[dict, bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hook = Destination.objects.create(
            name="SMS tool webhook",
            kind="webhook",
            purpose=Purpose.objects.get(key="sms_marketing"),
            url=f"http://127.0.0.1:{server.server_port}/omnitrail",
            secret=secrets.token_hex(16),
        )
        hook.segments.add(segment)
        with transaction.atomic():
            deliveries = sync_webhooks(segment)
    finally:
        server.shutdown()
    verified = sum(
        verify_signature(hook.secret, headers["X-Omnitrail-Signature"], body)
        for headers, body in received
    )
    events = sum(len(orjson.loads(body)["events"]) for _, body in received)
    left_out = deliveries[0].left_out_for_consent if deliveries else 0
    return {"batches": len(received), "events": events, "verified": verified, "left_out": left_out}


def score_against_truth(path: Path) -> PairwiseScores:
    """How well the profiles group the generated ids, by the generator's ground truth."""
    truth = {}
    with path.open(newline="") as rows:
        for row in csv.DictReader(rows):
            value = normalize_identifier(row["kind"], row["value"])
            if value is not None:
                truth[(row["kind"], value)] = row["person_id"]
    return pairwise_scores(identifier_profiles(), truth)


def print_report(report: DemoReport, *, say: Callable[[str], None]) -> None:
    summary = report.summary
    say("")
    say("== Ingestion ==")
    say(f"HTTP batches sent          {report.http_batches}")
    say(f"HTTP events accepted       {report.http_accepted}")
    say(f"HTTP events rejected       {report.http_rejected} (kept with their reason)")
    for filename, line in report.imported.items():
        say(f"{filename:<26} {line}")
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
    say("")
    say("== Identity ==")
    identity = report.identity
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
    run = report.match_run
    if run:
        say(f"splink records compared    {run.records}")
        if run.note:
            say(f"splink matched nothing     {run.note}")
        else:
            say(f"splink model               v{run.model.version}")
            say(f"splink pairs scored        {run.pairs_scored}")
            say(f"splink merges              {run.merges}")
            say(f"splink pairs to review     {run.reviews}")
            say(f"splink merges refused      {run.refused}")
    for label, scores in (
        ("stitching", report.identity_scores),
        ("with splink", report.matched_scores),
    ):
        if scores:
            say(
                f"{label} vs ground truth ({scores.items} ids): precision "
                f"{scores.precision:.3f}, recall {scores.recall:.3f}, F1 {scores.f1:.3f}"
            )
    say("")
    say("== Consent ==")
    say(f"consents.csv               {report.consents}")
    by_channel = ConsentRecord.objects.values_list("channel").annotate(n=Count("id"))
    for channel, count in sorted(by_channel):
        say(f"  records via {channel:<15} {count}")
    for purpose, (allowed, total) in report.consent_allowed.items():
        say(f"  {purpose:<24} may use {allowed} of {total} profiles")
    run = report.attribution_run
    if run is None:
        return
    say("")
    say(f"== Attribution (goal: {run.goal.event}, {run.goal.lookback_days}-day lookback) ==")
    say(f"ad_costs.csv               {report.costs}")
    say(f"journeys                   {run.journeys}")
    say(f"  converting               {run.conversions}")
    say(f"  conversion value         {run.value}")
    say(f"profiles left out for consent {run.profiles_left_out_for_consent}")
    models = list(report.credits)
    channels = {c for rows in report.credits.values() for c in rows}
    revenue = {
        c: max(report.credits[m].get(c, {}).get("revenue", 0) for m in models) for c in channels
    }
    order = sorted(channels, key=lambda c: (-revenue[c], c))
    say("revenue credited by channel and model:")
    say(f"  {'channel':<16}" + "".join(f"{m:>16}" for m in models))
    for channel in order:
        cells = "".join(
            f"{report.credits[m].get(channel, {}).get('revenue', 0):>16.2f}" for m in models
        )
        say(f"  {channel:<16}{cells}")
    say("cost and ROAS by channel (linear | markov):")
    for channel in order:
        linear, markov = (
            report.credits["linear"].get(channel),
            report.credits["markov"].get(channel),
        )
        if linear and linear["cost"]:
            say(
                f"  {channel:<16} cost {linear['cost']:>10.2f}   ROAS {linear['roas']:>6.2f} | "
                f"{markov['roas'] if markov and markov['roas'] is not None else 0:>6.2f}"
            )
    summary = run.summary
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
    say("funnel (profiles reaching each stage, from the stage before):")
    for row in summary.get("funnel", []):
        rate = f"{row['conversion_rate']:.1%}" if row["conversion_rate"] is not None else ""
        say(f"  {row['stage']:<14} {row['profiles']:>6}  {rate:>6}")
    say("CLV by first-touch channel (top 5):")
    for row in summary.get("clv_by_first_touch", [])[:5]:
        say(f"  {row['channel']:<16} {row['customers']:>5} customers, CLV {row['clv']:>8.2f}")
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
    if report.budget:
        say("budget advice (markov, next period, at most ±6 points of share per channel):")
        for row in report.budget:
            say(
                f"  {row['channel']:<16} {row['current_share']:>6.1%} -> "
                f"{row['proposed_share']:>6.1%} ({row['change_points']:+.1f} pts), marginal "
                f"ROAS {row['marginal_roas'] or 0:.2f}, effect {row['expected_effect']:+.2f}"
            )
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
    if report.pages:
        say("")
        say("== Pages (as a member of Identity stewards) ==")
        for path, status, milliseconds, tables, charts in report.pages:
            say(f"  {path:<44} {status}  {milliseconds:>5.0f} ms  {tables} tables, {charts} charts")
        user, password = report.page_login
        say(
            "look at them: `python manage.py runserver`, open http://127.0.0.1:8000/app/ and "
            f"sign in as {user} / {password}"
        )
