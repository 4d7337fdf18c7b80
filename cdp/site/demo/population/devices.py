"""Browsers and app installs, and the networks they connect from."""

from __future__ import annotations

import random
from dataclasses import dataclass

from cdp.site.demo.population.chance import WeightedChoice, new_uuid

APP_SHARE = 0.40  # people with the mobile app installed

# First octets of consumer broadband and mobile carrier address blocks.
HOME_NETWORKS = {"US": (24, 50, 67, 68, 71, 73, 76, 98, 99, 108), "GB": (81, 86, 90, 92, 109)}
MOBILE_NETWORKS = {"US": (172, 174, 107, 166), "GB": (31, 82, 148)}

# (user agent, form factor, weight)
BROWSERS = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/127.0.0.0 Safari/537.36",
        "desktop",
        30,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/17.5 Safari/605.1.15",
        "desktop",
        14,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/127.0.0.0 Safari/537.36 Edg/127.0.0.0",
        "desktop",
        6,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:129.0) Gecko/20100101 Firefox/129.0",
        "desktop",
        4,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
        "mobile",
        28,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/127.0.0.0 Mobile Safari/537.36",
        "mobile",
        15,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
        "tablet",
        3,
    ),
)
# (model, manufacturer)
PHONE_MODELS = {
    "ios": (("iPhone15,2", "Apple"), ("iPhone15,4", "Apple"), ("iPhone16,1", "Apple"),
            ("iPhone16,2", "Apple"), ("iPhone14,5", "Apple")),
    "android": (("Pixel 8", "Google"), ("Pixel 7a", "Google"), ("SM-S921U", "samsung"),
                ("SM-A546U", "samsung"), ("moto g power 5G - 2024", "motorola")),
}  # fmt: skip
OS_VERSIONS = {"ios": ("17.5.1", "17.6.1", "18.0"), "android": ("13", "14", "15")}
OS_NAMES = {"ios": "iOS", "android": "Android"}
IOS_SHARE = {"US": 0.58, "GB": 0.52}
PUSH_OPT_IN = 0.6
NEW_INSTALL_SHARE = 0.25  # app installs that happen inside the window

PICK_BROWSER = WeightedChoice([((agent, form), weight) for agent, form, weight in BROWSERS])


@dataclass
class Device:
    kind: str  # "web" or "app"
    anonymous_id: str
    form: str  # desktop | mobile | tablet | ios | android
    user_agent: str = ""
    device_id: str = ""
    model: str = ""
    manufacturer: str = ""
    os_version: str = ""
    push_enabled: bool = False
    new_install: bool = False
    signed_in_at: int | None = None  # the first sign-in on this device
    sessions: int = 0

    def signed_in(self, t: int) -> bool:
        return self.signed_in_at is not None and self.signed_in_at <= t


def ip_address(rng: random.Random, networks: tuple[int, ...]) -> str:
    return (
        f"{rng.choice(networks)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    )


def new_devices(rng: random.Random, country: str) -> list[Device]:
    has_app = rng.random() < APP_SHARE
    if has_app:
        browsers = rng.choices((0, 1, 2), (15, 60, 25))[0]
    else:
        browsers = rng.choices((1, 2, 3), (55, 33, 12))[0]
    devices = [web_device(rng) for _ in range(browsers)]
    if has_app:
        devices.append(app_device(rng, country))
    return devices


def web_device(rng: random.Random) -> Device:
    user_agent, form = PICK_BROWSER.pick(rng)
    return Device(kind="web", anonymous_id=new_uuid(rng), form=form, user_agent=user_agent)


def app_device(rng: random.Random, country: str) -> Device:
    system = "ios" if rng.random() < IOS_SHARE[country] else "android"
    model, manufacturer = rng.choice(PHONE_MODELS[system])
    if system == "ios":
        device_id = new_uuid(rng).upper()  # identifierForVendor
    else:
        device_id = f"{rng.getrandbits(64):016x}"  # ANDROID_ID
    return Device(
        kind="app",
        anonymous_id=new_uuid(rng),
        form=system,
        device_id=device_id,
        model=model,
        manufacturer=manufacturer,
        os_version=rng.choice(OS_VERSIONS[system]),
        push_enabled=rng.random() < PUSH_OPT_IN,
        new_install=rng.random() < NEW_INSTALL_SHARE,
    )
