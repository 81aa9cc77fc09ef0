"""``tray.domain.arn.Arn``: an ARN as a value."""

from __future__ import annotations

import pytest

from tray.domain.arn import Arn


def test_an_arn_parses_into_its_parts_and_back() -> None:
    text = "arn:aws:sts::123456789012:assumed-role/platform/roletray-1"
    arn = Arn.parse(text)
    assert (arn.partition, arn.service, arn.region, arn.account) == \
        ("aws", "sts", "", "123456789012")
    assert arn.resource == "assumed-role/platform/roletray-1" and str(arn) == text
    assert Arn.parse("arn:aws-cn:iam::1:role/a:b").resource == "role/a:b"  # colons kept


@pytest.mark.parametrize("text", ["", "nope", "arn:aws:sts", "arm:aws:s3:::b", "arn::s3:::b"])
def test_anything_else_is_no_arn(text: str) -> None:
    with pytest.raises(ValueError, match="not an ARN"):
        Arn.parse(text)
    assert Arn.account_of(text) is None


def test_account_of() -> None:
    assert Arn.account_of("arn:aws:iam::123456789012:user/dev") == "123456789012"
    assert Arn.account_of("arn:aws:s3:::bucket") is None  # no account
    assert Arn.account_of(None) is None
