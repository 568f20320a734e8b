"""Rewrite the per-split sign metrics of |psi|^2-drawn sets in the committed result files.

Before the metrics were fixed, the ``weighted_accuracy`` and ``overlap`` of the sets drawn with
probability |psi|^2 (``train``, ``val``, ``test_weighted``) weighted those samples by |psi|^2 a
second time. Their correct values are the plain means (``nqs_dilated.metrics.psi2_sample_estimates``):
``weighted_accuracy = accuracy`` and ``overlap = 2 accuracy - 1``, which this script writes from
the stored ``accuracy`` of each such set (``metrics.*`` and ``marshall_metrics.*``, in every
``summary.json`` and ``results.csv`` under runs/results, and the top-level ``test_*`` /
``marshall_test_*`` figures taken from ``test_weighted``). The Optuna ``trials.csv`` files get
``value = 2 val_accuracy - 1`` and ``user_attrs_val_weighted_accuracy = val_accuracy``. Other
fields and the exhaustive ``test`` / uniform ``test_uniform`` sets are left as they are. Running it
twice changes nothing. Usage: python runs/results/regenerate-psi2-fields.py
"""

import csv
import io
import json
from pathlib import Path

PSI2 = ("train", "val", "test_weighted")
ROOT = Path(__file__).resolve().parent


def fix_metrics(metrics: dict) -> None:
    for split in PSI2:
        m = metrics.get(split)
        if m and "accuracy" in m:
            m["weighted_accuracy"] = m["accuracy"]
            m["overlap"] = 2 * m["accuracy"] - 1


def fix_summary(s: dict) -> None:
    for key in ("metrics", "marshall_metrics"):
        if isinstance(s.get(key), dict):
            fix_metrics(s[key])
    for prefix, key in (("test_", "metrics"), ("marshall_test_", "marshall_metrics")):
        w = (s.get(key) or {}).get("test_weighted")
        if w and f"{prefix}overlap" in s:
            s[f"{prefix}weighted_accuracy"] = w["accuracy"]
            s[f"{prefix}overlap"] = 2 * w["accuracy"] - 1


def fix_row(row: dict) -> None:
    for key in ("metrics", "marshall_metrics"):
        for split in PSI2:
            acc = row.get(f"{key}.{split}.accuracy")
            if acc not in (None, ""):
                a = float(acc)
                if f"{key}.{split}.weighted_accuracy" in row:
                    row[f"{key}.{split}.weighted_accuracy"] = repr(a)
                if f"{key}.{split}.overlap" in row:
                    row[f"{key}.{split}.overlap"] = repr(2 * a - 1)
    for prefix, key in (("test_", "metrics"), ("marshall_test_", "marshall_metrics")):
        acc = row.get(f"{key}.test_weighted.accuracy")
        if acc not in (None, "") and f"{prefix}overlap" in row:
            row[f"{prefix}weighted_accuracy"] = repr(float(acc))
            row[f"{prefix}overlap"] = repr(2 * float(acc) - 1)
    if "user_attrs_val_accuracy" in row and row.get("value") not in (None, "") and row["user_attrs_val_accuracy"]:
        a = float(row["user_attrs_val_accuracy"])
        row["value"] = repr(2 * a - 1)
        row["user_attrs_val_weighted_accuracy"] = repr(a)


def rewrite_csv(path: Path) -> bool:
    text = path.read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        return False
    for row in rows:
        fix_row(row)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0].keys()), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    if out.getvalue() != text:
        path.write_text(out.getvalue())
        return True
    return False


def main() -> None:
    changed = 0
    for path in sorted(ROOT.rglob("summary.json")):
        s = json.loads(path.read_text())
        before = json.dumps(s, sort_keys=True)
        fix_summary(s)
        if json.dumps(s, sort_keys=True) != before:
            path.write_text(json.dumps(s, indent=2, sort_keys=True))
            changed += 1
    for name in ("results.csv", "trials.csv"):
        for path in sorted(ROOT.rglob(name)):
            changed += rewrite_csv(path)
    print(f"{changed} files rewritten")


if __name__ == "__main__":
    main()
