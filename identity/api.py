"""Identity in the native API: profiles with their identifiers and merge history, merge
decisions (and unmerging), the review queue."""

from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cdp.api.native import TouchpointSerializer
from cdp.api.schema import conflict_responses
from cdp.models import Profile, Touchpoint
from identity.models import MatchReview, MergeDecision, StitchingFailure
from identity.selectors import (
    identifiers_of_profile,
    merge_decision_summary,
    merge_history,
    profile_ids_for_identifier,
)
from identity.services.merging import unmerge
from identity.services.reviews import accept_review, reject_review


class MergeDecisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = MergeDecision
        exclude = ["snapshot"]


class MatchReviewSerializer(serializers.ModelSerializer):
    class Meta:
        model = MatchReview
        fields = "__all__"


class StitchingFailureSerializer(serializers.ModelSerializer):
    class Meta:
        model = StitchingFailure
        fields = ["id", "touchpoint_id", "error", "created_at"]


class StitchingFailureViewSet(viewsets.ReadOnlyModelViewSet):
    """Touchpoints stitching set aside with their error (the rest of their batch was
    resolved); `count` is how many there are."""

    serializer_class = StitchingFailureSerializer
    queryset = StitchingFailure.objects.all()


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("profile", int, description="Only this profile's merges.")]
    )
)
class MergeDecisionViewSet(viewsets.ReadOnlyModelViewSet):
    """Every merge with its evidence. `?profile=ID` filters to one profile's history."""

    serializer_class = MergeDecisionSerializer

    def get_queryset(self):
        decisions = MergeDecision.objects.all()
        profile = self.request.query_params.get("profile")
        if profile:
            if not profile.isdigit():
                raise serializers.ValidationError({"profile": "must be a profile id"})
            pk = int(profile)
            decisions = decisions.filter(survivor_id=pk) | decisions.filter(merged_id=pk)
        return decisions

    @extend_schema(request=None, responses=conflict_responses(ok=MergeDecisionSerializer))
    @action(detail=True, methods=["post"])
    def unmerge(self, request, pk=None):
        """Restore the merged profile as it was; the pair is never merged again."""
        decision = self.get_object()
        if not request.user.has_perm("identity.change_mergedecision"):
            return Response(
                {"code": "permission_denied", "message": "unmerging needs change_mergedecision"},
                status=status.HTTP_403_FORBIDDEN,
            )
        unmerge(decision, decided_by=request.user.get_username())  # MergeRefused: 409
        decision.refresh_from_db()
        return Response(MergeDecisionSerializer(decision).data)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "status",
                str,
                enum=[*MatchReview.Status.values, "all"],
                description="Default: pending.",
            )
        ]
    )
)
class MatchReviewViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Borderline Splink pairs awaiting staff. `?status=pending` (default) or all."""

    serializer_class = MatchReviewSerializer

    def get_queryset(self):
        reviews = MatchReview.objects.all()
        if self.action != "list":  # a decided review is still there to read (or be refused)
            return reviews
        wanted = self.request.query_params.get("status", MatchReview.Status.PENDING)
        if wanted not in (*MatchReview.Status.values, "all"):
            choices = ", ".join([*MatchReview.Status.values, "all"])
            raise serializers.ValidationError({"status": f"one of {choices}"})
        return reviews if wanted == "all" else reviews.filter(status=wanted)

    def _decide(self, request, decide):
        review = self.get_object()
        if not request.user.has_perm("identity.change_matchreview"):
            return Response(
                {"code": "permission_denied", "message": "deciding needs change_matchreview"},
                status=status.HTTP_403_FORBIDDEN,
            )
        if review.status != MatchReview.Status.PENDING:
            return Response(
                {"code": "already_decided", "message": f"review is {review.status}"}, status=409
            )
        decide(review, decided_by=request.user.get_username())  # MergeRefused: 409
        review.refresh_from_db()
        return Response(MatchReviewSerializer(review).data)

    @extend_schema(request=None, responses=conflict_responses(ok=MatchReviewSerializer))
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._decide(request, accept_review)

    @extend_schema(request=None, responses=conflict_responses(ok=MatchReviewSerializer))
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._decide(request, reject_review)


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
        return [merge_decision_summary(d) for d in merge_history(profile)]

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_identifiers(self, profile):
        return [
            {"kind": identifier.kind, "value": identifier.value, "status": identifier.status}
            for identifier in identifiers_of_profile(profile)
        ]


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "identifier", str, description="kind:value, e.g. email:ann@example.com"
            )
        ]
    )
)
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
        profile = self.get_object()  # a pk that is not a number: 404, as for the profile
        page = self.paginate_queryset(
            Touchpoint.objects.filter(profile=profile).select_related("source").order_by("id")
        )
        return self.get_paginated_response(TouchpointSerializer(page, many=True).data)
