"""The demo: a generated omnichannel population pushed through the real ingestion paths.

Web, app and email events go through the Segment HTTP endpoint (gzip batches of 100,
Basic-auth write keys), CRM records and POS purchases through `import_records`; the
figures printed (cdp.site.demo.report) are read back from the database.
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
from django.test import Client, override_settings

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
from cdp.models import Profile, Touchpoint
from cdp.selectors import storage_summary
from cdp.services.imports import import_file
from cdp.services.sources import create_source
from cdp.site.demo.population import SITE
from cdp.site.demo.tracking_plan import run_tracking_plan
from consent.models import Purpose
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
    tracking_plan: dict = field(default_factory=dict)  # cdp.site.demo.tracking_plan


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
    write_keys = {}
    for name, kind, filename in HTTP_FILES:
        _, write_keys[name] = create_source(name, kind=kind)
        for events in _batches(data_dir / filename):
            body = _post_batch(client, write_keys[name], events)
            report.http_batches += 1
            report.http_accepted += body.get("accepted", 0)
            report.http_rejected += len(body.get("rejected", []))
        say(f"  sent {filename} to POST /v1/batch as source '{name}'")
    say("  tracking plan: inferred from 'web', saved in flag mode, a drifted batch sent")
    report.tracking_plan = run_tracking_plan(client, write_keys["web"])

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
    if first is None:
        raise ValueError("the demo data holds no touchpoints: nothing to hold out from")
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
        path="demo",  # inside OMNITRAIL_EXPORT_DIR
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
    paths.append("/app/tracking-plans/")
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
    truth: dict[tuple[str, str], str] = {}
    with path.open(newline="") as rows:
        for row in csv.DictReader(rows):
            value = normalize_identifier(row["kind"], row["value"])
            if value is not None:
                truth[(row["kind"], value)] = row["person_id"]
    return pairwise_scores(identifier_profiles(), truth)
