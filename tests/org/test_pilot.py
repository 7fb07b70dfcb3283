"""A pilot OU rolled out in report-only mode by its own StackSet (central.yaml's PilotStackSet)."""

from __future__ import annotations

from localaws import World
from localaws.organisation import Organisation


def test_a_pilot_ou_runs_report_only() -> None:
    with World() as world:
        org = Organisation(
            world, regions=("us-east-1",), ous={"prod": ["prod-a"], "pilot": ["pilot-a"]}, pilot_ous=("pilot",)
        )
        org.roll_out()
        pilot = org.member(org.accounts["pilot-a"], "us-east-1")
        prod = org.member(org.accounts["prod-a"], "us-east-1")
        assert (pilot.settings.report_only, prod.settings.report_only) == (True, False)
        pilot.add_cluster("trial-pg")
        pilot.sweep()
        assert pilot.outcomes() == ["WouldStart"]
        assert pilot.streams()["trial-pg"] == "stopped"
