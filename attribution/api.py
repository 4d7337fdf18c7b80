"""Attribution in the native API: credits per model, costs in, reports. (Segments:
attribution/segments/api.py.)"""

from typing import Any

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from attribution.engine.models import DEFAULT_GOAL, DEFAULT_GUARDRAIL, DEFAULT_MODEL, MODELS
from attribution.errors import InvalidCost
from attribution.selectors import credit_report, model_comparison, reported_run
from attribution.selectors.monthly import monthly_report
from attribution.selectors.performance import channel_performance
from attribution.selectors.reports import (
    budget_report,
    compare_report,
    path_positions_report,
    return_on_spend_report,
    revenue_pareto,
)
from attribution.services import record_cost


def may_view(model_perm: str) -> type[BasePermission]:
    """Reads of attribution results: the permission of the report pages
    (attribution.view_reports, which every role group has) or the view permission of the
    model shown. Being signed in is not enough: a token of a user without either is 403."""

    class MayView(BasePermission):
        message = f"reading this needs attribution.view_reports or {model_perm}"

        def has_permission(self, request, view) -> bool:
            user = request.user
            return bool(
                user
                and user.is_authenticated
                and (user.has_perm("attribution.view_reports") or user.has_perm(model_perm))
            )

    return MayView


class CreditQuery(serializers.Serializer):
    goal = serializers.CharField(default=DEFAULT_GOAL)
    model = serializers.ChoiceField(choices=sorted(MODELS))
    group_by = serializers.ChoiceField(choices=["channel", "campaign"], default="channel")


@extend_schema(
    parameters=[CreditQuery],
    responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT},
)
@api_view(["GET"])
@permission_classes([may_view("attribution.view_credit")])
def credits(request):
    """`?goal=purchase&model=linear&group_by=channel|campaign`: the latest run's credits
    with cost, ROAS and CPA."""
    query = CreditQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    run = reported_run(query.validated_data["goal"])
    rows = credit_report(
        run, model=query.validated_data["model"], group_by=query.validated_data["group_by"]
    )
    return Response({"run": run.pk, "finished_at": run.finished_at, "results": rows})


@extend_schema(
    request=OpenApiTypes.OBJECT,
    responses={201: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
@transaction.atomic
def costs(request):
    """One cost line or a list of them: `{"date", "channel", "campaign", "cost", ...}`.
    All or nothing; a bad line is named by its index and field."""
    if not request.user.has_perm("attribution.add_cost"):
        return Response(
            {"code": "permission_denied", "message": "recording costs needs add_cost"},
            status=status.HTTP_403_FORBIDDEN,
        )
    lines = request.data if isinstance(request.data, list) else [request.data]
    stored = []
    for index, line in enumerate(lines):
        if not isinstance(line, dict):
            raise serializers.ValidationError({f"[{index}]": "must be an object"})
        try:
            stored.append(record_cost(line))
        except InvalidCost as error:  # named by the line's index: [1].cost
            raise InvalidCost(error.message, field=f"[{index}].{error.field}") from None
    return Response({"stored": len(stored)}, status=status.HTTP_201_CREATED)


REPORTS = (
    "models",
    "paths",
    "path-lengths",
    "time-to-convert",
    "assisted",
    "pareto",
    "channel-pairs",
    "funnel",
    "clv",
    "holdouts",
    "budget",
    "monthly",
    "roas",
    "compare",
    "path-positions",
    "channel-performance",
    "reconciliation",
)


class ReportQuery(serializers.Serializer):
    goal = serializers.CharField(default=DEFAULT_GOAL)
    model = serializers.ChoiceField(choices=sorted(MODELS), default=DEFAULT_MODEL)
    group_by = serializers.ChoiceField(choices=["channel", "campaign"], default="channel")
    guardrail = serializers.FloatField(default=DEFAULT_GUARDRAIL, min_value=0.0, max_value=1.0)
    # monthly: the months to report (YYYY-MM or a date in the month); default: the run's.
    start = serializers.CharField(required=False, allow_blank=True)
    end = serializers.CharField(required=False, allow_blank=True)
    # compare: the second model of the comparison (GA4's model comparison).
    compare = serializers.ChoiceField(choices=sorted(MODELS), required=False)

    def validate(self, data):
        for bound in ("start", "end"):  # `?start=` says no more than leaving it out
            if not data.get(bound):
                data.pop(bound, None)
        return data


@extend_schema(
    parameters=[
        ReportQuery,
        OpenApiParameter("name", str, OpenApiParameter.PATH, enum=list(REPORTS)),
    ],
    responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT},
)
@api_view(["GET"])
@permission_classes([may_view("attribution.view_attributionrun")])
def report(request, name):
    """`/api/v1/attribution/reports/{name}?goal=purchase&model=linear&group_by=channel|
    campaign&guardrail=0.06&start=YYYY-MM&end=YYYY-MM`, from the latest run: models,
    paths, path-lengths, time-to-convert, assisted, pareto, channel-pairs, funnel, clv,
    holdouts, budget, monthly (per channel and month, over start..end), roas (paid ROAS
    and blended MER), compare (`&compare=` a second model: GA4's model comparison),
    path-positions (credit of early, middle and late touches), channel-performance
    (reach, frequency, CTR, CPC, CPM, visits, post-click conversions, CPA, email rates;
    over start..end)."""
    if name not in REPORTS:
        raise serializers.ValidationError({"report": f"one of {', '.join(REPORTS)}"})
    query = ReportQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    params = query.validated_data
    run = reported_run(params["goal"])
    summary = run.summary or {}
    body: Any
    if name == "models":
        body = model_comparison(run, group_by=params["group_by"])
    elif name == "channel-pairs":
        body = summary.get("channel_pairs", {}).get(params["model"], [])
    elif name == "budget":
        body = budget_report(run, model=params["model"], guardrail=params["guardrail"])
    elif name == "monthly":
        body = monthly_report(
            run, model=params["model"], start=params.get("start"), end=params.get("end")
        )
    elif name == "roas":
        body = return_on_spend_report(run, model=params["model"])
    elif name == "compare":
        if "compare" not in params:
            raise serializers.ValidationError({"compare": "the second model to compare with"})
        body = compare_report(
            run, model=params["model"], compare=params["compare"], group_by=params["group_by"]
        )
    elif name == "channel-performance":
        body = channel_performance(
            run, model=params["model"], start=params.get("start"), end=params.get("end")
        )
    elif name == "path-positions":
        body = path_positions_report(run, model=params["model"])
    elif name == "pareto":
        body = revenue_pareto(run, model=params["model"], group_by=params["group_by"])
    else:
        body = run.summary.get(
            {
                "paths": "top_paths",
                "path-lengths": "path_lengths",
                "time-to-convert": "time_to_convert",
                "assisted": "assisted",
                "funnel": "funnel",
                "clv": "clv_by_first_touch",
                "holdouts": "holdouts",
                "reconciliation": "reconciliation",
            }[name]
        )
    return Response({"run": run.pk, "report": name, "results": body})
