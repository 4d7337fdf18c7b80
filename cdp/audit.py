"""The audit log of personal data: who viewed, exported or changed what, in the admin
(the middleware) and on the pages under /app/ (`record_access`).

In cdp, the lowest layer, so that every app's pages can write to it.
"""

from __future__ import annotations

import re

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
            )
        return response


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
