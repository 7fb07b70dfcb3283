"""The figures docs/deploying.md gives for an organisation: fixed cost per account and region, central events a day."""

from __future__ import annotations

from collections import Counter
from typing import Any

from localaws import World
from localaws.organisation import Organisation
from org import package

KEY_MONTH, ALARM_MONTH, DASHBOARD_MONTH = 1.00, 0.10, 3.00  # us-east-1 list prices, USD


def deployed(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, str]:
    """Logical id -> type of what a stack with these parameters creates (conditions on the resources evaluated)."""
    values = {n: p.get("Default", "") for n, p in template["Parameters"].items()} | parameters

    def holds(node: Any) -> bool:
        [(name, argument)] = node.items()
        if name == "Fn::Equals":
            left, right = (
                holds(a) if isinstance(a, dict) and "Condition" in a else _value(a, values) for a in argument
            )
            return bool(left == right)
        if name == "Fn::Not":
            return not holds(argument[0])
        if name == "Fn::And":
            return all(holds(a) for a in argument)
        if name == "Fn::Or":
            return any(holds(a) for a in argument)
        if name == "Condition":
            return holds(template["Conditions"][argument])
        raise AssertionError(name)

    return {
        n: r["Type"]
        for n, r in template["Resources"].items()
        if "Condition" not in r or holds(template["Conditions"][r["Condition"]])
    }


def _value(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, dict) and "Ref" in node:
        return values.get(node["Ref"], "us-east-1" if node["Ref"] == "AWS::Region" else "")
    if isinstance(node, dict) and "Fn::Join" in node:
        separator, items = node["Fn::Join"]
        return separator.join(str(_value(i, values)) for i in (items if isinstance(items, list) else [items]))
    return node


def test_the_fixed_cost_per_account_and_region_is_what_the_docs_say() -> None:
    template = package.build("9.9.9").template
    stackset = {"NamePrefix": "das-guard", "DashboardEnabled": "false", "SecurityHubFindings": "true"}
    kinds = Counter(deployed(template, stackset).values())
    monthly = kinds["AWS::KMS::Key"] * KEY_MONTH + kinds["AWS::CloudWatch::Alarm"] * ALARM_MONTH
    monthly += kinds["AWS::CloudWatch::Dashboard"] * DASHBOARD_MONTH
    assert (kinds["AWS::KMS::Key"], kinds["AWS::CloudWatch::Alarm"], kinds["AWS::CloudWatch::Dashboard"]) == (2, 8, 0)
    assert round(monthly, 2) == 2.80
    page = (package.ROOT / "docs" / "deploying.md").read_text(encoding="utf-8")
    assert f"**${monthly:.2f}**" in page, "docs/deploying.md quotes the fixed cost the template has"
    with_dashboard = Counter(deployed(template, stackset | {"DashboardEnabled": "true"}).values())
    assert with_dashboard["AWS::CloudWatch::Dashboard"] == 1


def test_a_quiet_day_is_one_central_event_per_account_and_region() -> None:
    with World() as world:
        org = Organisation(world, regions=("us-east-1", "eu-west-1"), ous={"prod": ["a", "b"]})
        org.roll_out()
        members = [org.member(a, r) for a in org.members().values() for r in org.regions]
        for member in members:
            member.add_cluster("orders-pg")
            member.add_cluster("ledger-pg")
            member.sweep()  # day 0: two starts each
        world.advance(days=1)
        org.central_events()
        for member in members:
            member.sweep()  # day 1: nothing changed
        quiet = Counter((e["detail"]["account"], e["detail"]["region"], e["detail-type"]) for e in org.central_events())
        assert set(quiet.values()) == {1}
        assert {kind for _, _, kind in quiet} == {"DAS Guard Sweep Summary"}
        assert len(quiet) == len(members)
        members[0].add_cluster("new-pg")
        members[0].sweep()  # a change: one more event for that account and region
        changed = Counter(e["detail-type"] for e in org.central_events())
        assert changed == {"DAS Guard Sweep Summary": 1, "DAS Guard Enforcement Result": 1}
