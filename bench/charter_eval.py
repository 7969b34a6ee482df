"""How well the charter engine does on the labelled sentences, per family and language.

Run: .venv/bin/python bench/charter_eval.py [path/to/labelled.yaml]

For each split (dev: rules were written against it, tests require an exact match; heldout:
written before the rules and never tuned on) and each language, per family:
- recall: forbidden sentences (non-empty `expected`) where the engine reports every expected
  rule id;
- blocked-neutral: neutral sentences (`expected: []`) with a blocking finding;
- warned-neutral: neutral sentences with a warning.
A sentence's family is its `family:` key (neutral twins carry the family they mirror), else
the tail of its first expected rule. Then the per-rule TP/FP/FN table, the misses, and the
cost in ms per sentence, cold (first parse of each sentence) and warm (cached).
It prints figures; it is not a test (tests/test_charter_opinion.py asserts the bounds).
"""

from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

from alertcast.charter import check_text
from alertcast.models.finding import Finding

DEFAULT = Path(__file__).resolve().parent.parent / "tests" / "data" / "charter_labelled.yaml"


def family(case: dict[str, Any]) -> str:
    if case.get("family"):
        return str(case["family"])
    if case["expected"]:
        rule = str(case["expected"][0])
        return rule.split(".")[1] if rule.startswith("neutrality.") else rule.split(".")[0]
    return "daily"


def _ratio(numerator: int, denominator: int) -> str:
    return f"{numerator / denominator:.3f} ({numerator}/{denominator})" if denominator else "-"


def scores(results: list[tuple[dict[str, Any], list[Finding]]]) -> dict[str, tuple[int, int, int, int, int]]:
    """family -> (caught, forbidden, blocked neutral, warned neutral, neutral); "all" too."""
    table: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for case, findings in results:
        for key in (family(case), "all"):
            row = table[key]
            if case["expected"]:
                row[1] += 1
                row[0] += set(case["expected"]) <= {f.rule for f in findings}
            else:
                row[4] += 1
                row[2] += any(f.level == "block" for f in findings)
                row[3] += any(f.level == "warn" for f in findings)
    return {key: (r[0], r[1], r[2], r[3], r[4]) for key, r in table.items()}


def report(name: str, results: list[tuple[dict[str, Any], list[Finding]]]) -> None:
    for language in sorted({case["language"] for case, _ in results}):
        subset = [(case, found) for case, found in results if case["language"] == language]
        print(f"\n== {name} / {language}: {len(subset)} sentences")
        print(f"{'family':<15}{'recall':>18}{'blocked-neutral':>20}{'warned-neutral':>20}")
        table = scores(subset)
        for key in [*sorted(k for k in table if k != "all"), "all"]:
            caught, forbidden, blocked, warned, neutral = table[key]
            print(
                f"{key:<15}{_ratio(caught, forbidden):>18}{_ratio(blocked, neutral):>20}"
                f"{_ratio(warned, neutral):>20}"
            )
    true_pos: Counter[str] = Counter()
    false_pos: Counter[str] = Counter()
    false_neg: Counter[str] = Counter()
    errors: list[str] = []
    for case, findings in results:
        found, expected = {f.rule for f in findings}, set(case["expected"])
        for rule in found & expected:
            true_pos[rule] += 1
        for rule in found - expected:
            false_pos[rule] += 1
            errors.append(f"  FP {rule:<24} {case['text']}")
        for rule in expected - found:
            false_neg[rule] += 1
            errors.append(f"  FN {rule:<24} {case['text']}")
    print(f"\n{name}: per rule    TP   FP   FN")
    for rule in sorted(set(true_pos) | set(false_pos) | set(false_neg)):
        print(f"  {rule:<24}{true_pos[rule]:>5}{false_pos[rule]:>5}{false_neg[rule]:>5}")
    for line in errors:
        print(line)


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT
    cases: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))
    started = time.perf_counter()
    check_text("Chargement.", "fr")
    check_text("Loading.", "en")
    print(f"models and lexicons loaded in {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    results = [(case, check_text(case["text"], case["language"])) for case in cases]
    cold = (time.perf_counter() - started) * 1000 / max(len(cases), 1)
    started = time.perf_counter()
    for case in cases:
        check_text(case["text"], case["language"])
    warm = (time.perf_counter() - started) * 1000 / max(len(cases), 1)
    splits: dict[str, list[tuple[dict[str, Any], list[Finding]]]] = {}
    for case, findings in results:
        splits.setdefault(case.get("split", "dev"), []).append((case, findings))
    for name in sorted(splits):
        report(name, splits[name])
    print(f"\n{cold:.2f} ms per sentence cold (first parse), {warm:.2f} ms warm (parses cached)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
