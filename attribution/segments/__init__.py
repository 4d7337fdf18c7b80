"""Segments and activation: audiences defined by rules over the unified profiles, kept
up to date as profiles change, and sent (consent permitting) to the tools that act on
them. docs/segments.md describes the feature; start reading at `rules.py`.

    rules.py         the rule grammar: validation (errors name the place,
                     `definition.all[1].op`), rules in words, the admin's rows, templates
                     (pure: no Django)
    facts.py         per-profile facts the rules read: channels, value, RFM, CLV,
                     personas (k-means), best time to contact (pure: pandas, NumPy)
    models.py        facts, segments, memberships, destinations, deliveries, exports
                     (tables of the attribution app, re-exported by attribution.models)
    selectors.py     the reads: rules compiled to one database query, members and their
                     history, best time, personas, changed profiles, the pages' reads
    services.py      the writes: save and refresh segments (all, or the changed profiles),
                     refresh the profile facts
    destinations.py  activation: file exports and signed webhooks with retries
    platforms.py     the ad platforms' audience formats: normalisation and SHA-256
                     (Google Ads Customer Match, Meta Custom Audiences; pure)
    audiences.py     hashed audiences: consent per platform, full and delta files, the
                     delivery record; "send now" for every destination kind
    tasks.py         Celery tasks (registered under "attribution.tasks.<function>")
    api.py, views.py, forms.py, admin.py
                     /api/v1/segments/, the Segments pages under /app/, the admin's
                     segment editor

The templates stay where Django looks for the attribution app's:
attribution/templates/app/segments.html, segment.html and
attribution/templates/admin/attribution/segment/change_form.html. The commands are
attribution/management/commands/refresh_segments.py and export_segment.py.
"""
