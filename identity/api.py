"""Identity in the native API: merge decisions (and unmerging), the review queue."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from identity.models import MatchReview, MergeDecision
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


class MergeDecisionViewSet(viewsets.ReadOnlyModelViewSet):
    """Every merge with its evidence. `?profile=ID` filters to one profile's history."""

    serializer_class = MergeDecisionSerializer

    def get_queryset(self):
        decisions = MergeDecision.objects.all()
        profile = self.request.query_params.get("profile")
        if profile:
            if not profile.isdigit():
                raise serializers.ValidationError({"profile": "must be a profile id"})
            decisions = decisions.filter(survivor_id=profile) | decisions.filter(merged_id=profile)
        return decisions

    @extend_schema(request=None, responses=MergeDecisionSerializer)
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


class MatchReviewViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Borderline Splink pairs awaiting staff. `?status=pending` (default) or all."""

    serializer_class = MatchReviewSerializer

    def get_queryset(self):
        reviews = MatchReview.objects.all()
        if self.action != "list":  # a decided review is still there to read (or be refused)
            return reviews
        wanted = self.request.query_params.get("status", MatchReview.Status.PENDING)
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

    @extend_schema(request=None, responses=MatchReviewSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._decide(request, accept_review)

    @extend_schema(request=None, responses=MatchReviewSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._decide(request, reject_review)
