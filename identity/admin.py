from django.contrib import admin, messages

from cdp.admin_forms import OmnitrailAdmin
from identity.models import (
    BlockedValue,
    Identifier,
    MatchModel,
    MatchReview,
    MatchRun,
    MergeBlock,
    MergeDecision,
    Refusal,
    StitchingFailure,
)
from identity.services.merging import MergeRefused, unmerge
from identity.services.reviews import accept_review, reject_review
from identity.services.stitching import retry_stitching_failures


@admin.register(Identifier)
class IdentifierAdmin(OmnitrailAdmin):
    list_display = ["kind", "value", "profile", "status", "first_seen", "last_seen"]
    list_filter = ["kind", "status"]
    search_fields = ["value"]
    raw_id_fields = ["profile"]
    show_full_result_count = False


@admin.register(BlockedValue)
class BlockedValueAdmin(OmnitrailAdmin):
    list_display = ["kind", "value", "note"]
    search_fields = ["value"]


@admin.register(StitchingFailure)
class StitchingFailureAdmin(admin.ModelAdmin):
    """Touchpoints stitching set aside, with their error; the rest of their batch was
    resolved."""

    list_display = ["created_at", "touchpoint_id", "error"]
    search_fields = ["error"]
    readonly_fields = ["touchpoint_id", "error", "created_at"]
    actions = ["resolve_again"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Resolve the touchpoints again (after fixing the cause)")
    def resolve_again(self, request, queryset):
        ids = list(queryset.values_list("touchpoint_id", flat=True))
        resolved = retry_stitching_failures(ids)
        failed = StitchingFailure.objects.filter(touchpoint_id__in=ids).count()
        self.message_user(request, f"{resolved} resolved again, {failed} failed again")


@admin.register(Refusal)
class RefusalAdmin(OmnitrailAdmin):
    list_display = ["created_at", "reason", "kind", "value", "profiles", "detail"]
    list_filter = ["reason", "kind"]
    search_fields = ["value"]


@admin.register(MergeDecision)
class MergeDecisionAdmin(OmnitrailAdmin):
    list_display = [
        "created_at",
        "survivor",
        "merged",
        "method",
        "evidence",
        "decided_by",
        "undone_at",
    ]
    list_filter = ["method", "undone_at"]
    raw_id_fields = ["survivor", "merged"]
    readonly_fields = ["snapshot"]
    actions = ["undo"]

    @admin.action(description="Unmerge (restore the merged profile, never merge them again)")
    def undo(self, request, queryset):
        for decision in queryset:
            try:
                unmerge(decision, decided_by=request.user.get_username())
            except MergeRefused as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(request, f"Profile {decision.merged_id} restored.")


@admin.register(MergeBlock)
class MergeBlockAdmin(OmnitrailAdmin):
    list_display = ["low", "high", "reason", "created_at"]
    raw_id_fields = ["low", "high"]


@admin.register(MatchReview)
class MatchReviewAdmin(OmnitrailAdmin):
    list_display = ["left", "right", "match_probability", "levels", "status", "decided_by"]
    list_filter = ["status"]
    raw_id_fields = ["left", "right", "run"]
    actions = ["accept", "reject"]

    @admin.action(description="Accept: they are the same person (merge)")
    def accept(self, request, queryset):
        for review in queryset.filter(status=MatchReview.Status.PENDING):
            try:
                accept_review(review, decided_by=request.user.get_username())
            except MergeRefused as error:
                self.message_user(request, str(error), messages.ERROR)

    @admin.action(description="Reject: different people (never merge them)")
    def reject(self, request, queryset):
        for review in queryset.filter(status=MatchReview.Status.PENDING):
            reject_review(review, decided_by=request.user.get_username())


@admin.register(MatchModel)
class MatchModelAdmin(OmnitrailAdmin):
    list_display = ["version", "trained_at", "records", "active"]
    readonly_fields = ["model"]


@admin.register(MatchRun)
class MatchRunAdmin(OmnitrailAdmin):
    list_display = [
        "started_at",
        "mode",
        "model",
        "records",
        "pairs_scored",
        "merges",
        "reviews",
        "refused",
        "finished_at",
    ]
