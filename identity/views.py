"""The identity review queue under /app/: the borderline Splink pairs side by side, field
by field, and a one-click decision on each.

The pairs show personal data (names, emails, addresses), so the queue needs the
personal-data permission besides the one to decide, and every page of it is audited.
"""

from __future__ import annotations

import math

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from cdp.audit import record_access
from cdp.models import AuditEntry, Profile
from cdp.pages import VIEW_PERSONAL_DATA, Link, Table, page_permission, render_page
from identity.engine.matching.columns import COMPARED_TRAITS
from identity.models import MatchReview
from identity.selectors import active_profiles, queued_reviews, reviews_in_status
from identity.services.merging import MergeRefused
from identity.services.reviews import accept_review, reject_review

DECIDE = "identity.change_matchreview"
PAGE_SIZE = 10


def comparison_order(comparisons) -> list[str]:
    """The comparisons in the model's order; any others after them, alphabetically."""
    known = list(COMPARED_TRAITS)
    return sorted(set(comparisons), key=lambda c: (known.index(c) if c in known else len(known), c))


def match_weight(probability: float) -> float | None:
    """Splink's match weight: log2 of the odds the probability stands for."""
    if not 0 < probability < 1:
        return None
    return math.log2(probability / (1 - probability))


def level_class(label: str) -> str:
    """How strongly a comparison level speaks for a match, for the page's colours."""
    if label == "Missing":
        return "missing"
    if label == "Different":
        return "disagree"
    if label.startswith("Exact match"):
        return "agree"
    return "partial"


def _compared(review: MatchReview, left: Profile | None, right: Profile | None) -> list[dict]:
    """Field by field: what each profile holds now and the level Splink found."""
    rows = []
    levels = review.levels if isinstance(review.levels, dict) else {}
    for comparison in comparison_order(levels):
        label = levels[comparison]
        traits = COMPARED_TRAITS.get(comparison, (comparison,))

        def value(profile: Profile | None, traits=traits) -> str:
            held = (profile.traits or {}) if profile else {}
            return ", ".join(str(held[t]) for t in traits if held.get(t) not in (None, ""))

        rows.append(
            {
                "field": comparison.replace("_", " "),
                "left": value(left),
                "right": value(right),
                "level": label,
                "strength": level_class(str(label)),
            }
        )
    return rows


@page_permission(DECIDE, VIEW_PERSONAL_DATA)
@require_GET
def review_queue(request: HttpRequest) -> HttpResponse:
    """The pairs waiting for a decision, the likeliest match first (decided ones with
    `?status=accepted|rejected`)."""
    errors = {}
    status = request.GET.get("status", MatchReview.Status.PENDING)
    if status not in MatchReview.Status.values:
        errors["status"] = f"must be one of {', '.join(MatchReview.Status.values)}"
        status = MatchReview.Status.PENDING
    raw_page = request.GET.get("page", "1")
    number = int(raw_page) if raw_page.isdigit() and 0 < int(raw_page) <= 100_000 else 0
    if not number:
        errors["page"] = f"{raw_page!r} is not a page number"
        number = 1
    start = (number - 1) * PAGE_SIZE
    reviews = list(queued_reviews(status)[start : start + PAGE_SIZE + 1])
    has_next, reviews = len(reviews) > PAGE_SIZE, reviews[:PAGE_SIZE]
    total, more = reviews_in_status(status)

    ids = {pk for review in reviews for pk in (review.left_id, review.right_id)}
    profiles = Profile.objects.in_bulk(ids)
    live = active_profiles(ids)
    pairs = []
    for review in reviews:
        left, right = profiles.get(review.left_id), profiles.get(review.right_id)
        pairs.append(
            {
                "review": review,
                "percent": f"{review.match_probability:.1%}",
                "weight": match_weight(review.match_probability),
                "left_now": live.get(review.left_id),
                "right_now": live.get(review.right_id),
                "one_already": live.get(review.left_id) == live.get(review.right_id),
                "fields": _compared(review, left, right),
            }
        )
    comparisons = comparison_order(f for review in reviews for f in (review.levels or {}))
    queue = Table(
        "queue",
        "This page of the queue as a table",
        [
            "Review",
            "Left profile",
            "Right profile",
            "Match probability",
            "Match weight",
            *comparisons,
            "Status",
        ],
        [
            [
                review.pk,
                Link(review.left_id, reverse("app-profile", args=[review.left_id])),
                Link(review.right_id, reverse("app-profile", args=[review.right_id])),
                f"{review.match_probability:.4f}",
                f"{pair['weight']:.2f}" if pair["weight"] is not None else "",
                *((review.levels or {}).get(c, "") for c in comparisons),
                review.status,
            ]
            for review, pair in zip(reviews, pairs, strict=True)
        ],
        numeric={"Review", "Left profile", "Right profile", "Match probability", "Match weight"},
    )
    response = render_page(
        request,
        "app/identity/review.html",
        {
            "pairs": pairs,
            "status": status,
            "statuses": MatchReview.Status.choices,
            "errors": errors,
            "number": number,
            "has_next": has_next,
            "total": total,
            "more": more,
            "start": start,
            "end": start + len(reviews),
        },
        title="Identity review",
        tables=[queue],
        invalid=bool(errors),
    )
    if response.status_code in (200, 400):  # a page (or its CSV) was sent
        record_access(
            request,
            action=AuditEntry.Action.EXPORT
            if request.GET.get("download")
            else AuditEntry.Action.VIEW,
            object_type="identity.matchreview",
            object_id=",".join(str(review.pk) for review in reviews),
        )
    return response


@page_permission(DECIDE, VIEW_PERSONAL_DATA)
@require_POST
def review_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Accept (one person: merge) or reject (different people: never merge) a pair,
    then back to the queue, where the next pair has moved up."""
    review = get_object_or_404(MatchReview, pk=pk)
    decision = request.POST.get("decision")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = reverse("app-identity-review")
    back = back or reverse("app-identity-review")
    if decision not in ("accept", "reject"):
        messages.error(request, "decision: must be accept or reject.")
        return redirect(back)
    if review.status != MatchReview.Status.PENDING:
        messages.error(request, f"Review {review.pk} was already {review.status}.")
        return redirect(back)
    who = request.user.get_username()
    if decision == "accept":
        try:
            merge = accept_review(review, decided_by=who)
        except MergeRefused as refusal:
            messages.error(request, f"Review {review.pk} not accepted: {refusal}.")
            return redirect(back)
        messages.success(
            request,
            f"Accepted review {review.pk}: profile {merge.merged_id} merged into profile "
            f"{merge.survivor_id} (merge {merge.pk}, can be undone from the customer page).",
        )
    else:
        reject_review(review, decided_by=who)
        messages.success(
            request,
            f"Rejected review {review.pk}: profiles {review.left_id} and {review.right_id} "
            "will never be merged.",
        )
    record_access(
        request,
        action=AuditEntry.Action.CHANGE,
        object_type="identity.matchreview",
        object_id=review.pk,
    )
    return redirect(back)
