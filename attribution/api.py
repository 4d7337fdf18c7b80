"""Attribution in the native API: credits per model, costs in."""

from django.db import transaction
from rest_framework import serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from attribution.engine.models import MODELS
from attribution.engine.paths import pareto
from attribution.selectors import credit_report, latest_run, model_comparison
from attribution.services import record_cost


class CreditQuery(serializers.Serializer):
    goal = serializers.CharField(default="purchase")
    model = serializers.ChoiceField(choices=sorted(MODELS))
    group_by = serializers.ChoiceField(choices=["channel", "campaign"], default="channel")


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def credits(request):
    """`?goal=purchase&model=linear&group_by=channel|campaign`: the latest run's credits
    with cost, ROAS and CPA."""
    query = CreditQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    run = latest_run(query.validated_data["goal"])
    if run is None:
        raise serializers.ValidationError(
            {"goal": "no completed attribution run yet (refresh_attribution)"}
        )
    rows = credit_report(
        run, model=query.validated_data["model"], group_by=query.validated_data["group_by"]
    )
    return Response({"run": run.pk, "finished_at": run.finished_at, "results": rows})


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
        except ValueError as error:
            field, _, message = str(error).partition(": ")
            raise serializers.ValidationError({f"[{index}].{field}": message}) from None
    return Response({"stored": len(stored)}, status=status.HTTP_201_CREATED)


REPORTS = ("models", "paths", "path-lengths", "time-to-convert", "assisted", "pareto")


class ReportQuery(serializers.Serializer):
    goal = serializers.CharField(default="purchase")
    model = serializers.ChoiceField(choices=sorted(MODELS), default="linear")
    group_by = serializers.ChoiceField(choices=["channel", "campaign"], default="channel")


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def report(request, name):
    """`/api/v1/attribution/reports/{models|paths|path-lengths|time-to-convert|assisted|
    pareto}?goal=purchase&model=linear&group_by=channel|campaign`, from the latest run."""
    if name not in REPORTS:
        raise serializers.ValidationError({"report": f"one of {', '.join(REPORTS)}"})
    query = ReportQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    params = query.validated_data
    run = latest_run(params["goal"])
    if run is None:
        raise serializers.ValidationError(
            {"goal": "no completed attribution run yet (refresh_attribution)"}
        )
    if name == "models":
        body = model_comparison(run, group_by=params["group_by"])
    elif name == "pareto":
        rows = credit_report(run, model=params["model"], group_by=params["group_by"])
        body = pareto([row for row in rows if row["revenue"] > 0], key="revenue")
    else:
        body = run.summary.get(
            {
                "paths": "top_paths",
                "path-lengths": "path_lengths",
                "time-to-convert": "time_to_convert",
                "assisted": "assisted",
            }[name]
        )
    return Response({"run": run.pk, "report": name, "results": body})
