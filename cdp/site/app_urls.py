"""The pages under /app/: server-rendered reports, the 360° customer view, identity review."""

from django.contrib.auth import views as auth_views
from django.urls import path

from attribution.segments import views as segments
from attribution.views import journeys, reports
from cdp.site import views as customer
from cdp.tracking_plans import views as tracking_plans
from identity import views as identity

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="app-login"),
    path("logout/", auth_views.LogoutView.as_view(), name="app-logout"),
    path("", reports.overview, name="app-overview"),
    path("attribution/", reports.attribution_page, name="app-attribution"),
    path("journeys/", journeys.journeys_page, name="app-journeys"),
    path("segments/", segments.segment_list, name="app-segments"),
    path("segments/<int:pk>/", segments.segment_detail, name="app-segment"),
    path("profiles/", customer.profile_search, name="app-profiles"),
    path("profiles/<int:pk>/", customer.profile_detail, name="app-profile"),
    path(
        "profiles/<int:pk>/unmerge/<int:decision_pk>/",
        customer.profile_unmerge,
        name="app-profile-unmerge",
    ),
    path("tracking-plans/", tracking_plans.plan_list, name="app-tracking-plans"),
    path("tracking-plans/<int:pk>/", tracking_plans.plan_detail, name="app-tracking-plan"),
    path("identity/review/", identity.review_queue, name="app-identity-review"),
    path(
        "identity/review/<int:pk>/decide/",
        identity.review_decide,
        name="app-identity-review-decide",
    ),
]
