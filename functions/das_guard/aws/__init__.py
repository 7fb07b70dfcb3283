"""The only package that calls AWS (boto3); everything else receives plain data from here. One small gateway
per concern, each creating its client on first use, so a cold start loads only the service models an
invocation needs:

    calls.py         client configuration, failure classification (AwsError), the pagination helper, TtlCache
    clusters.py      RdsClusters: live clusters and instances, AWS's support answers, StartActivityStream
    keys.py          KmsKeys: the policy's key and running streams' keys
    policy_store.py  PolicyParameter: the policy document in SSM and its history
    state.py         StateTable: holds, stream records, once-only notices, last Security Hub imports
    outbox.py        Outbox: alerts, deferred re-checks, hand-offs, result events, findings

Caches (the policy text, key lookups, support answers) expire by the injected clock, so a local scenario that
lets an hour pass sees a changed policy exactly as a Lambda container would.
"""

from .calls import CLIENT_CONFIG, as_aws_error
from .clusters import RdsClusters
from .keys import KmsKeys
from .outbox import Outbox
from .policy_store import PolicyParameter, parameter_region
from .state import BATCH_WRITE_ATTEMPTS, StateTable

__all__ = [
    "BATCH_WRITE_ATTEMPTS",
    "CLIENT_CONFIG",
    "KmsKeys",
    "Outbox",
    "PolicyParameter",
    "RdsClusters",
    "StateTable",
    "as_aws_error",
    "parameter_region",
]
