"""Name and format checks of apimachinery's util/validation, with their exact messages.

Each ``is_*`` function returns a list of problem descriptions (empty when valid), as
the Go functions do; validate.py wraps them into ``Invalid value`` field errors.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = [
    "DNS1123_LABEL_MAX",
    "DNS1123_SUBDOMAIN_MAX",
    "LABEL_VALUE_MAX",
    "TOTAL_ANNOTATION_SIZE_LIMIT",
    "SYSCTL_MAX_LENGTH",
    "SYSCTL_REGEX",
    "max_len_error",
    "regex_error",
    "empty_error",
    "inclusive_range_error",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_dns1123_subdomain_with_underscore",
    "is_dns1035_label",
    "is_qualified_name",
    "is_valid_label_value",
    "is_prefixed_label_key",
    "is_valid_port_name",
    "is_valid_port_num",
    "is_in_range",
    "is_valid_user_id",
    "is_valid_group_id",
    "is_env_var_name",
    "is_relaxed_env_var_name",
    "is_c_identifier",
    "is_config_map_key",
    "is_http_header_name",
    "is_valid_ip",
    "is_valid_ipv4",
    "is_valid_ipv6",
    "is_valid_cidr",
    "is_valid_percent",
    "is_valid_sysctl_name",
    "is_valid_path_segment_name",
    "is_domain_prefixed_path",
    "is_fully_qualified_domain_name",
    "annotations_size_exceeded",
    "name_is_dns_subdomain",
    "name_is_dns_label",
    "name_is_dns1035_label",
]

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
LABEL_VALUE_MAX = 63
LABEL_KEY_NAME_MAX = 63
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
SYSCTL_MAX_LENGTH = 253


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    ex = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {ex}regex used for validation is '{fmt}')"


def empty_error() -> str:
    return "must be non-empty"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


def _len(value: str) -> int:
    # Go's len() counts bytes
    return len(value.encode("utf-8", "surrogatepass"))


def _full(fmt: str) -> re.Pattern[str]:
    # Go's regexp '$' matches only at the very end; Python's needs \Z for that.
    return re.compile("^(?:" + fmt + r")\Z")


_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character"
)
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character"
)
_dns1123_label_re = _full(_DNS1123_LABEL_FMT)
_dns1123_subdomain_re = _full(_DNS1123_SUBDOMAIN_FMT)
_dns1035_label_re = _full(_DNS1035_LABEL_FMT)


def is_dns1123_label(value: str) -> list[str]:
    errs: list[str] = []
    if _len(value) > DNS1123_LABEL_MAX:
        errs.append(max_len_error(DNS1123_LABEL_MAX))
    if not _dns1123_label_re.match(value):
        if _dns1123_subdomain_re.match(value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs: list[str] = []
    if _len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _dns1123_subdomain_re.match(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


_DNS1123_LABEL_US_FMT = "_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_US_FMT = _DNS1123_LABEL_US_FMT + "(\\." + _DNS1123_LABEL_US_FMT + ")*"
_DNS1123_SUBDOMAIN_US_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '_', '-' "
    "or '.', and must start and end with an alphanumeric character"
)
_dns1123_subdomain_us_re = _full(_DNS1123_SUBDOMAIN_US_FMT)


def is_dns1123_subdomain_with_underscore(value: str) -> list[str]:
    errs: list[str] = []
    if _len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _dns1123_subdomain_us_re.match(value):
        errs.append(
            regex_error(_DNS1123_SUBDOMAIN_US_MSG, _DNS1123_SUBDOMAIN_US_FMT, "example.com")
        )
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs: list[str] = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(max_len_error(DNS1123_LABEL_MAX))
    if not _dns1035_label_re.match(value):
        errs.append(regex_error(_DNS1035_LABEL_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


# ValidateNameFunc flavours used by ObjectMeta: (name, prefix) -> messages
def name_is_dns_subdomain(name: str, prefix: bool = False) -> list[str]:
    if prefix:
        name = _mask_trailing_dash(name)
    return is_dns1123_subdomain(name)


def name_is_dns_label(name: str, prefix: bool = False) -> list[str]:
    if prefix:
        name = _mask_trailing_dash(name)
    return is_dns1123_label(name)


def name_is_dns1035_label(name: str, prefix: bool = False) -> list[str]:
    if prefix:
        name = _mask_trailing_dash(name)
    return is_dns1035_label(name)


def _mask_trailing_dash(name: str) -> str:
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
_label_key_re = _full(_LABEL_KEY_FMT)


def is_qualified_name(value: str) -> list[str]:
    """IsQualifiedName (label and annotation keys): [prefix/]name."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + empty_error())
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name "
            + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part " + empty_error())
    elif _len(name) > LABEL_KEY_NAME_MAX:
        errs.append("name part " + max_len_error(LABEL_KEY_NAME_MAX))
    if not _label_key_re.match(name):
        errs.append(
            "name part "
            + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def is_prefixed_label_key(value: str) -> list[str]:
    errs = is_qualified_name(value)
    if errs:
        return errs
    if len(value.split("/")) != 2:
        return ["must include a prefix (e.g. 'example.com/key')"]
    return []


_LABEL_VALUE_FMT = "(" + _LABEL_KEY_FMT + ")?"
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character"
)
_label_value_re = _full(_LABEL_VALUE_FMT)


def is_valid_label_value(value: str) -> list[str]:
    errs: list[str] = []
    if _len(value) > LABEL_VALUE_MAX:
        errs.append(max_len_error(LABEL_VALUE_MAX))
    if not _label_value_re.match(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


_port_name_charset_re = _full("[-a-z0-9]+")
_one_letter_re = re.compile("[a-z]")


def is_valid_port_name(port: str) -> list[str]:
    """IANA_SVC_NAME: at most 15 chars of [-a-z0-9], a letter, no '--', no edge '-'."""
    errs: list[str] = []
    if _len(port) > 15:
        errs.append(max_len_error(15))
    if not _port_name_charset_re.match(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _one_letter_re.search(port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


def is_in_range(value: int, lo: int, hi: int) -> list[str]:
    return [] if lo <= value <= hi else [inclusive_range_error(lo, hi)]


_MAX_ID = 0xFFFFFFFF  # uint32 max, as current apimachinery IsValidUserID / IsValidGroupID


def is_valid_user_id(uid: int) -> list[str]:
    return [] if 0 <= uid <= _MAX_ID else [inclusive_range_error(0, _MAX_ID)]


def is_valid_group_id(gid: int) -> list[str]:
    return [] if 0 <= gid <= _MAX_ID else [inclusive_range_error(0, _MAX_ID)]


def _chdir_prefix(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


_ENV_VAR_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"
_ENV_VAR_MSG = (
    "a valid environment variable name must consist of alphabetic characters, digits, '_', "
    "'-', or '.', and must not start with a digit"
)
_env_var_re = _full(_ENV_VAR_FMT)
_RELAXED_ENV_MSG = (
    "a valid environment variable name must consist only of printable ASCII characters other "
    "than '='"
)


def is_env_var_name(value: str) -> list[str]:
    """The strict (pre-1.32 default) rule; kept for reference and tests."""
    errs: list[str] = []
    if not _env_var_re.match(value):
        errs.append(
            regex_error(_ENV_VAR_MSG, _ENV_VAR_FMT, "my.env-name", "MY_ENV.NAME", "MyEnvName1")
        )
    errs.extend(_chdir_prefix(value))
    return errs


def is_relaxed_env_var_name(value: str) -> list[str]:
    """RelaxedEnvironmentVariableValidation (GA in 1.34, what current API servers use)."""
    errs: list[str] = []
    if not value:
        errs.append("environment variable name " + empty_error())
    for ch in value:
        if not (" " <= ch <= "~") or ch == "=":
            errs.append(_RELAXED_ENV_MSG)
            break
    return errs


_C_IDENT_FMT = "[A-Za-z_][A-Za-z0-9_]*"
_c_ident_re = _full(_C_IDENT_FMT)


def is_c_identifier(value: str) -> list[str]:
    if not _c_ident_re.match(value):
        return [
            regex_error(
                "a valid C identifier must start with alphabetic character or '_', followed by a "
                "string of alphanumeric characters or '_'",
                _C_IDENT_FMT,
                "my_name",
                "MY_NAME",
                "MyName",
            )
        ]
    return []


_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_config_key_re = _full(_CONFIG_KEY_FMT)


def is_config_map_key(value: str) -> list[str]:
    errs: list[str] = []
    if _len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _config_key_re.match(value):
        errs.append(
            regex_error(
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                _CONFIG_KEY_FMT,
                "key.name",
                "KEY_NAME",
                "key-name",
            )
        )
    errs.extend(_chdir_prefix(value))
    return errs


_HEADER_FMT = "[-A-Za-z0-9]+"
_header_re = _full(_HEADER_FMT)


def is_http_header_name(value: str) -> list[str]:
    if not _header_re.match(value):
        return [
            regex_error(
                "a valid HTTP header must consist of alphanumeric characters or '-'",
                _HEADER_FMT,
                "X-Header-Name",
            )
        ]
    return []


_IPV4_SLOPPY = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\Z")


def _parse_ipv4(value: str) -> bool:
    # Go's ParseIPSloppy (legacy fields) accepts leading zeros: "010.0.0.1"
    m = _IPV4_SLOPPY.match(value)
    return m is not None and all(int(g) <= 255 for g in m.groups())


def is_valid_ipv4(value: str) -> bool:
    return _parse_ipv4(value)


def is_valid_ipv6(value: str) -> bool:
    if ":" not in value or "%" in value or not value.isascii():
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def is_valid_ip(value: str) -> list[str]:
    if is_valid_ipv4(value) or is_valid_ipv6(value):
        return []
    return ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]


def is_valid_cidr(value: str) -> list[str]:
    ip, sep, bits = value.partition("/")
    ok = (
        bool(sep)
        and bits.isdigit()
        and ((is_valid_ipv4(ip) and int(bits) <= 32) or (is_valid_ipv6(ip) and int(bits) <= 128))
    )
    return [] if ok else ["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"]


_PERCENT_FMT = "[0-9]+%"
_percent_re = _full(_PERCENT_FMT)


def is_valid_percent(value: str) -> list[str]:
    if not _percent_re.match(value):
        return [
            regex_error(
                "a valid percent string must be a numeric string followed by an ending '%'",
                _PERCENT_FMT,
                "1%",
                "93%",
            )
        ]
    return []


_SYSCTL_SEGMENT_FMT = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
_SYSCTL_SLASH_FMT = "(" + _SYSCTL_SEGMENT_FMT + "[\\./])*" + _SYSCTL_SEGMENT_FMT
SYSCTL_REGEX = "^" + _SYSCTL_SLASH_FMT + "$"
_sysctl_re = _full(_SYSCTL_SLASH_FMT)


def is_valid_sysctl_name(name: str) -> bool:
    return _len(name) <= SYSCTL_MAX_LENGTH and bool(_sysctl_re.match(name))


def is_valid_path_segment_name(name: str) -> list[str]:
    """IsValidPathSegmentName (e.g. persistentVolumeClaim.claimName)."""
    for bad in (".", ".."):
        if name == bad:
            return [f"may not be '{bad}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


_HTTP_PATH_FMT = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+"
_http_path_re = _full(_HTTP_PATH_FMT)


def is_domain_prefixed_path(value: str) -> list[tuple[str, str]]:
    """(bad value, message) pairs; empty value is the caller's Required."""
    segs = value.split("/", 1)
    if len(segs) != 2 or not segs[0] or not segs[1]:
        return [(value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    out = [(segs[0], m) for m in is_dns1123_subdomain(segs[0])]
    if not _http_path_re.match(segs[1]):
        out.append((segs[1], regex_error("Invalid path", _HTTP_PATH_FMT)))
    return out


def is_fully_qualified_domain_name(name: str) -> list[tuple[str, str]]:
    if name.endswith("."):
        name = name[:-1]
    errs = is_dns1123_subdomain(name)
    if errs:
        return [(name, ",".join(errs))]
    if len(name.split(".")) < 2:
        return [(name, "should be a domain with at least two segments separated by dots")]
    for label in name.split("."):
        errs = is_dns1123_label(label)
        if errs:
            return [(label, ",".join(errs))]
    return []


def annotations_size_exceeded(annotations: dict[str, str]) -> bool:
    total = sum(_len(k) + _len(v) for k, v in annotations.items())
    return total > TOTAL_ANNOTATION_SIZE_LIMIT
