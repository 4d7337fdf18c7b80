"""The root urls (ROOT_URLCONF): the Segment tracking API, every app's native API, the
OpenAPI schema, the admin and the pages under /app/ (cdp.site.app_urls)."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from attribution import api as attribution_api
from attribution.segments import api as segments_api
from cdp.api import health, native, tracking
from cdp.tracking_plans import api as tracking_plans_api
from consent import api as consent_api
from identity import api as identity_api

# Routes answer with and without the trailing slash (POST /api/v1/consents as documented).
router = DefaultRouter()
router.trailing_slash = "/?"
router.register("sources", native.SourceViewSet, basename="source")
router.register("profiles", identity_api.ProfileViewSet, basename="profile")
router.register("rejected-events", native.RejectedEventViewSet, basename="rejected-event")
router.register("merges", identity_api.MergeDecisionViewSet, basename="merge")
router.register("match-reviews", identity_api.MatchReviewViewSet, basename="match-review")
router.register(
    "stitching-failures", identity_api.StitchingFailureViewSet, basename="stitching-failure"
)
router.register("segments", segments_api.SegmentViewSet, basename="segment")
router.register("tracking-plans", tracking_plans_api.TrackingPlanViewSet, basename="tracking-plan")
router.register("consents", consent_api.ConsentRecordViewSet, basename="consent")
router.register(
    "privacy/requests", consent_api.DataSubjectRequestViewSet, basename="privacy-request"
)

# Unknown paths under /api/ answer JSON, as the API does.
handler404 = "cdp.api.errors.page_not_found"

urlpatterns = [
    re_path(
        r"^v1/(?P<endpoint>batch|track|identify|page|screen|alias|group)/?$",
        tracking.segment_endpoint,
        name="segment",
    ),
    # analytics.js's one-letter paths, the legacy mobile SDKs' /v1/import, RudderStack's beacon.
    re_path(
        r"^v1/(?P<endpoint>[btipsga]|import)/?$", tracking.segment_endpoint, name="segment-short"
    ),
    re_path(r"^beacon/v1/(?P<endpoint>batch)/?$", tracking.segment_endpoint, name="segment-beacon"),
    path("healthz", health.healthz, name="healthz"),
    re_path(r"^api/v1/attribution/credits/?$", attribution_api.credits, name="credits"),
    re_path(r"^api/v1/costs/?$", attribution_api.costs, name="costs"),
    re_path(
        r"^api/v1/attribution/reports/(?P<name>[\w-]+)/?$",
        attribution_api.report,
        name="attribution-report",
    ),
    re_path(
        r"^api/v1/profiles/(?P<pk>\d+)/segments/?$",
        segments_api.profile_segments,
        name="profile-segments",
    ),
    re_path(
        r"^api/v1/profiles/(?P<pk>\d+)/traits/?$",
        segments_api.profile_traits,
        name="profile-traits",
    ),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("admin/", admin.site.urls),
    path("app/", include("cdp.site.app_urls")),
]
