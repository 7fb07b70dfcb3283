"""Are a started stream's records kept? Pure logic: the facts come from Kinesis and its readers (aws/records.py).

A started activity stream is half an audit trail: Aurora writes the records to a Kinesis stream it creates with a
24-hour retention and deletes when the activity stream stops. The policy's `records` says how long Kinesis must keep
them and who must read them (das_guard.policy.RecordsTerms); what fails here fails the cluster's verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Finding, KinesisFacts
from ..policy import Reader, RecordsTerms

KINESIS_PREFIX = "aws-rds-das-"  # Aurora names the stream aws-rds-das-<DbClusterResourceId>
ARCHIVE_PREFIX = "das-guard-archive-"  # DAS Guard's own Firehose delivery streams (archive_name)
ARCHIVE_STALE_SECONDS = 3600  # twelve of the archive's 5-minute buffer intervals without a delivery: it is failing


def archive_name(resource_id: str, created: int | None) -> str:
    """DAS Guard's delivery stream for one Kinesis stream: Aurora creates a new Kinesis stream (same name) at every
    start, so the name carries the stream's creation time and each incarnation gets its own (64 characters at most:
    18 + 34 + 1 + 10)."""
    return f"{ARCHIVE_PREFIX}{resource_id.lower()[:34]}-{created or 0}"


@dataclass(frozen=True)
class RecordsVerdict:
    problems: tuple[Finding, ...] = ()  # each fails the cluster
    raise_to: int | None = None  # the retention DAS Guard should set (an enforce rule; raising never loses records)
    archive: str | None = None  # the delivery stream DAS Guard should create (an enforce rule, archive deployed)


def judge_records(
    facts: KinesisFacts, terms: RecordsTerms, *, enforce: bool, resource_id: str = "", can_archive: bool = False
) -> RecordsVerdict:
    """What is wrong with how `facts`' stream keeps its records, by the rule's `terms`. `can_archive`: the stack has
    an archive (bucket and role) DAS Guard may create delivery streams into."""
    if facts.error is not None:
        return RecordsVerdict(
            (
                Finding(
                    "RecordsUnverifiable",
                    f"DAS Guard cannot describe the Kinesis stream {facts.name}: {facts.error}",
                    "Let the DAS Guard role call kinesis:DescribeStreamSummary on streams named aws-rds-das-*.",
                ),
            )
        )
    if not facts.exists:
        return RecordsVerdict(
            (
                Finding(
                    "RecordsStreamMissing",
                    f"the activity stream is started but its Kinesis stream {facts.name} does not exist: the records "
                    "written since it was deleted are lost",
                    "Find who deleted it (CloudTrail kinesis DeleteStream); a person stops the activity stream and "
                    "starts it again, and Aurora creates a new Kinesis stream.",
                ),
            )
        )
    problems: list[Finding] = []
    if facts.encryption not in (None, "NONE"):
        problems.append(
            Finding(
                "RecordsStreamEncrypted",
                f"the Kinesis stream {facts.name} has server-side encryption ({facts.encryption}), which AWS says is "
                "incompatible with database activity streams",
                f"aws kinesis stop-stream-encryption --stream-name {facts.name} --encryption-type KMS --key-id <key>",
            )
        )
    raise_to = None
    kept = facts.retention_hours
    kept_text = f"{kept} hours" if kept is not None else "an unknown time"
    if kept is None or kept < terms.retention_hours:
        if enforce and kept is not None:
            raise_to = terms.retention_hours
        else:
            problems.append(
                Finding(
                    "RecordsRetentionShort",
                    f"the Kinesis stream {facts.name} keeps records for {kept_text}; the rule asks for "
                    f"{terms.retention_hours} hours",
                    f"aws kinesis increase-stream-retention-period --stream-name {facts.name} "
                    f"--retention-period-hours {terms.retention_hours}",
                )
            )
    if facts.behind_ms is not None and kept is not None and facts.behind_ms > kept * 3600 * 1000 / 2:
        problems.append(
            Finding(
                "RecordsReaderBehind",
                f"the slowest reader of {facts.name} is {facts.behind_ms / 3_600_000:.1f} hours behind; the stream "
                f"keeps records {kept} hours, so it has less time left than it is behind before records expire unread",
                "Find the lagging consumer (CloudWatch GetRecords.IteratorAgeMilliseconds) and scale it, or raise "
                "retention_hours to buy it time.",
            )
        )
    archive = archive_name(resource_id, facts.created)
    archived = f"firehose:{archive}" in facts.readers
    create = None
    if terms.reader is Reader.ANY and not facts.readers:
        problems.append(
            Finding(
                "RecordsUnread",
                f"nothing reads the Kinesis stream {facts.name} (no enhanced fan-out consumer, Lambda event source "
                f"mapping or Firehose delivery stream): records older than {kept_text} are lost",
                "Attach the SIEM's consumer, or set reader: archive and let DAS Guard keep the records.",
            )
        )
    elif terms.reader is Reader.ARCHIVE and archived and (facts.archive_freshness_s or 0) > ARCHIVE_STALE_SECONDS:
        problems.append(
            Finding(
                "RecordsArchiveStale",
                f"the archive {archive} holds records back: its oldest undelivered record is "
                f"{(facts.archive_freshness_s or 0) / 60:.0f} minutes old (Firehose DeliveryToS3.DataFreshness)",
                f"Read the delivery stream's errors (bucket prefix errors/, its CloudWatch logs); check "
                f"ArchiveDeliveryRole and the bucket policy. Kinesis keeps the records {kept_text} meanwhile.",
            )
        )
    elif terms.reader is Reader.ARCHIVE and not archived:
        if enforce and can_archive and facts.arn:
            create = archive
        else:
            why = "the stack has no records archive" if not can_archive else "the rule only reports"
            problems.append(
                Finding(
                    "RecordsNotArchived",
                    f"no DAS Guard archive ({archive}) reads the Kinesis stream {facts.name} ({why})",
                    "Deploy the stack's records archive and use an enforce rule, or archive the stream yourself.",
                )
            )
    return RecordsVerdict(tuple(problems), raise_to, create)
