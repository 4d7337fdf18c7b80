from django import forms
from django.contrib import admin

from cdp.admin_forms import OmnitrailAdmin
from consent.errors import InvalidIdentifier
from consent.models import (
    ConsentRecord,
    DataSubjectRequest,
    Purpose,
    SuppressedIdentifier,
)
from consent.privacy import identifier_of, open_request
from consent.services import record_consent


@admin.register(Purpose)
class PurposeAdmin(OmnitrailAdmin):
    list_display = ["key", "name", "default", "region_defaults"]


@admin.register(ConsentRecord)
class ConsentRecordAdmin(OmnitrailAdmin):
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


class DataSubjectRequestForm(forms.ModelForm):
    class Meta:
        model = DataSubjectRequest
        fields = ["kind", "identifier"]
        help_texts = {"identifier": "An email address, a phone number, or kind:value (user_id:42)."}

    def clean_identifier(self):
        try:
            return identifier_of(self.cleaned_data.get("identifier") or "")
        except InvalidIdentifier as error:
            raise forms.ValidationError(error.message, code=error.code) from None


@admin.register(DataSubjectRequest)
class DataSubjectRequestAdmin(OmnitrailAdmin):
    form = DataSubjectRequestForm
    list_display = ["requested_at", "kind", "identifier", "status", "completed_at", "handled_by"]
    list_filter = ["kind", "status"]
    fields = ["kind", "identifier", "status", "completed_at", "handled_by", "error", "result"]
    readonly_fields = ["status", "completed_at", "handled_by", "error", "result"]

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Opened through the service, which hands it to the background task.
        opened = open_request(obj.kind, obj.identifier, requested_by=request.user)
        obj.pk = opened.pk


@admin.register(SuppressedIdentifier)
class SuppressedIdentifierAdmin(OmnitrailAdmin):
    list_display = ["kind", "value_hash", "created_at", "events_dropped", "last_dropped_at"]
    readonly_fields = [f.name for f in SuppressedIdentifier._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
