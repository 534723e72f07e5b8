"""Reads kpipe's /metrics with the Prometheus project's own text parser (prometheus_client,
PyPI), so what Prometheus would scrape is checked by a parser we did not write."""
from __future__ import annotations

import math

from prometheus_client.parser import text_string_to_metric_families


def sample_key(name: str, labels: dict[str, str]) -> str:
    if not labels:
        return name
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def prometheus_samples(text: str) -> dict[str, float]:
    """name{labels, sorted} → value. Fails on any line prometheus_client cannot parse, on a family
    without HELP or TYPE, on a sample given twice and on a negative counter."""
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        assert family.type in ("counter", "gauge", "summary", "histogram", "info"), \
            f"{family.name}: no TYPE line (parsed as {family.type})"
        assert family.documentation, f"{family.name}: no HELP line"
        for s in family.samples:
            key = sample_key(s.name, s.labels)
            assert key not in samples, f"{key} given twice"
            if family.type == "counter":
                assert s.value >= 0 and not math.isnan(s.value), f"{key} = {s.value}"
            samples[key] = s.value
    return samples
