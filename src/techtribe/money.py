"""Money in the API: integer minor units plus an ISO 4217 currency code, never a float."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

# Active ISO 4217 codes (2024 list, funds and precious metals left out).
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
    KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP
    MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
    RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT
    TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR
    ZMW ZWG
    """.split()  # noqa: SIM905
)

MAX_PRICE_CENTS = 100_000_000


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def _known_currency(value: str) -> str:
    if value not in ISO_4217:
        raise ValueError("currency must be an ISO 4217 code such as USD or EUR")
    return value


Currency = Annotated[
    str,
    BeforeValidator(_upper),
    Field(min_length=3, max_length=3, examples=["USD"]),
    AfterValidator(_known_currency),
]
# strict: 10.0 or "10" is a 422, not silently an integer.
PriceCents = Annotated[int, Field(strict=True, ge=0, le=MAX_PRICE_CENTS, examples=[35000])]
