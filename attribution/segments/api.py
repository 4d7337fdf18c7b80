"""Segments in the native API: `/api/v1/segments/` (rules, members, sizes, best time,
estimate, templates) and `/api/v1/profiles/{id}/segments/`."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action, api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from attribution.segments import rules as segment_rules
from attribution.segments.models import Segment, SegmentMembership
from attribution.segments.selectors import (
    best_time_to_contact,
    estimate,
    segment_names,
    segments_of_profile,
    size_history,
)
from attribution.segments.services import check_references, refresh_segment, save_segment
from cdp.api.query import query_flag
from cdp.models import Profile
from consent.models import Purpose


class SegmentSerializer(serializers.ModelSerializer):
    purpose = serializers.SlugRelatedField(
        slug_field="key", queryset=Purpose.objects.all(), required=False, allow_null=True
    )
    template = serializers.ChoiceField(
        choices=sorted(segment_rules.TEMPLATES), required=False, write_only=True
    )
    in_words = serializers.SerializerMethodField()

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "definition",
            "in_words",
            "purpose",
            "refresh_minutes",
            "active",
            "template",
            "size",
            "last_refreshed_at",
            "created_at",
        ]
        read_only_fields = ["size", "last_refreshed_at", "created_at"]
        extra_kwargs = {"definition": {"required": False}, "name": {"required": False}}

    def get_in_words(self, segment) -> str:
        return segment_rules.describe(segment.definition, segment_names())

    def validate(self, data):
        template = data.pop("template", None)
        if template:
            chosen = segment_rules.TEMPLATES[template]
            data.setdefault("definition", chosen["definition"])
            data.setdefault("name", chosen["name"])
            data.setdefault("description", chosen["description"])
            data["template_key"] = template
        if self.instance is None:
            for name in ("name", "definition"):
                if name not in data:
                    raise serializers.ValidationError({name: "required (or give a template)"})
        if "definition" in data:
            try:
                segment_rules.validate(data["definition"])
                check_references(data["definition"], self.instance.pk if self.instance else None)
            except segment_rules.RuleError as error:
                raise _rule_error(error) from None
        return data

    def save_segment(self) -> Segment:
        data = dict(self.validated_data)
        instance = self.instance
        purpose = data.get("purpose", instance.purpose if instance else None)
        return save_segment(
            name=data.get("name", instance.name if instance else ""),
            definition=data.get("definition", instance.definition if instance else {}),
            purpose=purpose.key if purpose else None,
            description=data.get("description", instance.description if instance else ""),
            refresh_minutes=data.get(
                "refresh_minutes", instance.refresh_minutes if instance else 60
            ),
            template=data.get("template_key", instance.template if instance else ""),
            segment=instance,
        )


def _rule_error(error: segment_rules.RuleError) -> serializers.ValidationError:
    """The place in the definition (`definition.all[1].op`) as the field."""
    return serializers.ValidationError({error.field: error.message})


class MembershipSerializer(serializers.ModelSerializer):
    segment_name = serializers.CharField(source="segment.name", read_only=True)

    class Meta:
        model = SegmentMembership
        fields = ["id", "segment", "segment_name", "profile", "entered_at", "exited_at"]


class SizesQuery(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=366, default=30)


class SizePointSerializer(serializers.Serializer):
    date = serializers.DateField()
    size = serializers.IntegerField()


class BestTimeSerializer(serializers.Serializer):
    hour_of_week = serializers.IntegerField(allow_null=True, help_text="0 = Monday 00:00 UTC")
    hour_of_week_label = serializers.CharField(allow_null=True)
    channel = serializers.CharField(allow_null=True)
    sampled = serializers.IntegerField(
        allow_null=True, help_text="Members it was estimated from; null when exact."
    )


class EstimateRequestSerializer(serializers.Serializer):
    definition = serializers.JSONField(help_text="The rules (docs/segments.md).")
    purpose = serializers.CharField(required=False, allow_null=True, allow_blank=True)


class EstimateSerializer(serializers.Serializer):
    size = serializers.IntegerField()
    left_out_for_consent = serializers.IntegerField()


class RefreshResultSerializer(EstimateSerializer):
    segment = serializers.CharField()
    entered = serializers.IntegerField()
    exited = serializers.IntegerField()
    seconds = serializers.FloatField()


class TemplateSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    definition = serializers.JSONField()


class TraitValueSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    value = serializers.JSONField(help_text="A number, text, true/false or a list.")
    shown = serializers.CharField(help_text="The value as the pages show it.")
    in_words = serializers.CharField(help_text="The trait's definition in words.")


HISTORY = OpenApiParameter(
    "history", bool, description="true: every stay, with entered_at and exited_at."
)
PROFILE_ID = OpenApiParameter("id", int, OpenApiParameter.PATH)


class SegmentViewSet(viewsets.ModelViewSet):
    """Audiences. The definition is the documented JSON (docs/segments.md), the same
    rules the admin edits. Members are refreshed in the background (and by
    `POST /api/v1/segments/{id}/refresh`)."""

    serializer_class = SegmentSerializer
    queryset = Segment.objects.select_related("purpose").order_by("id")

    def perform_create(self, serializer):
        serializer.instance = serializer.save_segment()

    def perform_update(self, serializer):
        serializer.instance = serializer.save_segment()

    @extend_schema(parameters=[HISTORY], responses=MembershipSerializer(many=True))
    @action(detail=True)
    def members(self, request, pk=None):
        """Current members (`?history=true`: every stay, with entered_at and exited_at)."""
        segment = self.get_object()
        rows = SegmentMembership.objects.filter(segment=segment).select_related("segment")
        if not query_flag(request, "history"):
            rows = rows.filter(exited_at__isnull=True)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(MembershipSerializer(page, many=True).data)

    @extend_schema(request=None, responses=RefreshResultSerializer)
    @action(detail=True, methods=["post"])
    def refresh(self, request, pk=None):
        result = refresh_segment(self.get_object())
        return Response(vars(result))

    @extend_schema(
        parameters=[SizesQuery],
        responses=SizePointSerializer(many=True),
    )
    @action(detail=True, pagination_class=None)
    def sizes(self, request, pk=None):
        """Members at the end of each of the last `?days=30` days."""
        query = SizesQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(size_history(self.get_object(), days=query.validated_data["days"]))

    @extend_schema(responses=BestTimeSerializer)
    @action(detail=True, url_path="best-time")
    def best_time(self, request, pk=None):
        """The hour of week and channel most members engage at."""
        return Response(best_time_to_contact(self.get_object()))

    @extend_schema(request=EstimateRequestSerializer, responses=EstimateSerializer)
    @action(detail=False, methods=["post"])
    def estimate(self, request):
        """`{"definition": {...}, "purpose": "email_marketing"}`: how many it would select."""
        asked = EstimateRequestSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        definition = asked.validated_data["definition"]
        try:
            segment_rules.validate(definition)
            check_references(definition, None)
        except segment_rules.RuleError as error:
            raise _rule_error(error) from None
        purpose = asked.validated_data.get("purpose")
        if purpose and not Purpose.objects.filter(key=purpose).exists():
            raise serializers.ValidationError({"purpose": f"no purpose {purpose!r}"})
        return Response(estimate(definition, purpose=purpose or None))

    @extend_schema(responses=TemplateSerializer(many=True))
    @action(detail=False, pagination_class=None)
    def templates(self, request):
        """The built-in templates (create one with `{"template": key}`)."""
        return Response(
            [
                {"key": key, **{k: t[k] for k in ("name", "description", "definition")}}
                for key, t in segment_rules.TEMPLATES.items()
            ]
        )


@extend_schema(parameters=[PROFILE_ID, HISTORY], responses=MembershipSerializer(many=True))
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def profile_segments(request, pk):
    """`GET /api/v1/profiles/{id}/segments/`: the segments the profile is in now
    (`?history=true`: every stay)."""
    if not request.user.has_perm("attribution.view_segmentmembership"):
        return Response(
            {"code": "permission_denied", "message": "needs view_segmentmembership"},
            status=status.HTTP_403_FORBIDDEN,
        )
    profile = get_object_or_404(Profile, pk=pk)
    history = query_flag(request, "history")
    rows = segments_of_profile(profile.pk, history=history)
    return Response(MembershipSerializer(rows, many=True).data)


@extend_schema(parameters=[PROFILE_ID], responses=TraitValueSerializer(many=True))
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def profile_traits(request, pk):
    """`GET /api/v1/profiles/{id}/traits/`: the profile's computed traits, each with its
    key, name, value and definition in words."""
    if not request.user.has_perm("attribution.view_profiletraitvalue"):
        return Response(
            {"code": "permission_denied", "message": "needs view_profiletraitvalue"},
            status=status.HTTP_403_FORBIDDEN,
        )
    from attribution.traits.services import traits_of_profiles

    profile = get_object_or_404(Profile, pk=pk)
    return Response(traits_of_profiles([profile.pk]).get(profile.pk, []))
