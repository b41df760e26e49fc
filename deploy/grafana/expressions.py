"""The PromQL of the hub's Grafana dashboards, standard library only.

``python deploy/grafana/expressions.py`` prints every panel and variable query of
``deploy/grafana/dashboards/*.json`` as a Prometheus rules file (one recording rule per query,
Grafana's variables replaced by plain values), so ``promtool check rules`` parses each one:
``make rules-check`` does. ``tests/unit/test_observability.py`` reads the same queries to check
that every metric they name is one the hub exports.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DASHBOARDS = Path(__file__).resolve().parent / "dashboards"
# What Grafana puts in place of its variables, for a parser that does not know them.
VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "1m",
    "$__range": "1h",
    "$partner": ".*",
}


def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> parsed dashboard, every ``*.json`` of the dashboards folder."""
    return {
        p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(DASHBOARDS.glob("*.json"))
    }


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those nested in collapsed rows included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """``(where, PromQL)`` of every panel target and of every query variable."""
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            yield (
                f"panel {panel.get('id')} {panel.get('title')!r} {target.get('refId')}",
                target.get("expr", ""),
            )
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            query = var.get("query")
            text = query.get("query", "") if isinstance(query, dict) else query or ""
            match = re.fullmatch(r"\s*label_values\((.+),\s*\w+\s*\)\s*", text)
            yield f"variable {var.get('name')}", match.group(1) if match else text


def plain(expr: str) -> str:
    """``expr`` with Grafana's variables replaced (longest names first)."""
    for name in sorted(VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, VARIABLES[name])
    return expr


def as_rules() -> str:
    """Every query as a recording rule, in a rules file (JSON is valid YAML)."""
    groups = []
    for name, dashboard in dashboards().items():
        rules = [
            {"record": f"dashboard:query_{i}", "expr": plain(expr), "labels": {"where": where}}
            for i, (where, expr) in enumerate(queries(dashboard))
        ]
        groups.append({"name": name, "rules": rules})
    return json.dumps({"groups": groups}, indent=1)


if __name__ == "__main__":
    sys.stdout.write(as_rules() + "\n")
