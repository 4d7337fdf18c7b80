"""The native REST API under /api/v1/: sources, touchpoints, rejected events.

Profiles, with their identifiers and merge history, are served by `identity.api`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cdp.models import IngestCount, RejectedEvent, Source, SourceKind, Touchpoint
from cdp.services.ingest import resubmit_rejected
from cdp.services.sources import create_source


class OriginField(serializers.CharField):
    """A web origin as browsers send it: scheme://host[:port], no path."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data).rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            raise serializers.ValidationError(
                f"{value!r} is not an origin (scheme://host[:port], as https://shop.example.com)"
            )
        return value


class SourceSerializer(serializers.ModelSerializer):
    allowed_origins = serializers.ListField(
        child=OriginField(max_length=255),
        required=False,
        max_length=100,
        help_text="Origins whose pages may send with this write key (403 otherwise); empty: any.",
    )

    class Meta:
        model = Source
        fields = [
            "id",
            "name",
            "kind",
            "enabled",
            "rate_limit",
            "allowed_origins",
            "write_key_prefix",
            "created_at",
        ]
        read_only_fields = ["write_key_prefix", "created_at"]


class IngestCountSerializer(serializers.ModelSerializer):
    class Meta:
        model = IngestCount
        fields = ["code", "field", "count", "last_seen"]


class NewSourceSerializer(SourceSerializer):
    write_key = serializers.CharField(read_only=True, help_text="Shown once; stored only hashed.")

    class Meta(SourceSerializer.Meta):
        fields = [*SourceSerializer.Meta.fields, "write_key"]


class SourceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Integrations. Creating one returns its write key, once."""

    queryset = Source.objects.all()
    serializer_class = SourceSerializer

    @extend_schema(request=SourceSerializer, responses={201: NewSourceSerializer})
    def create(self, request):
        serializer = SourceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["kind"] not in SourceKind.values:
            raise serializers.ValidationError({"kind": "unknown kind"})
        source, write_key = create_source(
            data["name"], kind=data["kind"], rate_limit=data.get("rate_limit")
        )
        if data.get("allowed_origins"):
            source.allowed_origins = data["allowed_origins"]
            source.save(update_fields=["allowed_origins"])
        created = {**SourceSerializer(source).data, "write_key": write_key}
        return Response(created, status=status.HTTP_201_CREATED)

    @extend_schema(responses=IngestCountSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="ingest-counts", pagination_class=None)
    def ingest_counts(self, request, pk=None):
        """What was noted about this source's events: warnings per code and field, bots'
        events, rejected bodies not kept (over the quota)."""
        counts = IngestCount.objects.filter(source=self.get_object())
        return Response(IngestCountSerializer(counts, many=True).data)


# DRF's serializer metaclass takes declared fields off the class, so a field named
# "source" does not replace Field.source at run time; the stubs cannot know that.
class TouchpointSerializer(serializers.ModelSerializer):
    source: serializers.SlugRelatedField[Source] = serializers.SlugRelatedField(  # type: ignore[assignment]
        slug_field="name", read_only=True
    )

    class Meta:
        model = Touchpoint
        exclude = ["ip", "user_agent"]


class RejectedEventSerializer(serializers.ModelSerializer):
    source: serializers.SlugRelatedField[Source] = serializers.SlugRelatedField(  # type: ignore[assignment]
        slug_field="name", read_only=True
    )

    class Meta:
        model = RejectedEvent
        fields = "__all__"
        read_only_fields = [
            "source",
            "raw_body",
            "raw_body_encoding",
            "body_bytes",
            "code",
            "reason",
            "index",
            "channel",
            "line",
            "received_at",
            "status",
            "resubmitted_at",
        ]


class RejectedEventViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Events we refused, with their reason. Fix `payload` (PATCH), then resubmit."""

    queryset = RejectedEvent.objects.select_related("source")
    serializer_class = RejectedEventSerializer

    @extend_schema(request=None, responses=RejectedEventSerializer)
    @action(detail=True, methods=["post"])
    def resubmit(self, request, pk=None):
        rejected = self.get_object()
        result = resubmit_rejected(rejected)
        if result.rejected:
            first = result.rejected[0]
            return Response(
                {"code": first.code, "field": first.field, "message": first.message},
                status=status.HTTP_400_BAD_REQUEST,
            )
        body = RejectedEventSerializer(rejected).data
        body["accepted"] = result.accepted
        body["duplicates"] = result.duplicates
        return Response(body)
