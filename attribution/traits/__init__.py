"""Computed traits: per-profile values staff define in the admin without code (an event
counter, a sum / average / minimum / maximum of a property, the most frequent, first or
last value, the unique values and their count), each over an event filter and a window.
docs/activation.md, "Computed traits".

    models.py    the definitions and each profile's value
    engine.py    the computation over one profile's events (pure: no Django)
    services.py  computed for every profile in bounded chunks of profiles, and for the
                 changed ones with their facts (incremental)
    admin.py     the definitions, each explained in words

Its tables belong to the attribution app (re-exported by attribution.models). Segment
rules read them: {"computed": "<key>", "op": "gte", "value": 3}.
"""
