"""resource.Quantity: grammar, canonical form, values and comparison (apimachinery rules)."""

from __future__ import annotations

import pytest

from podrun.spec.quantity import (
    ERR_FORMAT_WRONG,
    ERR_SUFFIX,
    Format,
    QuantityError,
    not_a_quantity_message,
    parse_quantity,
    quantity_from_json,
)

# input, String(), format, Value(), MilliValue()
CANONICAL = [
    ("0", "0", Format.DECIMAL_SI, 0, 0),
    ("00", "0", Format.DECIMAL_SI, 0, 0),
    ("-0", "0", Format.DECIMAL_SI, 0, 0),
    ("0Ki", "0", Format.BINARY_SI, 0, 0),
    ("1", "1", Format.DECIMAL_SI, 1, 1000),
    ("0.5", "500m", Format.DECIMAL_SI, 1, 500),
    (".5", "500m", Format.DECIMAL_SI, 1, 500),
    ("0.1", "100m", Format.DECIMAL_SI, 1, 100),
    ("1.5", "1500m", Format.DECIMAL_SI, 2, 1500),
    ("-1.5", "-1500m", Format.DECIMAL_SI, -2, -1500),
    ("1000m", "1", Format.DECIMAL_SI, 1, 1000),
    ("100m", "100m", Format.DECIMAL_SI, 1, 100),
    ("250m", "250m", Format.DECIMAL_SI, 1, 250),
    ("1500m", "1500m", Format.DECIMAL_SI, 2, 1500),
    ("2000m", "2", Format.DECIMAL_SI, 2, 2000),
    ("1k", "1k", Format.DECIMAL_SI, 1000, 1000000),
    ("1000", "1k", Format.DECIMAL_SI, 1000, 1000000),
    ("1024", "1024", Format.DECIMAL_SI, 1024, 1024000),
    ("1M", "1M", Format.DECIMAL_SI, 10**6, 10**9),
    ("1500k", "1500k", Format.DECIMAL_SI, 1500000, 1500000000),
    ("1G", "1G", Format.DECIMAL_SI, 10**9, 10**12),
    ("1T", "1T", Format.DECIMAL_SI, 10**12, 10**15),
    ("1P", "1P", Format.DECIMAL_SI, 10**15, 10**18),
    ("1E", "1E", Format.DECIMAL_SI, 10**18, 10**21),
    ("1n", "1n", Format.DECIMAL_SI, 1, 1),
    ("1u", "1u", Format.DECIMAL_SI, 1, 1),
    ("1000n", "1u", Format.DECIMAL_SI, 1, 1),
    ("0.0000000001", "1n", Format.DECIMAL_SI, 1, 1),  # rounded up to 1n
    ("1.0000000001", "1000000001n", Format.DECIMAL_SI, 2, 1001),
    ("1Ki", "1Ki", Format.BINARY_SI, 1024, 1024000),
    ("8Ki", "8Ki", Format.BINARY_SI, 8192, 8192000),
    ("1024Ki", "1Mi", Format.BINARY_SI, 1048576, 1048576000),
    ("100Mi", "100Mi", Format.BINARY_SI, 104857600, 104857600000),
    ("1536Mi", "1536Mi", Format.BINARY_SI, 1610612736, 1610612736000),
    ("1.5Gi", "1536Mi", Format.BINARY_SI, 1610612736, 1610612736000),
    ("2048Mi", "2Gi", Format.BINARY_SI, 2147483648, 2147483648000),
    ("1Ti", "1Ti", Format.BINARY_SI, 2**40, 2**40 * 1000),
    ("1Pi", "1Pi", Format.BINARY_SI, 2**50, 2**50 * 1000),
    ("1Ei", "1Ei", Format.BINARY_SI, 2**60, 2**60 * 1000),
    ("0.5Ki", "512", Format.BINARY_SI, 512, 512000),
    ("104857600", "104857600", Format.DECIMAL_SI, 104857600, 104857600000),
    ("1e3", "1e3", Format.DECIMAL_EXPONENT, 1000, 1000000),
    ("1E3", "1E3", Format.DECIMAL_EXPONENT, 1000, 1000000),  # original text reused
    ("12e6", "12e6", Format.DECIMAL_EXPONENT, 12000000, 12000000000),
    ("1e20", "100e18", Format.DECIMAL_EXPONENT, 10**20, 10**23),
    ("1e-3", "1e-3", Format.DECIMAL_EXPONENT, 1, 1),
    ("10e-3", "10e-3", Format.DECIMAL_EXPONENT, 1, 10),
    ("1000e-3", "1", Format.DECIMAL_EXPONENT, 1, 1000),
    ("1.5e3", "1500", Format.DECIMAL_EXPONENT, 1500, 1500000),
    ("+1", "+1", Format.DECIMAL_SI, 1, 1000),  # canonical text reused verbatim, sign and all
    ("01", "01", Format.DECIMAL_SI, 1, 1000),
    ("1.", "1.", Format.DECIMAL_SI, 1, 1000),
    ("1.0", "1", Format.DECIMAL_SI, 1, 1000),
    ("-100m", "-100m", Format.DECIMAL_SI, -1, -100),
    ("1000E", "1", Format.DECIMAL_SI, 10**21, 10**24),  # apimachinery has no suffix past E
    ("e3", "0", Format.DECIMAL_EXPONENT, 0, 0),  # the scanner reads an empty number as 0
    (".Ki", "0", Format.BINARY_SI, 0, 0),
]


@pytest.mark.parametrize(("text", "canonical", "fmt", "value", "milli"), CANONICAL)
def test_parse_canonical_values(
    text: str, canonical: str, fmt: Format, value: int, milli: int
) -> None:
    q = parse_quantity(text)
    assert str(q) == canonical
    assert q.format is fmt
    assert q.value() == value
    assert q.milli_value() == milli


BAD = [
    ("", ERR_FORMAT_WRONG),
    ("string", ERR_FORMAT_WRONG),
    ("1.2.3", ERR_FORMAT_WRONG),
    ("1KiB", ERR_FORMAT_WRONG),
    ("1 ", ERR_FORMAT_WRONG),
    ("abc1", ERR_FORMAT_WRONG),
    ("1e3.5", ERR_FORMAT_WRONG),
    ("1i", ERR_SUFFIX),
    ("1e", ERR_SUFFIX),
    ("1KM", ERR_SUFFIX),
    ("1mi", ERR_SUFFIX),
    ("1Ee3", ERR_SUFFIX),
    ("1ki", ERR_SUFFIX),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_quantities(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as exc:
        parse_quantity(text)
    assert exc.value.message == message


def test_not_a_quantity_message_has_both_wordings() -> None:
    try:
        parse_quantity("string")
    except QuantityError as e:
        msg = not_a_quantity_message("string", e)
    assert msg.startswith(
        '"string" is not a quantity: quantities must match the regular expression'
    )
    assert "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'" in msg


@pytest.mark.parametrize(
    ("a", "b", "cmp"),
    [
        ("1", "1000m", 0),
        ("1Ki", "1024", 0),
        ("1k", "1Ki", -1),
        ("500m", "0.5", 0),
        ("2", "1", 1),
        ("-1", "1", -1),
        ("1e9999999", "1", 1),
        ("1e-5", "1n", 1),
        ("1Gi", "1G", 1),
        ("128Mi", "100M", 1),
    ],
)
def test_compare(a: str, b: str, cmp: int) -> None:
    assert parse_quantity(a).cmp(parse_quantity(b)) == cmp
    assert (parse_quantity(a) == parse_quantity(b)) == (cmp == 0)


def test_huge_exponents_stay_cheap() -> None:
    q = parse_quantity("1e2147483647")
    assert str(q) == "10e2147483646"  # exponent kept a multiple of 3
    assert parse_quantity("1e4294967296").is_zero() is False  # int32 wrap: 1e0
    assert str(parse_quantity("1e4294967296")) == "1e4294967296"
    assert parse_quantity("1e-2147483648").milli_value() == 1


def test_binary_cap_and_arithmetic() -> None:
    assert parse_quantity("16Ei").value() == 2**63 - 1
    assert str(parse_quantity("1") + parse_quantity("500m")) == "1500m"
    assert str(parse_quantity("1Gi") - parse_quantity("512Mi")) == "512Mi"


def test_from_json_numbers_and_whitespace() -> None:
    assert str(quantity_from_json(1)) == "1"
    assert str(quantity_from_json(0.5)) == "500m"
    assert str(quantity_from_json(" 100m ")) == "100m"
    with pytest.raises(QuantityError):
        quantity_from_json(True)
