import itertools

import pytest

from cdp.services.ingest import ingest_batch
from cdp.services.sources import create_source

_ids = itertools.count()


@pytest.fixture
def deliver(db, django_capture_on_commit_callbacks):
    """Ingest events through the real ingest service; identity runs on commit as it would."""
    sources = {}

    def send_events(*events, source="web", kind="web"):
        if source not in sources:
            sources[source] = create_source(source, kind=kind)[0]
        stamped = [{"messageId": f"m-{next(_ids)}", **event} for event in events]
        with django_capture_on_commit_callbacks(execute=True):
            result = ingest_batch(sources[source], stamped, channel="import")
        assert not result.rejected, result.rejected
        return stamped

    return send_events
