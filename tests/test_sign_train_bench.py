"""Smoke test of benchmarks/sign_train.py: ``--quick`` runs and prints the table."""

import importlib.util
import re
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "sign_train.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("sign_train_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flops_per_sample_counts_convs_and_head(bench):
    f = bench.flops_per_sample(36, (32, 32, 32), 3)
    assert f["conv_macs"] == 36 * 9 * (1 * 32 + 32 * 32 + 32 * 32)
    assert f["head_macs"] == 64
    assert f["train"] == 3 * f["forward"] == 6 * (f["conv_macs"] + f["head_macs"])


def test_quick_run_prints_the_table(bench, capsys):
    rows = bench.main(["--quick"])
    out = capsys.readouterr().out
    assert re.search(r"batch\s+implementation\s+device\s+samples/s", out)
    assert re.search(r"\n\s+256 ours \(nqs_dilated\)\s+\w+\s+\d+", out)
    assert "FLOPs per sample" in out and "peak RSS" in out
    ours = [r for r in rows if r["label"].startswith("ours")]
    # On CPU the batch of 256 is two micro-batches: the whole-batch row is timed too.
    assert [r["label"] for r in ours] == ["ours (nqs_dilated)", "ours, whole batches"]
    assert all(r["rate"] > 0 for r in ours)
    if bench.import_torch() is None:
        assert "absent" in out
    else:
        # Same network: equal parameter counts and logits with the same parameters.
        m = re.search(r"parameters: ours (\d+), torch (\d+); max \|logits ours - torch\| .* = (\S+)", out)
        assert m and m.group(1) == m.group(2)
        assert float(m.group(3)) < 1e-4
        assert any(r["label"].startswith("torch") for r in rows) and ours[0]["ratio"] > 0
