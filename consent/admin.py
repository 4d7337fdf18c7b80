from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from cdp.admin_forms import OmnitrailAdmin
from cdp.models import Profile
from consent.errors import InvalidIdentifier
from consent.models import (
    ConsentRecord,
    DataSubjectRequest,
    Purpose,
    SuppressedIdentifier,
)
from consent.officer import (
    access_zip,
    find_people,
    person_consent,
    person_name,
    profiles_named,
    result_tables,
    zip_name,
)
from consent.privacy import identifier_of, open_request
from consent.services import record_consent


@admin.register(Purpose)
class PurposeAdmin(OmnitrailAdmin):
    list_display = ["key", "name", "default", "region_defaults"]


@admin.register(ConsentRecord)
class ConsentRecordAdmin(OmnitrailAdmin):
    """Append-only: staff add records (a change of mind is a new record), never edit.
    Each person's consent now, per purpose, is one click away ("Person")."""

    list_display = ["given_at", "person", "purpose_name", "status", "channel", "source"]
    list_filter = ["purpose", "status", "channel"]
    search_fields = ["profile__id"]
    search_help_text = "An email address, a phone number, a name or a profile id."
    raw_id_fields = ["profile"]
    fields = ["profile", "purpose", "status", "given_at", "expires_at", "evidence"]
    list_select_related = ["purpose", "source", "profile"]

    @admin.display(description="Person", ordering="profile_id")
    def person(self, record):
        url = reverse("admin:consent_person", args=[record.profile_id])
        return format_html('<a href="{}">{}</a>', url, person_name(record.profile))

    @admin.display(description="Purpose", ordering="purpose__name")
    def purpose_name(self, record):
        return record.purpose.name

    def get_search_results(self, request, queryset, search_term):
        found, duplicates = super().get_search_results(request, queryset, search_term)
        people = find_people(search_term) if search_term.strip() else []
        if people:
            found = found | queryset.filter(profile_id__in=people)
        return found, duplicates

    def get_urls(self):
        person = path(
            "person/<int:profile_id>/",
            self.admin_site.admin_view(self.person_view),
            name="consent_person",
        )
        return [person, *super().get_urls()]

    def person_view(self, request, profile_id: int):
        """One person's consent now: each purpose with its state, since when, from
        where and with which evidence; then every record, newest first."""
        profile = get_object_or_404(Profile, pk=profile_id)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Consent of {person_name(profile)}",
            "profile": profile,
            "purposes": person_consent(profile.pk),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/consent/person.html", context)

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
    fields = [
        "kind",
        "identifier",
        "status",
        "completed_at",
        "handled_by",
        "error",
        "what_was_found",
    ]
    readonly_fields = ["status", "completed_at", "handled_by", "error", "what_was_found"]

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Opened through the service, which hands it to the background task.
        opened = open_request(obj.kind, form.cleaned_data["identifier"], requested_by=request.user)
        obj.pk = opened.pk

    @admin.display(description="Result")
    def what_was_found(self, request_row):
        if not request_row.pk or not request_row.result:
            return "—"
        counts = ", ".join(
            f"{len(table['rows'])} {table['name']}" for table in result_tables(request_row.result)
        )
        return format_html(
            '{} — <a href="{}">read it</a> · <a href="{}">download (ZIP: JSON and CSV)</a>',
            counts or "nothing",
            reverse("admin:consent_request_result", args=[request_row.pk]),
            reverse("admin:consent_request_download", args=[request_row.pk]),
        )

    def get_urls(self):
        views = [
            path(
                "<int:pk>/result/",
                self.admin_site.admin_view(self.result_view),
                name="consent_request_result",
            ),
            path(
                "<int:pk>/download/",
                self.admin_site.admin_view(self.download_view),
                name="consent_request_download",
            ),
        ]
        return [*views, *super().get_urls()]

    def _request(self, request, pk: int) -> DataSubjectRequest:
        found = get_object_or_404(DataSubjectRequest, pk=pk)
        if not self.has_view_permission(request, found):
            raise PermissionDenied
        return found

    def result_view(self, request, pk: int):
        """An access request's result as readable tables."""
        found = self._request(request, pk)
        profile_ids = [p.get("id") for p in (found.result or {}).get("profiles", [])]
        names = profiles_named(pk for pk in profile_ids if isinstance(pk, int))
        context = {
            **self.admin_site.each_context(request),
            "title": f"What request {found.pk} found ({found.get_kind_display()})",
            "found": found,
            "names": ", ".join(names.values()),
            "tables": result_tables(found.result or {}),
            "download": reverse("admin:consent_request_download", args=[found.pk]),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/consent/request_result.html", context)

    def download_view(self, request, pk: int):
        found = self._request(request, pk)
        response = HttpResponse(access_zip(found), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{zip_name(found)}"'
        return response


@admin.register(SuppressedIdentifier)
class SuppressedIdentifierAdmin(OmnitrailAdmin):
    list_display = ["kind", "value_hash", "created_at", "events_dropped", "last_dropped_at"]
    readonly_fields = [f.name for f in SuppressedIdentifier._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
