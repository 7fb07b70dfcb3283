"""KMS: what the policy's key (and a running stream's key) is, read live and cached for a minute."""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property
from typing import Any

import boto3

from ..clock import Clock
from ..gateway import AwsError
from ..model import KeyInfo, KeyLookup
from .calls import CLIENT_CONFIG, TtlCache, call


class KmsKeys:
    def __init__(self, session: boto3.Session, clock: Clock, *, cache_seconds: float = 60.0) -> None:
        self._session = session
        self._keys = TtlCache(cache_seconds, clock)

    @cached_property
    def _kms(self) -> Any:
        return self._session.client("kms", config=CLIENT_CONFIG)

    def describe_key(self, reference: str) -> KeyLookup:
        """Resolve a key ID, key ARN, alias or alias ARN; cached per container, under the reference asked and the
        key's ARN (running streams name their key by ARN: the policy's alias answers for them too)."""
        lookup = self._keys.get_or_load(reference, lambda: self._describe_key(reference))
        if lookup.key is not None and lookup.key.arn != reference:
            self._keys.offer(lookup.key.arn, replace(lookup, reference=lookup.key.arn))
        return lookup

    def _describe_key(self, reference: str) -> KeyLookup:
        try:
            response = call("kms:DescribeKey", self._kms.describe_key, KeyId=reference)
        except AwsError as err:
            if err.transient:
                raise
            return KeyLookup(reference, None, err.code, err.message)
        return KeyLookup(reference, KeyInfo.from_api(response.get("KeyMetadata") or {}))
