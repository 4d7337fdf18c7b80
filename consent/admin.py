from django.contrib import admin

from consent.models import ConsentRecord, Purpose
from consent.services import record_consent


@admin.register(Purpose)
class PurposeAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "default", "region_defaults"]


@admin.register(ConsentRecord)
class ConsentRecordAdmin(admin.ModelAdmin):
    """Append-only: staff add records (a change of mind is a new record), never edit."""

    list_display = ["given_at", "profile", "purpose", "status", "channel", "source"]
    list_filter = ["purpose", "status", "channel"]
    search_fields = ["profile__id"]
    raw_id_fields = ["profile"]
    fields = ["profile", "purpose", "status", "given_at", "expires_at", "evidence"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Through the service, with who recorded it as part of the evidence.
        record = record_consent(
            obj.profile,
            obj.purpose,
            obj.status,
            channel=ConsentRecord.Channel.ADMIN,
            given_at=obj.given_at,
            expires_at=obj.expires_at,
            evidence={**(obj.evidence or {}), "staff": request.user.get_username()},
            recorded_by=request.user,
        )
        obj.pk = record.pk
