from django.apps import apps
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User

from cdp.admin_forms import OmnitrailAdmin
from cdp.models import AuditEntry, IngestCount, Profile, RejectedEvent, Source, Touchpoint
from cdp.services.ingest import resubmit_rejected
from cdp.services.sources import create_source, rotate_write_key

# The tracking plans and their violations are registered by cdp/tracking_plans/admin.py,
# imported here because Django's admin discovers `<app>.admin` only.
from cdp.tracking_plans import admin as tracking_plans_admin  # noqa: F401


@admin.register(Source)
class SourceAdmin(OmnitrailAdmin):
    list_display = ["name", "kind", "enabled", "rate_limit", "write_key_prefix", "created_at"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name"]
    readonly_fields = ["write_key_prefix", "created_at"]
    actions = ["rotate_keys"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        source, write_key = create_source(obj.name, kind=obj.kind, rate_limit=obj.rate_limit)
        obj.pk = source.pk
        obj.write_key_hash = source.write_key_hash
        obj.write_key_prefix = source.write_key_prefix
        obj.created_at = source.created_at
        Source.objects.filter(pk=source.pk).update(
            enabled=obj.enabled, date_order=obj.date_order, column_mapping=obj.column_mapping
        )
        self.message_user(
            request,
            f"Write key for {source.name} (shown once, copy it now): {write_key}",
            messages.WARNING,
        )

    @admin.action(description="Rotate the write key (the old key stops working)")
    def rotate_keys(self, request, queryset):
        for source in queryset:
            key = rotate_write_key(source)
            self.message_user(request, f"New write key for {source.name}: {key}", messages.WARNING)


@admin.register(Touchpoint)
class TouchpointAdmin(OmnitrailAdmin):
    list_display = ["id", "source", "type", "event", "user_id", "anonymous_id", "timestamp"]
    list_filter = ["type", "source"]
    search_fields = ["message_id", "user_id", "anonymous_id", "event"]
    raw_id_fields = ["profile"]
    date_hierarchy = "timestamp"
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False  # append-only


@admin.register(Profile)
class ProfileAdmin(OmnitrailAdmin):
    list_display = ["id", "merged_into", "created_at", "updated_at"]
    raw_id_fields = ["merged_into"]
    show_full_result_count = False


@admin.register(RejectedEvent)
class RejectedEventAdmin(OmnitrailAdmin):
    list_display = ["id", "source", "code", "reason", "channel", "line", "status", "received_at"]
    list_filter = ["status", "code", "source", "channel"]
    readonly_fields = [
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
    actions = ["resubmit"]

    @admin.action(description="Resubmit the selected events (after fixing their payload)")
    def resubmit(self, request, queryset):
        stored = failed = 0
        for rejected in queryset.filter(status=RejectedEvent.Status.OPEN, payload__isnull=False):
            result = resubmit_rejected(rejected)
            stored += result.accepted + result.duplicates
            failed += len(result.rejected)
        self.message_user(request, f"{stored} stored, {failed} still rejected.")


# "View site" in the admin's header opens the report pages.
admin.site.site_url = "/app/"
admin.site.site_header = "Omnitrail administration"
admin.site.site_title = "Omnitrail administration"
admin.site.index_title = "What Omnitrail holds"


def object_type_in_words(object_type: str) -> str:
    """ "cdp.profile" as "Profile", "consent.datasubjectrequest" as "Data subject request"."""
    try:
        name = apps.get_model(object_type)._meta.verbose_name
    except (LookupError, ValueError):
        return object_type
    return str(name)[:1].upper() + str(name)[1:]


# Django's own user and group pages, with the project's checks on their pickers.
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class StaffUserAdmin(OmnitrailAdmin, UserAdmin):
    pass


@admin.register(Group)
class RoleGroupAdmin(OmnitrailAdmin, GroupAdmin):
    pass


class ObjectTypeFilter(admin.SimpleListFilter):
    title = "object type"
    parameter_name = "object_type"

    def lookups(self, request, model_admin):
        types = AuditEntry.objects.order_by().values_list("object_type", flat=True).distinct()
        return sorted(((t, object_type_in_words(t)) for t in types), key=lambda pair: pair[1])

    def queryset(self, request, queryset):
        return queryset.filter(object_type=self.value()) if self.value() else queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(OmnitrailAdmin):
    list_display = ["at", "username", "action", "object_in_words", "object_id", "path"]
    list_filter = ["action", ObjectTypeFilter]
    search_fields = ["username", "object_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Object type", ordering="object_type")
    def object_in_words(self, entry):
        return object_type_in_words(entry.object_type)


@admin.register(IngestCount)
class IngestCountAdmin(OmnitrailAdmin):
    """Per source: warnings on stored events, bots' events, rejected bodies not kept."""

    list_display = ["source", "code", "field", "count", "last_seen"]
    list_filter = ["source", "code"]
    readonly_fields = ["source", "code", "field", "count", "last_seen"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False
