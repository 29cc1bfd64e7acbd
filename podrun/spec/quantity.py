"""resource.Quantity as the API server reads and writes it.

Parsing, exact comparison and the canonical string (``String()``) follow
apimachinery's pkg/api/resource, including its rounding and caching quirks.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

__all__ = [
    "Format",
    "Quantity",
    "QuantityError",
    "QUANTITY_REGEX",
    "ERR_FORMAT_WRONG",
    "ERR_NUMERIC",
    "ERR_SUFFIX",
    "parse_quantity",
    "quantity_from_json",
    "not_a_quantity_message",
]

QUANTITY_REGEX = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT_WRONG = f"quantities must match the regular expression '{QUANTITY_REGEX}'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

_INT64_MAX = (1 << 63) - 1
_INT64_MIN = -(1 << 63)
_NANO = -9
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_DIGITS = frozenset("0123456789")


class Format(enum.Enum):
    DECIMAL_EXPONENT = "DecimalExponent"  # 12e6
    BINARY_SI = "BinarySI"  # 12Mi
    DECIMAL_SI = "DecimalSI"  # 12M


class QuantityError(ValueError):
    """A string that is not a quantity; ``message`` is the API server's error text."""

    def __init__(self, message: str, text: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.text = text


_DEC_SUFFIXES: dict[str, int] = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_DEC_BY_EXP = {e: s for s, e in _DEC_SUFFIXES.items()}
_BIN_SUFFIXES: dict[str, int] = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BIN_BY_POW1024 = {0: "", 1: "Ki", 2: "Mi", 3: "Gi", 4: "Ti", 5: "Pi", 6: "Ei"}


def _wrap_int32(v: int) -> int:
    return ((v + (1 << 31)) % (1 << 32)) - (1 << 31)


def _ndigits(v: int) -> int:
    return len(str(abs(v)))


def _cmp_scaled(a: int, ea: int, b: int, eb: int) -> int:
    """Compare a*10**ea with b*10**eb without building huge powers."""
    sa = int(a > 0) - int(a < 0)
    sb = int(b > 0) - int(b < 0)
    if sa != sb or sa == 0:
        return int(sa > sb) - int(sa < sb)
    # Same non-zero sign: compare orders of magnitude first.
    oa = _ndigits(a) + ea
    ob = _ndigits(b) + eb
    if oa != ob:
        bigger = 1 if oa > ob else -1
        return bigger * sa
    e = min(ea, eb)
    x = a * 10 ** (ea - e)
    y = b * 10 ** (eb - e)
    return int(x > y) - int(x < y)


def _ceil_div_away(n: int, d: int) -> int:
    """n / d rounded away from zero (d > 0)."""
    q, r = divmod(abs(n), d)
    if r:
        q += 1
    return q if n >= 0 else -q


@dataclass(frozen=True, eq=False)
class Quantity:
    """An exact decimal value ``unscaled * 10**exp`` with the format its suffix chose.

    ``cached`` is the original text when the API server would reuse it verbatim.
    """

    unscaled: int
    exp: int
    format: Format = Format.DECIMAL_SI
    cached: str | None = field(default=None, compare=False)

    # -- construction -------------------------------------------------------------
    @classmethod
    def from_int(cls, value: int, fmt: Format = Format.DECIMAL_SI) -> Quantity:
        return cls(value, 0, fmt)

    @classmethod
    def from_milli(cls, value: int, fmt: Format = Format.DECIMAL_SI) -> Quantity:
        return cls(value, -3, fmt)

    # -- comparison ---------------------------------------------------------------
    def cmp(self, other: Quantity) -> int:
        return _cmp_scaled(self.unscaled, self.exp, other.unscaled, other.exp)

    def cmp_int(self, value: int) -> int:
        return _cmp_scaled(self.unscaled, self.exp, value, 0)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.cmp(other) == 0

    def __hash__(self) -> int:
        if self.unscaled == 0:
            return hash(0)
        u, e = self.unscaled, self.exp
        while u % 10 == 0:
            u //= 10
            e += 1
        return hash((u, e))

    def __lt__(self, other: Quantity) -> bool:
        return self.cmp(other) < 0

    def __le__(self, other: Quantity) -> bool:
        return self.cmp(other) <= 0

    def __gt__(self, other: Quantity) -> bool:
        return self.cmp(other) > 0

    def __ge__(self, other: Quantity) -> bool:
        return self.cmp(other) >= 0

    @property
    def sign(self) -> int:
        return int(self.unscaled > 0) - int(self.unscaled < 0)

    def is_zero(self) -> bool:
        return self.unscaled == 0

    # -- arithmetic (exact) -------------------------------------------------------
    def _aligned(self, other: Quantity) -> tuple[int, int, int]:
        e = min(self.exp, other.exp)
        return self.unscaled * 10 ** (self.exp - e), other.unscaled * 10 ** (other.exp - e), e

    def __add__(self, other: Quantity) -> Quantity:
        a, b, e = self._aligned(other)
        fmt = other.format if self.is_zero() else self.format
        return Quantity(a + b, e, fmt)

    def __sub__(self, other: Quantity) -> Quantity:
        a, b, e = self._aligned(other)
        fmt = other.format if self.is_zero() else self.format
        return Quantity(a - b, e, fmt)

    def __neg__(self) -> Quantity:
        return Quantity(-self.unscaled, self.exp, self.format)

    def scaled_value(self, scale: int) -> int:
        """ceil(q / 10**scale), rounded away from zero like Go's ScaledValue."""
        shift = self.exp - scale
        if shift >= 0:
            return int(self.unscaled * 10**shift)
        if _ndigits(self.unscaled) < -shift:
            # |q| < 10**scale: rounds to +-1 unless zero
            return self.sign
        return _ceil_div_away(self.unscaled, 10**-shift)

    def value(self) -> int:
        return self.scaled_value(0)

    def milli_value(self) -> int:
        return self.scaled_value(-3)

    def as_float(self) -> float:
        try:
            return float(self.unscaled) * math.pow(10, self.exp)
        except OverflowError:
            return math.copysign(math.inf, self.unscaled)

    # -- canonical form -----------------------------------------------------------
    def canonical(self) -> str:
        """The canonical form, ignoring the cached original text."""
        if self.unscaled == 0:
            return "0"
        fmt = self.format
        if fmt is Format.BINARY_SI:
            if self.cmp_int(-1024) > 0 and self.cmp_int(1024) < 0:
                fmt = Format.DECIMAL_SI
            elif self.exp < 0 and self.unscaled % 10**-self.exp != 0:
                fmt = Format.DECIMAL_SI  # not an integer: do not lose precision
        if fmt is Format.BINARY_SI:
            v = self.unscaled * 10**self.exp if self.exp >= 0 else self.unscaled // 10**-self.exp
            n = 0
            while v % 1024 == 0:
                v //= 1024
                n += 1
            return f"{v}{_BIN_BY_POW1024.get(n, '')}"
        u, e = self.unscaled, self.exp
        while u % 10 == 0:
            u //= 10
            e += 1
        while e % 3 != 0:
            u *= 10
            e -= 1
        if fmt is Format.DECIMAL_SI:
            # apimachinery emits no suffix when none exists (e.g. beyond E)
            return f"{u}{_DEC_BY_EXP.get(e, '')}"
        return f"{u}e{e}" if e else str(u)

    def __str__(self) -> str:
        return self.cached if self.cached is not None else self.canonical()

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"


def _scan(text: str) -> tuple[bool, str, str, str, str]:
    """parseQuantityString: (positive, value, num, denom, suffix)."""
    positive = True
    pos = 0
    end = len(text)
    if pos < end and text[0] in "+-":
        positive = text[0] != "-"
        pos += 1
    while True:  # strip leading zeros
        if pos >= end:
            return positive, "0", "0", "", ""
        if text[pos] != "0":
            break
        pos += 1
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num = text[start:pos]
    if pos >= end:
        return positive, text, num, "", ""
    if not num:
        num = "0"
    denom = ""
    if text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
        if pos >= end:
            return positive, text, num, denom, ""
    value = text[:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos >= end:
        return positive, value, num, denom, text[suffix_start:]
    if text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(ERR_FORMAT_WRONG, text)
    return positive, value, num, denom, text[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, Format] | None:
    if suffix in _DEC_SUFFIXES:
        return 10, _DEC_SUFFIXES[suffix], Format.DECIMAL_SI
    if suffix in _BIN_SUFFIXES:
        return 2, _BIN_SUFFIXES[suffix], Format.BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        digits = suffix[1:]
        body = digits[1:] if digits[:1] in ("+", "-") else digits
        if not body or not all(c in _DIGITS for c in body):
            return None
        exp = int(digits)
        if not _INT64_MIN <= exp <= _INT64_MAX:
            return None
        return 10, _wrap_int32(exp), Format.DECIMAL_EXPONENT
    return None


def parse_quantity(text: str) -> Quantity:
    """ParseQuantity: raise QuantityError with the API server's message."""
    if not text:
        raise QuantityError(ERR_FORMAT_WRONG, text)
    if text == "0":
        return Quantity(0, 0, Format.DECIMAL_SI, "0")
    positive, value, num, denom, suffix = _scan(text)
    interp = _interpret(suffix)
    if interp is None:
        raise QuantityError(ERR_SUFFIX, text)
    base, exponent, fmt = interp

    # The int64 fast path; it also decides whether the original text is reused.
    precision = 0
    scale = 0
    mantissa = 1
    if fmt is Format.BINARY_SI:
        if exponent >= 0 and not denom:
            mantissa = 1 << exponent
            precision = 15 - len(num) - (exponent * 3 // 10) - 1
        else:
            precision = -1
    else:
        scale = exponent
        precision = 18 - (len(num) + len(denom))
    if precision >= 0:
        scale -= len(denom)
        if scale >= _NANO:
            shifted = num + denom
            v = int(shifted)
            result = v * mantissa
            if result <= _INT64_MAX:
                if not positive:
                    result = -result
                reuse = (
                    (exponent % 10 == 0 and v & 0x07 != 0)
                    if fmt is Format.BINARY_SI
                    else (scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0")
                )
                return Quantity(result, scale, fmt, text if reuse else None)

    # Slow path (inf.Dec): exact value, rounded up to 1n, BinarySI capped at int64.
    digits = value.lstrip("+-")
    int_part, _, frac_part = digits.partition(".")
    if not any(c in _DIGITS for c in digits):
        raise QuantityError(ERR_NUMERIC, text)
    unscaled = int((int_part + frac_part) or "0")
    exp10 = -len(frac_part)
    if base == 10:
        exp10 += exponent
    else:
        unscaled <<= exponent
    if unscaled != 0 and exp10 < _NANO:
        drop = _NANO - exp10
        if _ndigits(unscaled) < drop:
            unscaled = 1
        else:
            unscaled = _ceil_div_away(unscaled, 10**drop)
        exp10 = _NANO
    if fmt is Format.BINARY_SI:
        if _cmp_scaled(unscaled, exp10, _INT64_MAX, 0) > 0:
            unscaled, exp10 = _INT64_MAX, 0
        if unscaled > 0 and _cmp_scaled(unscaled, exp10, 1, 0) < 0:
            fmt = Format.DECIMAL_SI
    if not positive:
        unscaled = -unscaled
    return Quantity(unscaled, exp10, fmt)


def _go_json_float(value: float) -> str:
    """encoding/json's float64 text, which apimachinery's YAML->JSON path produces."""
    if value != value or value in (math.inf, -math.inf):
        raise QuantityError(ERR_FORMAT_WRONG, repr(value))
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    a = abs(value)
    if a < 1e-6 or a >= 1e21:
        mant, _, exp = repr(value).partition("e")
        if not exp:
            mant, _, exp = f"{value:e}".partition("e")
        sign = "-" if exp.startswith("-") else "+"
        return f"{mant}e{sign}{exp.lstrip('+-').lstrip('0') or '0'}"
    return repr(value)


def quantity_from_json(value: object) -> Quantity:
    """UnmarshalJSON: a JSON string (trimmed) or number; raises QuantityError."""
    if isinstance(value, bool) or value is None:
        raise QuantityError(ERR_FORMAT_WRONG, str(value))
    if isinstance(value, int):
        return parse_quantity(str(value))
    if isinstance(value, float):
        return parse_quantity(_go_json_float(value))
    if isinstance(value, str):
        return parse_quantity(value.strip(" \t\n\r\v\f"))
    raise QuantityError(ERR_FORMAT_WRONG, str(value))


def not_a_quantity_message(text: str, err: QuantityError | None = None) -> str:
    """The wording podrun reports for a bad quantity: seeds' text plus the API server's."""
    detail = err.message if err is not None else ERR_FORMAT_WRONG
    return f'"{text}" is not a quantity: {detail}'
