"""The groups a platform operator hands to people, with the permissions each role needs.

Seeded after every migrate, as Django seeds permissions: each group gets at least the
permissions listed here. Operators add people to groups, or grant permissions one by
one, in the admin (Authentication and Authorization).
"""

from __future__ import annotations

# Analysts see the reports, not raw personal data; customer care opens the 360° page;
# identity stewards also decide borderline matches and unmerge.
ROLES = {
    "Analysts": ["attribution.view_reports", "cdp.view_trackingplan"],
    "Customer care": [
        "attribution.view_reports",
        "cdp.view_customer_360",
        "cdp.view_personal_data",
    ],
    "Identity stewards": [
        "attribution.view_reports",
        "cdp.view_customer_360",
        "cdp.view_personal_data",
        "identity.view_matchreview",
        "identity.change_matchreview",
        "identity.view_mergedecision",
        "identity.change_mergedecision",
        "cdp.view_trackingplan",
        "identity.view_stitchingfailure",
    ],
}


def ensure_roles(apps) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        for perm in perms:
            app_label, codename = perm.split(".")
            found = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            # Permissions arrive app by app during one migrate; the next app's signal
            # grants what was missing here.
            if found is not None:
                group.permissions.add(found)
