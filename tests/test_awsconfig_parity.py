"""``awsconfig.build_profile_map`` follows botocore's rules without importing botocore.

The tray and the daemon parse the config file but never load botocore, so
roletray has its own copy of ``botocore.configloader.build_profile_map``'s
rules; this checks the copy against the original on generated section names.
"""

from __future__ import annotations

import botocore.configloader
from hypothesis import given, settings
from hypothesis import strategies as st

from tray.awsfiles import awsconfig

_words = st.sampled_from(["profile", "default", "dev", "prod", "sso-session", "services",
                          "profiles", "profile-x", '"dev"', "'dev'", '"a b"', "x", "", " ",
                          '"unclosed', "profile\tdev"])
_names = st.lists(_words, min_size=1, max_size=4).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_names, st.sampled_from(["1", "2", "3"])), max_size=6))
def test_profile_map_matches_botocore(sections: list[tuple[str, str]]) -> None:
    raw = {name: {"region": value} for name, value in sections}
    ours = awsconfig.build_profile_map(raw)
    theirs = botocore.configloader.build_profile_map(raw)["profiles"]
    assert ours == theirs


def test_known_cases() -> None:
    raw = {"default": {"a": "1"}, "profile default": {"a": "2"}, "profile  dev": {"b": "1"},
           'profile "with space"': {"c": "1"}, "profile": {"d": "1"}, "profiles x": {"e": "1"},
           "sso-session corp": {"f": "1"}, "dev": {"g": "1"}}
    assert awsconfig.build_profile_map(raw) == \
        botocore.configloader.build_profile_map(raw)["profiles"]


def test_parse_cache_sees_every_change(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "config"
    path.write_text("[profile a]\nregion = eu-west-1\n")
    first = awsconfig.raw_config_parse(path)
    first["profile a"]["region"] = "mutated by a caller"
    assert awsconfig.raw_config_parse(path) == {"profile a": {"region": "eu-west-1"}}
    path.write_text("[profile a]\nregion = eu-west-2\n")  # same size, same second
    assert awsconfig.raw_config_parse(path) == {"profile a": {"region": "eu-west-2"}}


def test_line_ends_read_as_botocore_reads_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # botocore reads in text mode (universal newlines): a lone CR ends a line too.
    import botocore.configloader

    for ending in ("\n", "\r\n", "\r"):
        path = tmp_path / "config"
        path.write_bytes(ending.join(["[profile dev]", "region = eu-west-1",
                                      "role_arn = arn:aws:iam::111122223333:role/x", ""])
                         .encode())
        assert awsconfig.raw_config_parse(path) == \
            botocore.configloader.raw_config_parse(str(path)), repr(ending)
