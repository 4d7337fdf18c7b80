"""The native REST API under /api/v1/: sources, profiles, touchpoints, rejected events."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cdp.models import Profile, RejectedEvent, Source, SourceKind, Touchpoint
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
        source.write_key = write_key
        return Response(NewSourceSerializer(source).data, status=status.HTTP_201_CREATED)


class TouchpointSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = Touchpoint
        exclude = ["ip", "user_agent"]


class ProfileSerializer(serializers.ModelSerializer):
    identifiers = serializers.SerializerMethodField()
    merge_history = serializers.SerializerMethodField()

    class Meta:
        model = Profile
        fields = [
            "id",
            "traits",
            "trait_sources",
            "identifiers",
            "merge_history",
            "merged_into",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_merge_history(self, profile):
        from identity.selectors import merge_decision_summary, merge_history

        return [merge_decision_summary(d) for d in merge_history(profile)]

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_identifiers(self, profile):
        from identity.selectors import identifiers_of_profile

        return [
            {"kind": identifier.kind, "value": identifier.value, "status": identifier.status}
            for identifier in identifiers_of_profile(profile)
        ]


class ProfileViewSet(viewsets.ReadOnlyModelViewSet):
    """Customers. `?identifier=kind:value` finds the profile that identifier belongs to."""

    serializer_class = ProfileSerializer

    def get_queryset(self):
        # Lists show live profiles; a merged-away one is still readable by id (merged_into).
        profiles = Profile.objects.all()
        if self.action == "list":
            profiles = profiles.filter(merged_into__isnull=True)
        identifier = self.request.query_params.get("identifier")
        if identifier:
            from identity.selectors import profile_ids_for_identifier

            kind, _, value = identifier.partition(":")
            if not value:
                raise serializers.ValidationError(
                    {"identifier": "use kind:value, e.g. email:ann@example.com"}
                )
            profiles = profiles.filter(pk__in=profile_ids_for_identifier(kind, value))
        return profiles

    @extend_schema(responses=TouchpointSerializer(many=True))
    @action(detail=True)
    def touchpoints(self, request, pk=None):
        profile = get_object_or_404(Profile, pk=pk)
        page = self.paginate_queryset(
            Touchpoint.objects.filter(profile=profile).select_related("source").order_by("id")
        )
        return self.get_paginated_response(TouchpointSerializer(page, many=True).data)


class RejectedEventSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="name", read_only=True)

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
