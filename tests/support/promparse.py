"""Parses Prometheus text exposition from stdin with the official Python client's
parser (Debian: python3-prometheus-client) and prints the families as JSON:
an independent check of what Nexus serves on its metrics listener. The parser
is lenient about samples it cannot place (they become families of type
"unknown"), so those are refused here: every sample must belong to a family
whose TYPE was declared, and no family may be declared twice."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

families = []
for family in text_string_to_metric_families(sys.stdin.read()):
    families.append({
        "name": family.name,
        "type": family.type,
        "help": family.documentation,
        "samples": [
            {"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples
        ],
    })
names = [f["name"] for f in families]
stray = [f["name"] for f in families if f["type"] == "unknown"]
if stray or len(set(names)) != len(names):
    sys.exit(f"samples outside a declared family: {stray}; families: {names}")
json.dump(families, sys.stdout)
