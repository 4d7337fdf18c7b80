"""The native REST API under /api/v1/: sources, touchpoints, rejected events.

Profiles, with their identifiers and merge history, are served by `identity.api`."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cdp.models import RejectedEvent, Source, SourceKind, Touchpoint
from cdp.services.ingest import resubmit_rejected
from cdp.services.sources import create_source


class SourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Source
        fields = ["id", "name", "kind", "enabled", "rate_limit", "write_key_prefix", "created_at"]
        read_only_fields = ["write_key_prefix", "created_at"]


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
        created = {**SourceSerializer(source).data, "write_key": write_key}
        return Response(created, status=status.HTTP_201_CREATED)


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
