"""Tracking plans in the native API: `/api/v1/tracking-plans/`.

A plan is read and written as its file (docs/tracking-plans.md): `POST` one (ours or a
Segment Protocols export), `PUT` it back changed, `GET .../export` for the file alone,
`GET .../violations` for what broke it, `POST .../infer` for a proposal from a source's
events. Refusals name the place in the file: `{"code": "invalid_tracking_plan",
"field": "events[2].properties.type", ...}`.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cdp.api.query import query_flag
from cdp.api.schema import conflict_responses
from cdp.models import Source
from cdp.tracking_plans.engine.document import KINDS
from cdp.tracking_plans.models import TrackingPlan
from cdp.tracking_plans.selectors import plan_document, violations
from cdp.tracking_plans.services import delete_plan, propose_plan, save_plan


def _body(plan: TrackingPlan) -> dict:
    return {
        "id": plan.pk,
        "updated_at": plan.updated_at,
        "document": plan_document(plan),
    }


# A field named `source` is declared in get_fields(): as a class attribute it would
# stand where DRF's Field keeps its own `source`.
class ViolationFilters(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=366, default=30)
    kind = serializers.ChoiceField(choices=KINDS, required=False)

    def get_fields(self):
        return {**super().get_fields(), "source": serializers.CharField(required=False)}


class InferRequest(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=366, default=30)
    name = serializers.CharField(required=False, max_length=100)

    def get_fields(self):
        return {**super().get_fields(), "source": serializers.CharField()}


class TrackingPlanViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The plans sources' events are checked against, as their JSON files."""

    queryset = TrackingPlan.objects.order_by("id")

    def get_serializer_class(self):  # the schema only: bodies are plan documents
        return serializers.Serializer

    @extend_schema(operation_id="v1_tracking_plans_list", responses=OpenApiTypes.OBJECT)
    def list(self, request):
        page = self.paginate_queryset(self.get_queryset()) or []
        return self.get_paginated_response([_body(plan) for plan in page])

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def retrieve(self, request, pk=None):
        return Response(_body(self.get_object()))

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        parameters=[
            OpenApiParameter("replace", bool, description="true: replace the plan of this name.")
        ],
        responses=conflict_responses(created=OpenApiTypes.OBJECT),
    )
    def create(self, request):
        """The body is a plan file (ours, or a Protocols export); `?replace=true` replaces
        the plan of the same name."""
        replace = query_flag(request, "replace")
        plan = save_plan(request.data, replace=replace)
        return Response(_body(plan), status=status.HTTP_201_CREATED)

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def update(self, request, pk=None):
        """The whole plan file; what it does not say is not kept (export, edit, put back)."""
        plan = save_plan(request.data, plan=self.get_object())
        return Response(_body(plan))

    def perform_destroy(self, instance):
        delete_plan(instance)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True)
    def export(self, request, pk=None):
        """The plan file alone, as `import_tracking_plan` reads it."""
        plan = self.get_object()
        response = Response(plan_document(plan))
        response["Content-Disposition"] = f'attachment; filename="tracking-plan-{plan.pk}.json"'
        return response

    @extend_schema(parameters=[ViolationFilters], responses=OpenApiTypes.OBJECT)
    @action(detail=True)
    def violations(self, request, pk=None):
        """Per source, event, property and kind over `?days=30`: the count, what was done
        (flagged, stripped, blocked), first and last seen, whether it is new, a sample."""
        plan = self.get_object()
        filters = ViolationFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        source = None
        if filters.validated_data.get("source"):
            source = Source.objects.filter(name=filters.validated_data["source"]).first()
            if source is None:
                raise serializers.ValidationError({"source": "no source of this name"})
        rows = violations(
            plan,
            days=filters.validated_data["days"],
            source=source,
            kind=filters.validated_data.get("kind"),
        )
        return Response({"days": filters.validated_data["days"], "violations": rows})

    @extend_schema(request=InferRequest, responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["post"])
    def infer(self, request):
        """`{"source": "web", "days": 30}`: a proposed plan of what the source sent, not
        saved: review it, then POST it."""
        asked = InferRequest(data=request.data)
        asked.is_valid(raise_exception=True)
        source = Source.objects.filter(name=asked.validated_data["source"]).first()
        if source is None:
            raise serializers.ValidationError({"source": "no source of this name"})
        document = propose_plan(
            source, days=asked.validated_data["days"], name=asked.validated_data.get("name")
        )
        return Response(document)
