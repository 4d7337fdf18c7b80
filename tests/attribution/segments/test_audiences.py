"""Hashed audiences for Google Ads Customer Match and Meta Custom Audiences: each
identifier normalised as the platforms' documentation shows it, SHA-256 as published,
only members Consent Mode v2's purposes allow, and a delta after members enter and
leave (and one withdraws)."""

import csv
import hashlib

import pytest

from attribution.models import Destination, DestinationMember, Export, SegmentMembership
from attribution.segments import platforms
from attribution.segments.audiences import deliver_audience
from attribution.segments.services import refresh_segment, save_segment
from cdp.models import Profile
from consent.models import Purpose
from consent.selectors import profile_by_identifier
from consent.services import record_consent
from identity.engine.normalize import normalize_identifier


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- the platforms' documented examples (pure) ---------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        # Google Data Manager API, "Format user data": the two examples of email_address.
        ("cloudy.sanfrancisco+shopping@gmail.com", "cloudysanfrancisco@gmail.com"),
        ("user.name+NYC@Example.com", "user.name+nyc@example.com"),
        ("  Jane.Doe@GoogleMail.com ", "janedoe@googlemail.com"),
        ("not an address", ""),
    ],
)
def test_google_email_normalisation_follows_the_documented_examples(raw, normalised):
    assert platforms.google_email(raw) == normalised


def test_google_phone_is_e164_as_in_the_documented_example():
    # "the US phone number (800)555-0100 should be formatted and normalised to +18005550100"
    assert platforms.e164("(800)555-0100", "US") == "+18005550100"
    assert platforms.e164("(800)555-0100", "United States") == "+18005550100"
    assert platforms.e164("06 12 34 56 78", "FR") == "+33612345678"
    assert platforms.e164("12", "FR") == ""  # not a possible number: left empty


def test_google_names_drop_titles_and_suffixes_and_are_lower_cased():
    assert platforms.google_name("  Mrs. Jane ") == "jane"
    assert platforms.google_name("Doe Jr.") == "doe"
    assert platforms.google_name("Émilie") == "émilie"


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        # Meta's customer-list guide: phone examples with and without punctuation.
        ("1-234-567-8910", "12345678910"),
        ("12345678910", "12345678910"),
        ("+44 844 412 4653", "448444124653"),
    ],
)
def test_meta_phone_is_digits_with_the_country_code(raw, normalised):
    assert platforms.meta_phone(raw) == normalised


def test_meta_fields_normalise_as_its_guide_specifies():
    assert platforms.meta_email("  John.Doe@Example.COM ") == "john.doe@example.com"
    assert platforms.meta_name("Émilie") == "émilie"  # accents kept, UTF-8
    assert platforms.meta_name("O'Brien-Smith") == "obriensmith"  # no punctuation
    assert platforms.meta_zip("94035-1234", "US") == "94035"  # US: first five digits
    assert platforms.meta_zip("SW1A 1AA", "GB") == "sw1a1aa"
    assert platforms.meta_state("California", "US") == "ca"  # the ANSI code
    assert platforms.meta_state("Île-de-France", "FR") == "iledefrance"
    assert platforms._ascii_letters("San Francisco") == "sanfrancisco"
    assert platforms.birth_year("1984-03-07") == "1984"
    assert platforms.gender("Female") == "f"
    row = platforms.meta_row(platforms.Person(country="France"))
    assert row["country"] == sha("fr") and row["email"] == ""  # nothing, not the hash of ""


def test_sha256_is_the_published_lower_case_hex_digest():
    # TikTok's customer-file guide: janedoe@gmail.com hashes to d6117306...; the X Ads
    # guide: "adsapi" hashes to 49e0be2a... (lower case, unsalted).
    assert platforms.sha256("janedoe@gmail.com") == (
        "d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69"
    )
    assert platforms.sha256("adsapi") == (
        "49e0be2aeccfb51a8dee4c945c8a70a9ac500cf6f5cb08112575f74db9b1470d"
    )
    assert platforms.sha256("") == ""


def test_google_row_hashes_what_google_hashes_and_keeps_country_and_zip_plain():
    person = platforms.Person(
        email="Jane.Doe+ads@gmail.com",
        phone="(800)555-0100",
        first_name="Jane",
        last_name="Doe",
        postal_code="94035-1234",
        country="United States",
    )
    assert platforms.google_row(person) == {
        "Email": sha("janedoe@gmail.com"),
        "Phone": sha("+18005550100"),
        "First Name": sha("jane"),
        "Last Name": sha("doe"),
        "Country": "US",
        "Zip": "94035",
    }


@pytest.mark.parametrize(
    ("raw", "country"),
    [
        ("(800)555-0100", "US"),
        ("07589 729978", "GB"),
        ("+44 844 412 4653", ""),
        ("030 1234567", "DE"),
    ],
)
def test_a_phone_identity_stored_gives_the_row_its_raw_form_gives(raw, country):
    # Identity stores a phone identifier already in E.164; the rows take it as it is
    # instead of parsing it again. Same hashes as the raw phone read in its country.
    stored = normalize_identifier("phone", raw, default_region=country or "US")
    assert stored and stored.startswith("+")
    from_identity = person_of({"phone": stored}, {"country": country})
    from_traits = person_of({}, {"phone": raw, "country": country})
    assert from_identity.phone_e164 == stored and from_traits.phone_e164 == ""
    for make in (platforms.google_row, platforms.meta_row):
        assert make(from_identity) == make(from_traits)
    assert platforms.meta_row(from_identity)["phone"] == sha(stored.lstrip("+"))


def person_of(identifiers, traits):
    """The Person a profile with these identifiers and traits (as stored) gives, each
    field the first of its trait names that is set, as text (what the database reads,
    `audiences._trait_fields`, worked out by hand)."""

    def first_set(*names):
        values = [traits.get(name) for name in names]
        return next((str(v) for v in values if v is not None and v != ""), "")

    fields = {field: first_set(*names) for field, names in platforms.TRAITS.items()}
    return platforms.Person.of_fields(identifiers, fields)


# --- deliveries through the database -------------------------------------------------


def pid(user):
    return profile_by_identifier(f"user_id:{user}").pk


def person(user, **traits):
    return {"type": "identify", "userId": user, "traits": {"plan": "gold", **traits}}


@pytest.fixture
def gold(deliver):
    """ann and dee granted both advertising purposes; bob granted ad_user_data but
    refused ad_personalization; cy said nothing (both are opt-in)."""
    deliver(
        person("ann", email="Ann.Smith+shop@Gmail.com", phone="(415) 555-0132",
               first_name="Ann", last_name="Smith", postal_code="94035-1234",
               city="Mountain View", state="California", country="US",
               birthday="1984-03-07", gender="female"),
        person("bob", email="bob@example.com", first_name="Bob", country="FR"),
        person("cy", email="cy@example.com", country="FR"),
        person("dee", email="dee@example.com", phone="06 12 34 56 78", country="FR"),
    )  # fmt: skip
    for user, purposes in {
        "ann": {"ad_user_data": "granted", "ad_personalization": "granted"},
        "bob": {"ad_user_data": "granted", "ad_personalization": "denied"},
        "dee": {"ad_user_data": "granted", "ad_personalization": "granted"},
    }.items():
        for purpose, status in purposes.items():
            record_consent(pid(user), purpose, status, channel="api")
    segment = save_segment(
        name="Gold members", definition={"trait": "plan", "op": "equals", "value": "gold"}
    )
    refresh_segment(segment)
    return segment


def destination(kind, segment, tmp_path):
    made = Destination.objects.create(
        name=f"{kind} audience",
        kind=kind,
        purpose=Purpose.objects.get(key="ad_user_data"),
        path=str(tmp_path),
    )
    made.segments.add(segment)
    return made


def rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


@pytest.mark.django_db
def test_google_full_file_has_the_consenting_members_normalised_and_hashed(gold, tmp_path):
    export = deliver_audience(destination("google_ads", gold, tmp_path), gold)
    header, written = rows(export.path)
    assert header == ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"]
    assert export.mode == "full" and export.rows == 2
    assert export.left_out_for_consent == 2  # bob (ad_personalization), cy (both)
    assert export.left_out_by_purpose == {"ad_user_data": 1, "ad_personalization": 2}
    by_email = {row["Email"]: row for row in written}
    assert set(by_email) == {sha("annsmith@gmail.com"), sha("dee@example.com")}
    ann = by_email[sha("annsmith@gmail.com")]
    assert ann == {
        "Email": sha("annsmith@gmail.com"),
        "Phone": sha("+14155550132"),
        "First Name": sha("ann"),
        "Last Name": sha("smith"),
        "Country": "US",
        "Zip": "94035",
    }
    dee = by_email[sha("dee@example.com")]
    assert (dee["Phone"], dee["First Name"], dee["Country"]) == (sha("+33612345678"), "", "FR")


@pytest.mark.django_db
def test_meta_full_file_uses_its_own_normalisation_for_the_same_people(gold, tmp_path):
    export = deliver_audience(destination("meta_ads", gold, tmp_path), gold)
    header, written = rows(export.path)
    assert header == list(platforms.META_COLUMNS)
    assert (export.rows, export.left_out_for_consent) == (2, 2)
    ann = next(row for row in written if row["email"] == sha("ann.smith+shop@gmail.com"))
    assert ann == {
        "email": sha("ann.smith+shop@gmail.com"),  # Meta keeps the dots and the +tag
        "phone": sha("14155550132"),
        "fn": sha("ann"),
        "ln": sha("smith"),
        "zip": sha("94035"),
        "ct": sha("mountainview"),
        "st": sha("ca"),
        "country": sha("us"),
        "doby": sha("1984"),
        "gen": sha("f"),
    }


@pytest.mark.django_db
def test_delta_after_members_enter_and_leave_and_one_withdraws(gold, deliver, tmp_path):
    google = destination("google_ads", gold, tmp_path)
    first = deliver_audience(google, gold)
    assert first.mode == "full" and first.rows == 2

    deliver(person("ann", plan="silver"), person("eve", email="eve@example.com"))
    for purpose in ("ad_user_data", "ad_personalization"):
        record_consent(pid("eve"), purpose, "granted", channel="api")
    record_consent(pid("dee"), "ad_personalization", "withdrawn", channel="api")
    refresh_segment(gold)
    ann_stay = SegmentMembership.objects.get(segment=gold, profile_id=pid("ann"))
    assert ann_stay.exited_at is not None  # the history says ann left

    delta = deliver_audience(google, gold)
    assert (delta.mode, delta.rows, delta.removed) == ("delta", 1, 2)
    assert [row["Email"] for row in rows(delta.path)[1]] == [sha("eve@example.com")]
    removed = {row["Email"] for row in rows(delta.removed_path)[1]}
    assert removed == {sha("annsmith@gmail.com"), sha("dee@example.com")}
    assert delta.left_out_by_purpose == {"ad_user_data": 1, "ad_personalization": 3}

    nothing_new = deliver_audience(google, gold)
    assert (nothing_new.rows, nothing_new.removed) == (0, 0)
    assert rows(nothing_new.path) == (list(platforms.GOOGLE_COLUMNS), [])
    assert Export.objects.filter(destination=google).count() == 3
    full = deliver_audience(google, gold, full=True)
    assert {row["Email"] for row in rows(full.path)[1]} == {sha("eve@example.com")}
    assert told(google, gold) == {pid("eve")}

    # A full delivery also forgets who is no longer given (the next delta starts from it).
    record_consent(pid("eve"), "ad_user_data", "withdrawn", channel="api")
    again = deliver_audience(google, gold, full=True)
    assert (again.rows, again.left_out_by_purpose["ad_user_data"]) == (0, 2)
    assert told(google, gold) == set()
    record_consent(pid("eve"), "ad_user_data", "granted", channel="api")
    back = deliver_audience(google, gold)
    assert (back.mode, back.rows, back.removed) == ("delta", 1, 0)
    assert told(google, gold) == {pid("eve")}


def told(destination, segment):
    """Whom the destination was last told is in the segment."""
    rows = DestinationMember.objects.filter(destination=destination, segment=segment)
    return set(rows.values_list("profile_id", flat=True))


# --- from the segment page and the admin -----------------------------------------------


@pytest.fixture
def marketer(user_in):
    """Sees reports and personal data, and may send to destinations."""
    from django.contrib.auth.models import Permission

    client = user_in("Customer care", name="mia")
    client.user.user_permissions.add(
        Permission.objects.get(codename="change_destination", content_type__app_label="attribution")
    )
    return client


def streamed(response):
    return b"".join(response.streaming_content).decode()


@pytest.mark.django_db
def test_segment_page_downloads_the_hashed_audiences_and_sends_now(gold, marketer, tmp_path):
    google = destination("google_ads", gold, tmp_path)
    page_url = f"/app/segments/{gold.pk}/"

    meta = streamed(marketer.get(page_url, {"download": "meta_ads"})).splitlines()
    assert meta[0] == ",".join(platforms.META_COLUMNS)
    assert sorted(line.split(",")[0] for line in meta[1:]) == sorted(
        [sha("ann.smith+shop@gmail.com"), sha("dee@example.com")]
    )

    sent = marketer.post(page_url, {"send": google.pk}, follow=True)
    export = Export.objects.get(destination=google)
    assert sent.status_code == 200 and export.mode == "full" and export.rows == 2
    html = sent.content.decode()
    assert "google_ads audience: the full audience, 2 profiles (2 left out for consent" in html
    assert "ad_user_data: 1, ad_personalization: 2" in html
    assert f'data-file="{export.pk}"' in html

    downloaded = marketer.get(page_url, {"file": export.pk})
    assert downloaded.status_code == 200
    assert b"".join(downloaded.streaming_content) == open(export.path, "rb").read()

    marketer.post(page_url, {"send": google.pk})
    delta = Export.objects.filter(destination=google).latest("pk")
    assert (delta.mode, delta.rows, delta.removed) == ("delta", 0, 0)
    removed = marketer.get(page_url, {"file": delta.pk, "part": "removed"})
    assert b"".join(removed.streaming_content).decode().splitlines() == [
        ",".join(platforms.GOOGLE_COLUMNS)
    ]


@pytest.mark.django_db
def test_bad_activation_requests_get_an_answer_not_a_500(gold, marketer, analyst, tmp_path):
    page_url = f"/app/segments/{gold.pk}/"
    refused = marketer.post(page_url, {"send": "Google"}, follow=True)
    assert refused.status_code == 200
    assert "Destination: pick one of this segment" in refused.content.decode()
    assert marketer.get(page_url, {"file": "abc"}).status_code == 404
    assert marketer.get(page_url, {"file": 999999}).status_code == 404
    # hashed identifiers are still personal data; sending needs its own permission
    assert analyst.get(page_url, {"download": "google_ads"}).status_code == 403
    assert analyst.post(page_url, {"send": 1}).status_code == 403
    assert "needs the “see raw personal data” permission" in analyst.get(page_url).content.decode()


@pytest.mark.django_db
def test_admin_sends_an_ad_platform_audience_and_links_its_files(gold, admin_client, tmp_path):
    google = destination("google_ads", gold, tmp_path)
    response = admin_client.post(
        "/admin/attribution/destination/",
        {"action": "export_now", "_selected_action": [google.pk]},
        follow=True,
    )
    export = Export.objects.get(destination=google)
    assert "Gold members → google_ads audience: the full audience, 2 profiles" in (
        response.content.decode()
    )
    listing = admin_client.get("/admin/attribution/export/").content.decode()
    assert f'href="/app/segments/{gold.pk}/?file={export.pk}"' in listing


@pytest.mark.django_db
def test_command_sends_the_full_file_then_a_delta(gold, tmp_path):
    from io import StringIO

    from django.core.management import CommandError, call_command

    destination("meta_ads", gold, tmp_path)
    out = StringIO()
    call_command("export_segment", destination="meta_ads audience", stdout=out)
    call_command("export_segment", destination="meta_ads audience", stdout=out)
    call_command("export_segment", "--full", destination="meta_ads audience", stdout=out)
    assert out.getvalue().splitlines() == [
        "Gold members -> meta_ads audience: the full audience, 2 profiles "
        "(2 left out for consent, 0 with nothing to match on)",
        "Gold members -> meta_ads audience: 0 added and 0 removed since the last delivery "
        "(2 left out for consent, 0 with nothing to match on)",
        "Gold members -> meta_ads audience: the full audience, 2 profiles "
        "(2 left out for consent, 0 with nothing to match on)",
    ]
    with pytest.raises(CommandError, match="--destination: no file or ad-platform"):
        call_command("export_segment", destination="Nope")


@pytest.mark.django_db
def test_an_ad_platform_folder_outside_the_export_directory_is_refused(gold):
    from django.core.exceptions import ValidationError

    from cdp.errors import InvalidField

    outside = Destination(
        name="Leaky", kind="google_ads", purpose=Purpose.objects.get(key="ad_user_data"),
        path="../../elsewhere",
    )  # fmt: skip
    with pytest.raises(ValidationError) as refused:
        outside.clean()
    assert "inside the export directory" in refused.value.message_dict["path"][0]
    outside.save()
    with pytest.raises(InvalidField) as error:
        deliver_audience(outside, gold)
    assert error.value.field == "path" and not Export.objects.exists()


def test_rows_read_traits_under_every_name_a_person_field_has(deliver):
    """The database reads each field's first set trait name (firstName, zip ...), a
    number as its text, and an empty value as unset: the rows are those the traits
    as stored make."""
    from attribution.segments.audiences import audience_rows

    traits = {
        "firstName": "Ada",
        "first_name": "",
        "lastName": "Lovelace",
        "zip": 94035,
        "country": "US",
        "date_of_birth": "1815-12-10",
        "gender": None,
    }
    deliver(person("ada", **traits))
    stored = Profile.objects.get(pk=pid("ada")).traits
    for platform in (platforms.GOOGLE_ADS, platforms.META_ADS):
        rows = list(audience_rows(platform, [pid("ada")]))
        columns = platforms.COLUMNS[platform]
        expected = platforms.ROWS[platform](person_of({}, stored))
        assert rows == [(pid("ada"), [expected[c] for c in columns])]
    google = dict(zip(platforms.GOOGLE_COLUMNS, rows_of(platforms.GOOGLE_ADS, "ada"), strict=True))
    assert google["First Name"] == sha("ada") and google["Zip"] == "94035"
    assert google["Last Name"] == sha("lovelace") and google["Email"] == ""


def rows_of(platform, user):
    from attribution.segments.audiences import audience_rows

    return next(row for _, row in audience_rows(platform, [pid(user)]))
