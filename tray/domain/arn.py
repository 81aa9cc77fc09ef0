"""An ARN as a value: ``arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE``.

    >>> Arn.parse("arn:aws:sts::123456789012:assumed-role/platform/roletray-1").account
    '123456789012'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    @classmethod
    def parse(cls, text: str) -> Arn:
        """Raises ``ValueError`` for anything that is not six colon-separated parts
        starting with ``arn``."""
        parts = text.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2]:
            raise ValueError("not an ARN")
        return cls(*parts[1:])

    @classmethod
    def account_of(cls, text: str | None) -> str | None:
        """The account of an ARN; None for None or anything that is not one."""
        try:
            return cls.parse(text).account or None if text else None
        except ValueError:
            return None

    def __str__(self) -> str:
        return (f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:"
                f"{self.resource}")
