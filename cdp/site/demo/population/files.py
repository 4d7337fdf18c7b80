"""The eight files: their names, their CSV columns, and the writer that appends each
finished person to them (ground_truth.csv: who every identifier belongs to)."""

from __future__ import annotations

import csv
import pathlib
from typing import IO, TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from _csv import Writer as CsvWriter

    from cdp.site.demo.population.simulation import PersonSimulation

WEB_FILE = "web.ndjson"
APP_FILE = "app.ndjson"
EMAIL_FILE = "email.ndjson"
POS_FILE = "pos.csv"
CRM_FILE = "crm.csv"
CONSENTS_FILE = "consents.csv"
AD_COSTS_FILE = "ad_costs.csv"
GROUND_TRUTH_FILE = "ground_truth.csv"
FILES = (
    WEB_FILE,
    APP_FILE,
    EMAIL_FILE,
    POS_FILE,
    CRM_FILE,
    CONSENTS_FILE,
    AD_COSTS_FILE,
    GROUND_TRUTH_FILE,
)

CSV_HEADERS = {
    # Columns prefixed `traits.` go to the event's context.traits on import; the rest
    # (except the Segment fields message_id, timestamp, event, user_id) to properties.
    POS_FILE: "message_id,timestamp,event,user_id,traits.loyalty_id,traits.email,order_id,"
    "store_id,revenue,currency",
    CRM_FILE: "crm_id,first_name,last_name,email,phone,birthday,street,city,postal_code,state,"
    "country,loyalty_id",
    CONSENTS_FILE: "timestamp,user_id,email,purpose,status,source",
    AD_COSTS_FILE: "date,channel,source,medium,campaign,cost,currency,impressions,clicks",
    GROUND_TRUTH_FILE: "person_id,source,kind,value",
}
CSV_COLUMNS = {name: tuple(header.split(",")) for name, header in CSV_HEADERS.items()}
# The tracked sources (source name, file), in the order their files are written.
TRACKED = (("web", WEB_FILE), ("app", APP_FILE), ("email", EMAIL_FILE))


def tracked_in_time_order(out_dir: pathlib.Path) -> list[tuple[str, dict[str, Any]]]:
    """(source name, event) for every web, app and email event, all three sources
    interleaved in time order, as live traffic arrives (the files group each person's
    events together)."""
    events = [
        (name, event)
        for name, filename in TRACKED
        for event in map(orjson.loads, (out_dir / filename).read_bytes().splitlines())
    ]
    events.sort(key=lambda row: row[1].get("timestamp") or "")
    return events


class PopulationFiles:
    """The eight files, open for the whole run; people are appended as they are finished."""

    def __init__(self, out_dir: pathlib.Path):
        self.out_dir = out_dir
        self.counts = dict.fromkeys(FILES, 0)
        self.streams: dict[str, IO[Any]] = {}  # binary for .ndjson, text for .csv
        self.writers: dict[str, CsvWriter] = {}

    def __enter__(self) -> PopulationFiles:
        for name in self.counts:
            if name.endswith(".ndjson"):
                self.streams[name] = (self.out_dir / name).open("wb")
            else:
                stream = (self.out_dir / name).open("w", newline="", encoding="utf-8")
                self.streams[name] = stream
                self.writers[name] = csv.writer(stream, lineterminator="\n")
                self.writers[name].writerow(CSV_COLUMNS[name])
        return self

    def __exit__(self, *exc_info) -> None:
        for stream in self.streams.values():
            stream.close()

    def write_messages(self, name: str, messages: list[tuple[int, dict]]) -> None:
        if messages:
            self.streams[name].write(b"".join(orjson.dumps(m) + b"\n" for _, m in messages))
            self.counts[name] += len(messages)

    def write_rows(self, name: str, rows) -> None:
        rows = list(rows)
        self.writers[name].writerows(rows)
        self.counts[name] += len(rows)

    def write_person(self, sim: PersonSimulation) -> None:
        self.write_messages(WEB_FILE, sim.web)
        self.write_messages(APP_FILE, sim.app)
        self.write_messages(EMAIL_FILE, sim.email)
        self.write_rows(POS_FILE, (row for _, row in sim.pos))
        self.write_rows(CRM_FILE, sim.crm)
        self.write_rows(CONSENTS_FILE, (row for _, row in sim.consents))
        person_id = sim.person.person_id
        self.write_rows(
            GROUND_TRUTH_FILE,
            ([person_id, source, kind, value] for source, kind, value in sim.identifiers),
        )
