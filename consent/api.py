"""Consent in the native API: record consent, read a profile's history."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from cdp.errors import OmnitrailError
from cdp.models import AuditEntry
from consent.models import ConsentRecord, DataSubjectRequest, Purpose
from consent.privacy import open_request
from consent.selectors import consent_history, profile_by_identifier
from consent.services import record_consent

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from cdp.models import Source


class ConsentRecordSerializer(serializers.ModelSerializer):
    purpose: serializers.SlugRelatedField[Purpose] = serializers.SlugRelatedField(
        slug_field="key", read_only=True
    )
    # DRF's serializer metaclass takes declared fields off the class, so this field does
    # not replace Field.source at run time; the stubs cannot know that.
    source: serializers.SlugRelatedField[Source] = serializers.SlugRelatedField(  # type: ignore[assignment]
        slug_field="name", read_only=True, allow_null=True
    )
    recorded_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = ConsentRecord
        fields = [
            "id",
            "profile",
            "purpose",
            "status",
            "given_at",
            "expires_at",
            "channel",
            "source",
            "evidence",
            "recorded_by",
            "touchpoint_id",
            "recorded_at",
        ]


class NewConsentSerializer(serializers.Serializer):
    identifier = serializers.CharField(help_text="kind:value, e.g. email:ann@example.com")
    purpose = serializers.SlugRelatedField(slug_field="key", queryset=Purpose.objects.all())
    status = serializers.ChoiceField(choices=ConsentRecord.Status.choices)
    given_at = serializers.DateTimeField(required=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    evidence = serializers.JSONField(required=False)

    def validate_identifier(self, value):
        try:
            return profile_by_identifier(value)
        except OmnitrailError as error:
            raise serializers.ValidationError(error.message, code=error.code) from None

    def validate_evidence(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be an object")
        return value


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("identifier", str, description="kind:value: this person's history."),
            OpenApiParameter("profile", int, description="This profile's history."),
        ]
    )
)
class ConsentRecordViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Consent records, append-only. List one person's history with `?identifier=kind:value`
    or `?profile=ID` (records of profiles merged into it included); POST records one."""

    queryset = ConsentRecord.objects.select_related("purpose", "source", "recorded_by")

    def get_serializer_class(self):
        return NewConsentSerializer if self.action == "create" else ConsentRecordSerializer

    def get_queryset(self):
        if self.action != "list":
            return self.queryset
        identifier = self.request.query_params.get("identifier")
        given = self.request.query_params.get("profile")
        if identifier:
            profile = profile_by_identifier(identifier).pk  # or 400 naming the identifier
        elif given is not None:
            if not given.isdigit():
                raise serializers.ValidationError({"profile": "must be a profile id"})
            profile = int(given)
        else:
            return self.queryset
        return consent_history(profile).order_by("-id")

    @transaction.atomic
    def create(self, request, *args, **kwargs):
        incoming = NewConsentSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        record = record_consent(
            data["identifier"],
            data["purpose"],
            data["status"],
            channel=ConsentRecord.Channel.API,
            given_at=data.get("given_at"),
            expires_at=data.get("expires_at"),
            evidence={**data.get("evidence", {}), "api_user": request.user.get_username()},
            recorded_by=request.user,
        )
        return Response(ConsentRecordSerializer(record).data, status=status.HTTP_201_CREATED)


class DataSubjectRequestSerializer(serializers.ModelSerializer):
    class Meta:
        model = DataSubjectRequest
        fields = ["id", "kind", "identifier", "status", "requested_at", "completed_at", "error"]
        read_only_fields = ["status", "requested_at", "completed_at", "error"]


class DataSubjectRequestDetailSerializer(DataSubjectRequestSerializer):
    class Meta(DataSubjectRequestSerializer.Meta):
        fields = [*DataSubjectRequestSerializer.Meta.fields, "handled_by", "result"]


class DataSubjectRequestViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """Access and erasure requests. POST `{"kind": "erasure", "identifier":
    "email:ann@example.com"}` answers 202; the work runs in the background. GET one for
    its status and, for access, the bundle (every read is in the audit log)."""

    queryset = DataSubjectRequest.objects.all()

    def get_serializer_class(self):
        return (
            DataSubjectRequestDetailSerializer
            if self.action == "retrieve"
            else DataSubjectRequestSerializer
        )

    @extend_schema(responses={202: DataSubjectRequestSerializer})
    def create(self, request, *args, **kwargs):
        incoming = DataSubjectRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        opened = open_request(  # a bad kind or identifier: 400 naming it
            incoming.validated_data["kind"],
            incoming.validated_data["identifier"],
            requested_by=request.user,
        )
        opened.refresh_from_db()
        return Response(DataSubjectRequestSerializer(opened).data, status=status.HTTP_202_ACCEPTED)

    def retrieve(self, request, *args, **kwargs):
        found = self.get_object()
        if found.kind == DataSubjectRequest.Kind.ACCESS and found.result:
            AuditEntry.objects.create(
                user=request.user,
                username=request.user.get_username(),
                action=AuditEntry.Action.EXPORT,
                object_type="consent.datasubjectrequest",
                object_id=str(found.pk),
                path=request.get_full_path()[:300],
            )
        return Response(DataSubjectRequestDetailSerializer(found).data)
