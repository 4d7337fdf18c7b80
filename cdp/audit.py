"""The audit log of personal data: who viewed, exported or changed what, in the admin
(the middleware) and on the pages under /app/ (`record_access`).

In cdp, the lowest layer, so that every app's pages can write to it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Collection
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Q
from django.utils.crypto import salted_hmac

from cdp.models import AuditEntry

# Admin pages that show or change personal data, by app and model.
PERSONAL = {
    ("cdp", "profile"),
    ("cdp", "touchpoint"),
    ("cdp", "rejectedevent"),
    ("identity", "identifier"),
    ("identity", "mergedecision"),
    ("identity", "matchreview"),
    ("consent", "consentrecord"),
    ("consent", "datasubjectrequest"),
}
# Query parameters of admin lists that hold no personal data (ordering, page, all rows);
# every other value (the search box `q`, filters on a value) is kept as a keyed hash.
_PLAIN_PARAMETERS = {"o", "p", "all", "_popup", "_to_field"}
_ADMIN_PAGE = re.compile(r"^/admin/(?P<app>\w+)/(?P<model>\w+)/(?:(?P<id>[^/]+)/(?:\w+/)?)?$")


class AdminAuditMiddleware:
    """Records every successful admin request on a personal-data page by a signed-in
    user: a GET is a view (of a list or one object), a POST a change (an edit, a delete
    or an admin action such as unmerge)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = _ADMIN_PAGE.match(request.path)
        user = getattr(request, "user", None)
        if (
            match
            and (match["app"], match["model"]) in PERSONAL
            and user is not None
            and user.is_authenticated
            and response.status_code < 400
            and request.method in ("GET", "POST")
        ):
            object_id = match["id"] or ""
            if request.method == "POST" and not object_id:
                object_id = ",".join(request.POST.getlist("_selected_action"))[:100]
            record_access(
                request,
                action=AuditEntry.Action.VIEW
                if request.method == "GET"
                else AuditEntry.Action.CHANGE,
                object_type=f"{match['app']}.{match['model']}",
                object_id="" if object_id == "add" else object_id,
                path=audited_path(request),
            )
        return response


def fingerprint(value: str) -> str:
    """What the audit log keeps of a searched value: a keyed hash (the suppression list's
    key), so that "who looked this up?" can be answered from a value at hand while the
    log itself names no one."""
    key = (
        settings.OMNITRAIL_SUPPRESSION_KEY.encode()
        if settings.OMNITRAIL_SUPPRESSION_KEY
        else salted_hmac("omnitrail.suppression", "key").digest()
    )
    digest = hmac.new(key, f"search:{value.strip().lower()}".encode(), hashlib.sha256)
    return "hmac:" + digest.hexdigest()[:32]


def audited_path(request) -> str:
    """The request's path with every query value that may hold personal data hashed."""
    if not request.GET:
        return request.path
    query = [
        (name, value if name in _PLAIN_PARAMETERS else fingerprint(value))
        for name, values in request.GET.lists()
        for value in values
    ]
    return f"{request.path}?{urlencode(query)}"


def forget_in_audit(values: Collection[str], *, hashes: Collection[str] = ()) -> int:
    """Erasure: the audit entries whose path names one of `values` in clear (written
    before searches were hashed) or by its fingerprint lose their query string, and the
    searches on /app/ recorded by one of the person's identifier `hashes` lose it. Who did
    what, and when, stays. Returns how many entries were cleaned."""
    wanted = [value for value in values if value and len(value) >= 3]
    mentions = Q(pk__in=[])
    for value in wanted:
        mentions |= Q(path__icontains=value) | Q(path__contains=fingerprint(value))
    for value_hash in hashes:
        mentions |= Q(object_id__endswith=f":{value_hash}")
    entries = list(AuditEntry.objects.filter(mentions).only("pk", "path", "object_id"))
    for entry in entries:
        if "?" in entry.path:
            entry.path = entry.path.split("?", 1)[0] + "?[erased]"
        if any(entry.object_id.endswith(f":{value_hash}") for value_hash in hashes):
            entry.object_id = "[erased]"
    AuditEntry.objects.bulk_update(entries, ["path", "object_id"], batch_size=500)
    return len(entries)


def record_access(
    request,
    *,
    action: str = AuditEntry.Action.VIEW,
    object_type: str,
    object_id: str | int = "",
    path: str | None = None,
) -> AuditEntry:
    """Record that the signed-in user viewed, exported or changed personal data outside
    the admin (the pages under /app/), as the admin middleware does for the admin.

    `path` defaults to the full address; pass a cleaned one when the query string holds
    personal data (a search), so that the audit log does not become a copy of it."""
    user = request.user
    return AuditEntry.objects.create(
        user=user,
        username=user.get_username(),
        action=action,
        object_type=object_type,
        object_id=str(object_id)[:100],
        path=(request.get_full_path() if path is None else path)[:300],
    )
