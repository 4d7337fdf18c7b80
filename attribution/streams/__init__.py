"""Event streams: touchpoints forwarded, as they arrive, to an HTTP endpoint in the
Segment message format (docs/activation.md, "Event streams").

    models.py    stream destinations (filters, consent purpose, endpoint, cursor) and
                 their batches (pending, sent, failed: the dead-letter list)
    services.py  forwarding (filters, consent, `integrations` opt-outs, batches), sending
                 (HMAC-signed, retried with backoff, parked when out of attempts),
                 replay of a date range
    admin.py     the destinations (replay a range), the batches (retry the parked)

Its tables belong to the attribution app (re-exported by attribution.models); its tasks
are in attribution/segments/tasks.py with the other activation tasks; the commands are
attribution/management/commands/forward_streams.py and replay_stream.py.
"""
