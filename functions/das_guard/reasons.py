"""The one catalogue of reasons: every reason code DAS Guard can record, with its outcome, what it means, the fix,
its severity and the compliance state it gives the cluster. Pure data, no AWS and no Powertools.

Every output reads this table and nothing else to say whether a cluster is audited: the log line and the result
event (`compliance`, `severity`), the metrics (`Compliance` by state), the alert (severity and meaning), the
Security Hub finding (ASFF `Compliance.Status`, `FindingProviderFields.Severity`), the OCSF finding and every
`das-guard audit` format. A format never re-derives a verdict from outcomes of its own.

"Compliant" means audited, so exactly one reason passes: `StreamActive` - the stream is `started`, with the
rule's key and mode, and that key is enabled, not pending deletion, and DAS Guard could describe it (decide.py
only says StreamActive then). A stream still `starting`, one requested for the maintenance window, a cluster not
ready yet: pending, never pass. Reasons that are not a verdict on one cluster's audit (an ignored event, a policy
announcement, a forged stop event while the stream runs) have compliance None and produce no finding.

Adding a reason is one row here; a test fails on any reason code the code uses that is not catalogued.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from .model import Decision, Outcome


class Compliance(StrEnum):
    """What a decision means for the cluster's audit, as a compliance team signs it."""

    PASS = "pass"  # noqa: S105 - a compliance state, not a password; audited: stream started with the rule's key and mode, key healthy and vouched for
    FAIL = "fail"  # not audited (or not as the policy requires), and a person must know
    PENDING = "pending"  # on its way within minutes (starting, creating, no instance yet); not audited yet
    EXEMPT = "exempt"  # the policy accepts it unaudited, with a reason and an end (exemption, break-glass hold)
    NOT_APPLICABLE = "not-applicable"  # nothing to audit: not Aurora, deleted, stopped, no instance to run


# What each state means, in the words every output uses (the HTML report's legend, docs/evidence.md)
COMPLIANCE_MEANINGS: Mapping[Compliance, str] = {
    Compliance.PASS: "audited: the stream is started with the rule's key and mode, the key is healthy and vouched "
    "for, and its records are kept as the rule requires",
    Compliance.FAIL: "not audited, or not as the policy requires: a person must act (the fix says how)",
    Compliance.PENDING: "on its way within minutes (the stream is starting, the cluster is being created): not "
    "audited yet, checked again by the next event or sweep",
    Compliance.EXEMPT: "the policy accepts it unaudited, with a reason and an end (an exemption or a break-glass hold)",
    Compliance.NOT_APPLICABLE: "nothing to audit: not Aurora, deleted, stopped, or no instance to run a stream",
}


class Severity(StrEnum):
    """ASFF's labels (OCSF's severity_id 1..5 in the same order)."""

    INFORMATIONAL = "INFORMATIONAL"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


@dataclass(frozen=True)
class Reason:
    code: str
    outcome: Outcome | None  # None: a warning attached to a decision, not a decision of its own
    meaning: str
    fix: str
    severity: Severity
    compliance: Compliance | None  # None: not a verdict on a cluster's audit (no finding, not counted)


@dataclass(frozen=True)
class Verdict:
    """A decision read through the catalogue."""

    compliance: Compliance | None
    severity: Severity
    meaning: str
    fix: str
    catalogued: bool

    @property
    def failing(self) -> bool:
        return self.compliance is Compliance.FAIL


_I, _L, _M, _H, _C = Severity.INFORMATIONAL, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL
_PASS, _FAIL, _PEND = Compliance.PASS, Compliance.FAIL, Compliance.PENDING
_EX, _NA = Compliance.EXEMPT, Compliance.NOT_APPLICABLE
_O = Outcome

# fmt: off
_ROWS: tuple[Reason, ...] = (
    # --- audited -------------------------------------------------------------------------------------------------
    Reason("StreamActive", _O.ALREADY_ACTIVE, "the stream is started with the rule's key and mode; the key is "
           "enabled and DAS Guard could describe it", "Nothing to do.", _I, _PASS),
    # --- on its way --------------------------------------------------------------------------------------------
    Reason("StreamStarting", _O.ALREADY_ACTIVE, "the stream is starting; it is audited once RDS says started",
           "Nothing to do: the next evaluation or sweep confirms it.", _I, _PEND),
    Reason("StreamStarted", _O.STARTED, "DAS Guard started the stream now (status starting)",
           "Nothing to do: the next evaluation or sweep confirms it is started.", _I, _PEND),
    Reason("StreamStopping", _O.DEFERRED, "the stream is stopping; DAS Guard starts it again once it has stopped",
           "Nothing to do; the stop itself is reported on its own.", _L, _PEND),
    Reason("ClusterNotAvailable", _O.DEFERRED, "the cluster is not available yet (creating, modifying, upgrading)",
           "Nothing to do: DAS Guard checks again, and alerts if it never gets ready.", _I, _PEND),
    Reason("NoInstances", _O.DEFERRED, "the cluster has no DB instance yet; a stream needs one",
           "Nothing to do: the instance's creation event brings DAS Guard back.", _I, _PEND),
    Reason("NoAvailableInstance", _O.DEFERRED, "no instance of the cluster is available yet",
           "Nothing to do: DAS Guard checks again.", _I, _PEND),
    Reason("ClusterStateChanged", _O.DEFERRED, "RDS refused the start because the cluster changed state meanwhile",
           "Nothing to do: DAS Guard checks again.", _I, _PEND),
    Reason("AwaitingAttribution", _O.DEFERRED, "a stream stopped; DAS Guard waits for CloudTrail to say who stopped "
           "it before starting it again", "Nothing to do; the stop is reported on its own.", _L, _PEND),
    Reason("AwaitingUpgrade", _O.DEFERRED, "an Aurora PostgreSQL stream was stopped (reported as tampering); a "
           "major version upgrade may follow (AWS's documented procedure), so the restart waits a short grace",
           "Nothing to do; without an upgrade the stream is started again when the grace ends.", _L, _PEND),
    Reason("StoppedForUpgrade", _O.DEFERRED, "the stream was stopped for an Aurora PostgreSQL major version upgrade "
           "(AWS's documented procedure): reported as an upgrade stop, not tampering; DAS Guard starts it again when "
           "the upgrade completes", "Nothing, if the upgrade is planned; otherwise find who stopped the stream.", _M,
           _PEND),
    Reason("MajorUpgradeInProgress", _O.DEFERRED, "the stream was stopped for an Aurora PostgreSQL major version "
           "upgrade (AWS's documented procedure); DAS Guard starts it again when the upgrade completes",
           "Nothing to do; if the upgrade does not complete in time, DAS Guard alerts.", _M, _PEND),
    # --- not audited: the policy accepts it ----------------------------------------------------------------------
    Reason("ExemptionActive", _O.EXEMPT, "a time-boxed exemption in the policy covers the cluster",
           "Nothing, until the exemption ends; renew it in the policy only if still needed.", _I, _EX),
    Reason("ExemptByPolicy", _O.EXEMPT, "the rule that applies says exempt",
           "Nothing, if the rule is right; review it with the policy owner.", _I, _EX),
    Reason("BreakGlassHold", _O.EXEMPT, "an allowed (break-glass) principal stopped the stream; it stays stopped "
           "until the hold ends", "Nothing, if the stop was planned; DAS Guard starts the stream when the hold "
           "ends.", _L, _EX),
    Reason("StoppedByAllowedPrincipal", _O.TAMPERED, "a principal in the policy's stop_allowed stopped the stream; "
           "a bounded hold keeps it stopped", "Nothing, if this stop was planned.", _M, _EX),
    # --- nothing to audit ----------------------------------------------------------------------------------------
    Reason("NotAurora", _O.NOT_APPLICABLE, "not an Aurora cluster (DocumentDB, Neptune, Multi-AZ DB cluster)",
           "Nothing to do.", _I, _NA),
    Reason("ClusterDeleting", _O.NOT_APPLICABLE, "the cluster is being deleted", "Nothing to do.", _I, _NA),
    Reason("ClusterNotFound", _O.NOT_APPLICABLE, "the cluster does not exist (any more)", "Nothing to do.", _I, _NA),
    Reason("ClusterStopped", _O.NOT_APPLICABLE, "the cluster is stopped (up to 7 days): nothing runs to audit; DAS "
           "Guard evaluates it again when it starts (RDS-EVENT-0151/0153)", "Nothing to do.", _I, _NA),
    Reason("HeadlessGlobalCluster", _O.NOT_APPLICABLE, "a global database's cluster without instances: nothing runs "
           "to audit", "Nothing to do: its first instance's creation brings DAS Guard back.", _I, _NA),
    Reason("InstanceNotFound", _O.NOT_APPLICABLE, "the DB instance does not exist (any more)", "Nothing to do.", _I,
           _NA),
    Reason("StandaloneInstance", _O.NOT_APPLICABLE, "the DB instance is not part of a cluster", "Nothing to do.", _I,
           _NA),
    Reason("BlueGreenDeploymentNotFound", _O.NOT_APPLICABLE, "the blue/green deployment does not exist (any more)",
           "Nothing to do.", _I, _NA),
    # --- not audited: a stream is missing ------------------------------------------------------------------------
    Reason("ReportOnly", _O.WOULD_START, "no stream; the rule (or the deployment) is report-only, so DAS Guard did "
           "not start one", "Start the stream (or switch the rule to enforce).", _M, _FAIL),
    Reason("StreamMissing", _O.WOULD_START, "no stream; DAS Guard would start one now (an audit, read-only)",
           "Let DAS Guard enforce, or start the stream by hand with the rule's key and mode.", _M, _FAIL),
    Reason("MaintenanceWindow", _O.SCHEDULED, "no stream yet: a start was requested for the cluster's maintenance "
           "window (starting at once restarts the cluster)", "Nothing, if the window is acceptable; set "
           "apply_immediately: true on the rule to start at once (a restart).", _L, _FAIL),
    Reason("AlreadyScheduled", _O.SCHEDULED, "no stream yet: a start requested earlier waits for the maintenance "
           "window", "Nothing, until the window's deadline; DAS Guard alerts if it passes.", _L, _FAIL),
    # --- not audited: a person must act --------------------------------------------------------------------------
    Reason("ScheduledStartMissed", _O.FAILED, "a start requested for the maintenance window did not happen: the "
           "window passed and RDS does not say started", "Find out why (the window moved? the request was "
           "cancelled by a modification?); start the stream by hand, or set apply_immediately: true.", _H, _FAIL),
    Reason("MajorUpgradeOverdue", _O.FAILED, "a stream stopped for a major version upgrade is still off: the upgrade "
           "did not complete within the policy's bound", "Finish the upgrade, or start the stream again by hand; "
           "find out who stopped it (CloudTrail).", _H, _FAIL),
    Reason("ReadinessTimeout", _O.FAILED, "the cluster never got ready within the readiness window",
           "Make the cluster available with at least one available instance of a supported class.", _M, _FAIL),
    Reason("StartRefused", _O.FAILED, "StartActivityStream was refused for a reason AWS does not document",
           "Read AWS's own words in the detail; fix the cluster, then the next sweep tries again.", _M, _FAIL),
    Reason("AlreadyStarting", _O.DEFERRED, "RDS says a stream is already starting (another start won the race)",
           "Nothing to do: DAS Guard checks again.", _I, _PEND),
    Reason("AwsCallFailed", _O.FAILED, "an AWS call kept failing (throttling, an outage, or a refusal of DAS Guard's "
           "own rights)", "Read the AWS error in the detail; fix the role or wait for AWS, then redrive the DLQ.",
           _M, _FAIL),
    Reason("InternalError", _O.FAILED, "DAS Guard could not handle a message (a bug)", "Keep the log lines and "
           "report it; redrive the DLQ after upgrading.", _H, _FAIL),
    Reason("PolicyInvalid", _O.FAILED, "the policy document is invalid, so no cluster can be decided",
           "Fix the policy document; the alert names every problem.", _H, _FAIL),
    Reason("MalformedClusterRecord", _O.FAILED, "AWS described a cluster without a field DAS Guard needs (identifier "
           "or ARN); it was skipped, the others were decided", "Look at the cluster with aws rds "
           "describe-db-clusters; report it if the record stays malformed.", _M, _FAIL),
    Reason("UnsupportedRegion", _O.VIOLATION, "AWS offers no activity streams for Aurora in this region or partition",
           "Audit it another way, or exempt it in the policy with that reason.", _H, _FAIL),
    Reason("UnsupportedEngine", _O.VIOLATION, "the engine (Aurora MySQL 1) has no activity streams",
           "Upgrade to Aurora MySQL 3.", _H, _FAIL),
    Reason("UnsupportedEngineMode", _O.VIOLATION, "the engine mode (Serverless v1) has no activity streams",
           "Use a provisioned cluster.", _H, _FAIL),
    Reason("UnsupportedEngineVersion", _O.VIOLATION, "the engine version has no activity streams",
           "Upgrade the engine version (for Aurora PostgreSQL, apply the latest patch).", _H, _FAIL),
    Reason("UnsupportedInstanceClass", _O.VIOLATION, "an instance class has no activity streams",
           "Modify the instances to a supported memory-optimized class.", _H, _FAIL),
    Reason("UnsupportedConfiguration", _O.VIOLATION, "AWS lists no activity stream mode for this engine version and "
           "instance class here", "Change the class or the version to one AWS lists.", _H, _FAIL),
    Reason("LimitlessNotSupported", _O.VIOLATION, "Aurora PostgreSQL Limitless Database has no activity streams",
           "Audit it another way, or exempt it in the policy.", _H, _FAIL),
    Reason("BabelfishNotSupported", _O.VIOLATION, "Babelfish for Aurora PostgreSQL has no activity streams",
           "Audit it another way, or exempt it in the policy.", _H, _FAIL),
    Reason("KmsKeyNotFound", _O.VIOLATION, "the rule's KMS key does not exist", "Point the policy at an existing "
           "customer managed key in this region.", _H, _FAIL),
    Reason("KmsKeyNotAccessible", _O.VIOLATION, "the rule's KMS key cannot be used by DAS Guard or RDS",
           "Let the DAS Guard role describe the key and create grants for RDS (docs: key policy).", _H, _FAIL),
    Reason("KmsKeyAwsManaged", _O.VIOLATION, "the rule's KMS key is AWS managed", "Use a customer managed key.", _H,
           _FAIL),
    Reason("KmsKeyWrongRegion", _O.VIOLATION, "the rule's KMS key is in another region", "Use a key in the "
           "cluster's region.", _H, _FAIL),
    Reason("KmsKeyNotEnabled", _O.VIOLATION, "the rule's KMS key is disabled or pending deletion",
           "Enable the key or point the policy at another.", _H, _FAIL),
    Reason("KmsKeyWrongType", _O.VIOLATION, "the rule's KMS key is not a symmetric encryption key",
           "Use a SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT key.", _H, _FAIL),
    Reason("KmsNetworkPrerequisite", _O.VIOLATION, "Aurora MySQL of this version needs its instances to reach the "
           "KMS endpoint, and DAS Guard found no way they can", "Add a com.amazonaws.<region>.kms interface "
           "endpoint to the cluster's VPC (or NAT), or upgrade past Aurora MySQL 3.04.2.", _H, _FAIL),
    Reason("StreamKeyDisabled", _O.VIOLATION, "the running stream's KMS key is disabled: its records cannot be "
           "read", "Re-enable the key now and find out who disabled it.", _C, _FAIL),
    Reason("StreamKeyPendingDeletion", _O.VIOLATION, "the running stream's KMS key is scheduled for deletion: its "
           "records become unreadable for good", "Cancel the key deletion now and find out who scheduled it.", _C,
           _FAIL),
    Reason("StreamKeyUnverifiable", _O.VIOLATION, "DAS Guard cannot describe the running stream's KMS key, so it "
           "cannot vouch that the records stay readable", "Let the DAS Guard role describe the key (kms:DescribeKey "
           "in its key policy), or restart the stream on the rule's key.", _H, _FAIL),
    Reason("StreamKeyNotDesignated", _O.VIOLATION, "the stream runs on a KMS key other than the rule's",
           "A person stops the stream and starts it again with the rule's key (DAS Guard never stops a stream).",
           _H, _FAIL),
    Reason("StreamModeDiffers", _O.VIOLATION, "the stream runs in another mode than the rule's",
           "A person stops the stream and starts it again in the rule's mode (DAS Guard never stops a stream).",
           _M, _FAIL),
    # --- the records are not kept (the stream runs, but what it writes is lost) ------------------------------------
    Reason("RecordsStreamMissing", _O.VIOLATION, "the stream is started but the Kinesis stream Aurora writes its "
           "records to does not exist: every record since it went is lost", "Find who deleted the Kinesis stream "
           "(CloudTrail DeleteStream); a person stops the activity stream and starts it again so that Aurora creates "
           "a new one.", _C, _FAIL),
    Reason("RecordsRetentionShort", _O.VIOLATION, "the Kinesis stream keeps the records for less time than the "
           "rule's retention_hours", "Raise it: aws kinesis increase-stream-retention-period (raising never loses "
           "records); under an enforce rule DAS Guard raises it itself.", _H, _FAIL),
    Reason("RecordsStreamEncrypted", _O.VIOLATION, "someone added server-side encryption to the Kinesis stream, which "
           "AWS says is incompatible with database activity streams (records may be lost)", "Remove it: aws kinesis "
           "stop-stream-encryption (the records are already encrypted with the activity stream's KMS key).", _H,
           _FAIL),
    Reason("RecordsUnread", _O.VIOLATION, "the rule requires a reader of the records and nothing reads the Kinesis "
           "stream: records older than its retention are lost", "Attach the reader (a SIEM's consumer, a Lambda event "
           "source mapping or a Firehose delivery stream), or set reader: archive to let DAS Guard keep them.", _H,
           _FAIL),
    Reason("RecordsReaderBehind", _O.VIOLATION, "the slowest reader of the Kinesis stream is more than half its "
           "retention behind: records may expire before they are read", "Scale the lagging consumer, or raise "
           "retention_hours to buy it time.", _H, _FAIL),
    Reason("RecordsArchiveStale", _O.VIOLATION, "DAS Guard's archive delivery stream has held records back for over "
           "an hour: deliveries to the bucket are failing", "Read the delivery stream's errors; check the archive "
           "role and bucket policy.", _H, _FAIL),
    Reason("RecordsNotArchived", _O.VIOLATION, "the rule requires DAS Guard's archive and no archive delivery stream "
           "reads the Kinesis stream", "Check the archive bucket and DAS Guard's Firehose quota in the region; the "
           "next evaluation creates the delivery stream again.", _H, _FAIL),
    Reason("RecordsUnverifiable", _O.VIOLATION, "DAS Guard cannot describe the Kinesis stream of a started stream, so "
           "it cannot vouch that its records are kept", "Let the DAS Guard role describe streams named aws-rds-das-* "
           "(kinesis:DescribeStreamSummary).", _H, _FAIL),
    # --- somebody switched the audit off -------------------------------------------------------------------------
    Reason("StoppedByUnauthorizedPrincipal", _O.TAMPERED, "a principal not in stop_allowed stopped the stream",
           "Find out why this principal could stop the stream and remove rds:StopActivityStream from it.", _C,
           _FAIL),
    Reason("StreamStoppedUnattributed", _O.TAMPERED, "RDS reports the stream stopped and no CloudTrail record says "
           "who", "Find who stopped it in CloudTrail.", _C, _FAIL),
    Reason("StreamLost", _O.TAMPERED, "the stream was running when DAS Guard last saw it, and no stop event reached "
           "DAS Guard", "Find the StopActivityStream call in CloudTrail; check DAS Guard's rules and queue.", _C,
           _FAIL),
    Reason("StoppedWhilePolicyInvalid", _O.TAMPERED, "a stream stopped while the policy cannot be read",
           "Fix the policy document now, then check who stopped the stream.", _C, _FAIL),
    Reason("StopNotConfirmed", _O.TAMPERED, "an event says an allowed principal stopped the stream, but it runs: the "
           "event is stale or forged (the cluster's verdict is its next evaluation)", "Find who can send to DAS "
           "Guard's queue or invoke its function.", _H, None),
    # --- not a verdict on a cluster ------------------------------------------------------------------------------
    Reason("PolicyChanged", _O.ANNOUNCED, "the policy document was changed", "Read what changed in the notice.", _I,
           None),
    Reason("NoPolicyHistory", _O.IGNORED, "a policy change was seen with no history reader configured",
           "Nothing to do.", _I, None),
    Reason("MalformedMessage", _O.IGNORED, "a queue message DAS Guard cannot read", "Find who sends to the queue.",
           _L, None),
    Reason("MalformedEvent", _O.IGNORED, "an event without the fields DAS Guard needs", "Nothing to do.", _L, None),
    Reason("UnrecognisedEvent", _O.IGNORED, "an event DAS Guard does not handle", "Nothing to do.", _I, None),
    Reason("FailedApiCall", _O.IGNORED, "a CloudTrail record of a call that failed: nothing changed",
           "Nothing to do.", _I, None),
    Reason("ForeignAccount", _O.IGNORED, "an event about another account", "Nothing to do.", _L, None),
    Reason("ForeignRegion", _O.IGNORED, "an event about another region", "Nothing to do.", _L, None),
    Reason("NotAClusterResource", _O.IGNORED, "a tag change of a resource that is not a DB cluster", "Nothing to do.",
           _I, None),
    Reason("NotThePolicy", _O.IGNORED, "a parameter change that is not DAS Guard's policy", "Nothing to do.", _I,
           None),
    Reason("NotAnSqsBatch", _O.IGNORED, "the queue function was invoked with something other than an SQS batch",
           "Find who may invoke the function.", _L, None),
    Reason("NotAScheduledEvent", _O.IGNORED, "the sweep function was invoked with something other than its schedule's "
           "event", "Find who may invoke the function.", _L, None),
    # --- warnings on a decision ----------------------------------------------------------------------------------
    Reason("ModeDowngraded", None, "the rule asks for sync where only async exists; async was used",
           "Use mode async for these clusters.", _I, None),
    Reason("SupportFromStaticTable", None, "AWS could not be asked about support; DAS Guard's own table decided",
           "Allow rds:DescribeOrderableDBInstanceOptions.", _L, None),
    Reason("ExemptionExpired", None, "an exemption ended; the cluster is enforced again", "Renew it if needed.", _L,
           None),
    Reason("ProtectionLowered", None, "a tag change or rename put a running stream under a softer rule",
           "Check who changed it and whether the softer rule is right.", _M, None),
    Reason("HoldIgnored", None, "a break-glass hold in the state table was not honoured", "Find who wrote it.", _H,
           None),
    Reason("RecordsRetentionRaised", None, "the Kinesis stream kept records for less than the rule's retention_hours; "
           "DAS Guard raised it", "Nothing; find who lowered it if it was raised before (CloudTrail "
           "DecreaseStreamRetentionPeriod).", _L, None),
    Reason("RecordsArchiveCreated", None, "DAS Guard created the archive delivery stream of a started stream",
           "Nothing; the archive bucket receives its records within minutes.", _I, None),
    Reason("StreamNotRecorded", None, "a started stream could not be recorded in the state table",
           "Nothing; the sweep records it.", _L, None),
    Reason("StreamRecordNotReleased", None, "a start failed, and the record DAS Guard wrote before it could not be "
           "taken back", "Nothing if the next evaluation starts the stream; a StreamLost the sweep reports for this "
           "cluster before then is this failed start, not a stop.", _L, None),
    Reason("KmsNetworkUnconfirmed", None, "Aurora MySQL of this version needs its instances to reach KMS; DAS Guard "
           "could not confirm a route (no public instance, no KMS interface endpoint)", "Make sure a NAT route or a "
           "com.amazonaws.<region>.kms endpoint exists, or the stream stops again.", _M, None),
    Reason("FieldCut", None, "a field of the event was longer than DAS Guard keeps; it was cut (the cut is marked)",
           "Look at the original event in CloudTrail.", _L, None),
)
# fmt: on

CATALOGUE: Mapping[str, Reason] = {row.code: row for row in _ROWS}
assert len(CATALOGUE) == len(_ROWS), "a reason code is catalogued twice"

# Where a decision's reason is not catalogued (a bug the suite catches), the outcome alone still gives a safe verdict:
# never a pass.
_BY_OUTCOME: Mapping[Outcome, tuple[Compliance | None, Severity]] = {
    _O.STARTED: (_PEND, _I),
    _O.ALREADY_ACTIVE: (_PEND, _I),
    _O.DEFERRED: (_PEND, _I),
    _O.NOT_APPLICABLE: (_NA, _I),
    _O.EXEMPT: (_EX, _I),
    _O.WOULD_START: (_FAIL, _M),
    _O.SCHEDULED: (_FAIL, _L),
    _O.VIOLATION: (_FAIL, _H),
    _O.FAILED: (_FAIL, _M),
    _O.TAMPERED: (_FAIL, _H),
    _O.IGNORED: (None, _I),
    _O.ANNOUNCED: (None, _I),
}


# Decisions that are not a person's problem but are news: sent as a notice (not a HIGH alert).
NOTICES = frozenset({"StoppedForUpgrade"})


def reason(code: str) -> Reason | None:
    return CATALOGUE.get(code)


def verdict(decision: Decision) -> Verdict:
    """The compliance state, severity, meaning and fix of a decision, from the catalogue. A decision's own fix (which
    names the cluster, key or principal) wins over the catalogue's general one."""
    row = CATALOGUE.get(decision.reason)
    if row is not None and (row.outcome is decision.outcome or row.outcome is None):
        return Verdict(row.compliance, row.severity, row.meaning, decision.fix or row.fix, True)
    compliance, severity = _BY_OUTCOME[decision.outcome]
    meaning = row.meaning if row else decision.outcome.value
    return Verdict(compliance, severity, meaning, decision.fix or (row.fix if row else ""), False)


def passes(decision: Decision) -> bool:
    return verdict(decision).compliance is Compliance.PASS


OCSF_SEVERITY = {_I: 1, _L: 2, _M: 3, _H: 4, _C: 5}
ASFF_STATUS = {_PASS: "PASSED", _FAIL: "FAILED", _PEND: "WARNING", _EX: "WARNING", _NA: "NOT_AVAILABLE"}
OCSF_STATUS = {_PASS: (1, "Pass"), _FAIL: (3, "Fail"), _PEND: (2, "Warning"), _EX: (2, "Warning"), _NA: (99, "Other")}
