"""apimachinery name/format validators and their exact messages."""

from __future__ import annotations

import pytest

from podrun.spec import names

LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def test_dns1123_label_message_is_exact() -> None:
    # The Go RegexError puts "', " after every example, hence the double space.
    assert names.is_dns1123_label("Web") == [LABEL_MSG]
    assert names.is_dns1123_label("web") == []
    assert names.is_dns1123_label("a.b") == ["must not contain dots"]
    assert names.is_dns1123_label("a" * 64) == ["must be no more than 63 characters"]
    assert names.is_dns1123_label("web\n") != []


def test_dns1123_subdomain() -> None:
    assert names.is_dns1123_subdomain("a.b-c.d") == []
    assert names.is_dns1123_subdomain("a" * 254)[0] == "must be no more than 253 characters"
    assert names.is_dns1123_subdomain("A")[0].startswith("a lowercase RFC 1123 subdomain must")


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("app", True),
        ("app.kubernetes.io/name", True),
        ("example.com/My_Name.1", True),
        ("/name", False),
        ("a/b/c", False),
        ("-app", False),
        ("Example.com/x", False),
        ("x" * 64, False),
        ("", False),
    ],
)
def test_qualified_name(key: str, ok: bool) -> None:
    assert (names.is_qualified_name(key) == []) is ok


def test_qualified_name_messages() -> None:
    assert names.is_qualified_name("/x") == ["prefix part must be non-empty"]
    assert names.is_qualified_name("x" * 64) == ["name part must be no more than 63 characters"]


@pytest.mark.parametrize(
    ("value", "ok"),
    [("", True), ("v1.2_3-x", True), ("-x", False), ("a" * 64, False), ("a b", False)],
)
def test_label_value(value: str, ok: bool) -> None:
    assert (names.is_valid_label_value(value) == []) is ok


@pytest.mark.parametrize(
    ("name", "errors"),
    [
        ("http", []),
        ("http-alt", []),
        ("80", ["must contain at least one letter (a-z)"]),
        ("a--b", ["must not contain consecutive hyphens"]),
        ("-ab", ["must not begin or end with a hyphen"]),
        ("abcdefghijklmnop", ["must be no more than 15 characters"]),
        (
            "HTTP",
            [
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "must contain at least one letter (a-z)",
            ],
        ),
    ],
)
def test_port_name(name: str, errors: list[str]) -> None:
    assert names.is_valid_port_name(name) == errors


def test_env_var_names_relaxed_rule() -> None:
    assert names.is_relaxed_env_var_name("1ABC") == []
    assert names.is_relaxed_env_var_name("A B") == []
    assert names.is_relaxed_env_var_name("A=B") == [
        "a valid environment variable name must consist only of printable ASCII characters other than '='"
    ]
    assert names.is_relaxed_env_var_name("é") != []
    assert names.is_env_var_name("1ABC") != []


def test_config_map_key() -> None:
    assert names.is_config_map_key("a.b_c-D") == []
    assert names.is_config_map_key("..a") == ["must not start with '..'"]
    assert names.is_config_map_key("a/b")[0].startswith("a valid config key must consist")


@pytest.mark.parametrize(
    ("ip", "ok"),
    [
        ("10.0.0.1", True),
        ("010.0.0.1", True),  # legacy fields accept leading zeros (ParseIPSloppy)
        ("256.0.0.1", False),
        ("::1", True),
        ("2001:db8::ffff", True),
        ("fe80::1%eth0", False),
        ("1.2.3", False),
        ("", False),
        ("foo", False),
    ],
)
def test_ip(ip: str, ok: bool) -> None:
    assert (names.is_valid_ip(ip) == []) is ok


def test_sysctl_and_path_segment() -> None:
    assert names.is_valid_sysctl_name("net.ipv4.ip_forward")
    assert names.is_valid_sysctl_name("net/ipv4/conf/eth0.100/forwarding")
    assert not names.is_valid_sysctl_name("Net.foo")
    assert not names.is_valid_sysctl_name("a" * 254)
    assert names.is_valid_path_segment_name("..") == ["may not be '..'"]
    assert names.is_valid_path_segment_name("a/b%") == [
        "may not contain '/'",
        "may not contain '%'",
    ]


def test_misc() -> None:
    assert names.is_valid_port_num(0) == ["must be between 1 and 65535, inclusive"]
    assert names.is_http_header_name("X-Ok") == []
    assert names.is_http_header_name("X Bad") != []
    assert names.annotations_size_exceeded({"a": "x" * (256 * 1024)})
    assert not names.annotations_size_exceeded({"a": "x" * 1000})
    assert names.is_valid_cidr("10.0.0.0/8") == []
    assert names.is_valid_cidr("10.0.0.0/33") != []
    assert names.is_valid_user_id(-1) == ["must be between 0 and 4294967295, inclusive"]
