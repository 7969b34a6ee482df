"""Precision and recall of the charter engine on the labelled sentences, per rule family.

Run: .venv/bin/python bench/charter_eval.py [path/to/labelled.yaml]

Each (sentence, rule id) pair is one decision: a rule id the engine reports and the label
lists is a true positive, one it reports that the label lacks a false positive, one the label
lists that it misses a false negative. The "dev" split is what the rules were written
against (tests require an exact match there), so its figures are optimistic by construction;
"heldout" sentences were written before the engine ever ran on them and were not tuned on.
It prints figures; it is not a test.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from alertcast.charter import check_text

DEFAULT = Path(__file__).resolve().parent.parent / "tests" / "data" / "charter_labelled.yaml"


def _ratio(numerator: int, denominator: int) -> str:
    return f"{numerator / denominator:.3f}" if denominator else "  -  "


def evaluate(
    cases: list[dict[str, Any]],
) -> tuple[Counter[str], Counter[str], Counter[str], list[str], float]:
    true_pos: Counter[str] = Counter()
    false_pos: Counter[str] = Counter()
    false_neg: Counter[str] = Counter()
    errors: list[str] = []
    started = time.perf_counter()
    for case in cases:
        found = {finding.rule for finding in check_text(case["text"], case["language"])}
        expected = set(case["expected"])
        for rule in found & expected:
            true_pos[rule.split(".")[0]] += 1
        for rule in found - expected:
            false_pos[rule.split(".")[0]] += 1
            errors.append(f"  FP {rule:<24} {case['text']}")
        for rule in expected - found:
            false_neg[rule.split(".")[0]] += 1
            errors.append(f"  FN {rule:<24} {case['text']}")
    elapsed = time.perf_counter() - started
    return true_pos, false_pos, false_neg, errors, elapsed


def report(name: str, cases: list[dict[str, Any]]) -> None:
    true_pos, false_pos, false_neg, errors, elapsed = evaluate(cases)
    languages = Counter(case["language"] for case in cases)
    by_language = ", ".join(f"{n} {lang}" for lang, n in sorted(languages.items()))
    print(f"\n== {name}: {len(cases)} sentences ({by_language})")
    print(f"{'family':<15}{'TP':>5}{'FP':>5}{'FN':>5}{'precision':>11}{'recall':>8}")
    families = sorted(set(true_pos) | set(false_pos) | set(false_neg))
    for family in [*families, "overall"]:
        if family == "overall":
            tp, fp, fn = sum(true_pos.values()), sum(false_pos.values()), sum(false_neg.values())
        else:
            tp, fp, fn = true_pos[family], false_pos[family], false_neg[family]
        print(f"{family:<15}{tp:>5}{fp:>5}{fn:>5}{_ratio(tp, tp + fp):>11}{_ratio(tp, tp + fn):>8}")
    print(f"({elapsed * 1000 / max(len(cases), 1):.2f} ms per sentence, dictionaries already loaded)")
    for line in errors:
        print(line)


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT
    cases: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))
    check_text("warm up", "fr")
    check_text("warm up", "en")
    splits: dict[str, list[dict[str, Any]]] = {}
    for case in cases:
        splits.setdefault(case.get("split", "dev"), []).append(case)
    for name in sorted(splits):
        report(name, splits[name])
    report("all", cases)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
