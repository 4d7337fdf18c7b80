"""A minimal IAB TCF v2.2 core-string writer, for test fixtures only (the product reads
strings with iab-tcf; nothing in Omnitrail writes them)."""

import base64


def tc_string(purposes: set[int], *, cmp_id: int = 7, policy_version: int = 4) -> str:
    bits = ""

    def put(value: int, width: int) -> None:
        nonlocal bits
        bits += format(value, f"0{width}b")

    def letters(text: str) -> None:
        for char in text:
            put(ord(char) - ord("A"), 6)

    deciseconds = 17_000_000_000  # 2023-11-14
    put(2, 6)  # version
    put(deciseconds, 36)  # created
    put(deciseconds, 36)  # last updated
    put(cmp_id, 12)
    put(1, 12)  # CMP version
    put(1, 6)  # consent screen
    letters("EN")
    put(150, 12)  # vendor list version
    put(policy_version, 6)
    put(1, 1)  # service specific
    put(0, 1)  # non-standard texts
    put(0, 12)  # special feature opt-ins
    for purpose in range(1, 25):
        put(1 if purpose in purposes else 0, 1)
    put(0, 24)  # legitimate interests
    put(0, 1)  # purpose one treatment
    letters("GB")
    put(0, 16)  # max vendor id (consents)
    put(0, 1)
    put(0, 16)  # max vendor id (legitimate interests)
    put(0, 1)
    put(0, 12)  # publisher restrictions
    bits += "0" * (-len(bits) % 8)
    raw = int(bits, 2).to_bytes(len(bits) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
