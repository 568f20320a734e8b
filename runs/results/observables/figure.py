"""Summary figure and table of the exact observables written by run.sh.

Reads <cluster>.jsonl (one ``nqs-dilated ed --json --observables`` report per J2/J1) and draws
``structure-factor-vs-j2.{png,pdf}``: (a) the height of the S(q) peak per site, S(q_peak)/N, (b) the
length of the peak momentum against the M and K points of the triangular Brillouin zone, (c) the
gaps above E0 (Pauli units) where every sector was solved (``--momenta all``): the lowest state of
odd spin-inversion parity (odd total spin S, for N/2 even: the lowest triplet) and the lowest other
state of even parity (even S: singlets), over all momenta, (d) the lowest energy of every
zero-momentum sector of the 36-site cluster above E0, from the complete sector searches
(``../ed36/auto-j2=*.json``) and every sector energy the scan computed (sectors a bound excluded are
not drawn). Writes ``summary.md`` with the rows.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from nqs_dilated.files import atomic_path, write_atomic

here = Path(__file__).resolve().parent
M_POINT, K_POINT = 2 * math.pi / math.sqrt(3), 4 * math.pi / 3  # |q| of M and K for a1 = (1, 0)


def _label(q: float) -> str:
    for name, value in (("Γ", 0.0), ("M", M_POINT), ("K", K_POINT)):
        if abs(q - value) < 1e-9:
            return name
    return f"|q| = {q:.3f}"


def _gaps(report: dict) -> tuple[float, float, str]:
    """(lowest odd-parity energy - E0, lowest other even-parity energy - E0, the odd sector's label)
    over the zero-momentum sectors and every momentum sector of a report."""
    energies = {**report["sector_energies"], **report.get("momentum_sector_energies", {})}
    e0 = report["energy"]
    odd = {k: e for k, e in energies.items() if k.endswith("-")}
    even = [e for k, e in energies.items() if k.endswith("+") and k != report["sector"]]
    label = min(odd, key=odd.get)
    return odd[label] - e0, min(even) - e0, label


rows = {}
for path in sorted(here.glob("triangular-*.jsonl")):
    reports = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows[path.stem] = sorted(reports, key=lambda r: r["j2"])

fig = Figure(figsize=(10, 7), layout="constrained")
(ax_s, ax_q), (ax_e, ax_sec) = fig.subplots(2, 2)
lines = [
    "| cluster | J2/J1 | sector | E0 (Pauli) | peak (m1, m2) | q_peak | S(q_peak) | S(q_peak)/N | lowest odd-parity state − E0 (sector) | seconds (observables) |",
    "|---|---|---|---|---|---|---|---|---|---|",
]
for name, reports in rows.items():
    n = reports[0]["n_sites"]
    j2 = np.array([r["j2"] for r in reports])
    obs = [r["observables"] for r in reports]
    s = np.array([o["S_peak"] for o in obs])
    q = np.array([math.hypot(o["qx"], o["qy"]) for o in obs])
    ax_s.plot(j2, s / n, "o-", label=f"{name} (N = {n})")
    ax_q.plot(j2, q, "o-", label=name)
    full = [r for r in reports if "momentum_sector_energies" in r]
    if full:
        jj = np.array([r["j2"] for r in full])
        ax_e.plot(jj, [_gaps(r)[0] for r in full], "o-", label=f"N = {n}: lowest odd parity (triplet)")
        ax_e.plot(jj, [_gaps(r)[1] for r in full], "s--", label=f"N = {n}: lowest other even parity")
    for r, o, qq in zip(reports, obs, q):
        gap = f"{_gaps(r)[0]:.4f} ({_gaps(r)[2]})" if "momentum_sector_energies" in r else "—"
        lines.append(
            f"| {name} | {r['j2']:g} | {r['sector']} | {r['energy']:.10f} | ({o['m1']}, {o['m2']}) | {_label(qq)} | "
            f"{o['S_peak']:.4f} | {o['S_peak'] / n:.4f} | {gap} | {o['seconds']:.1f} |"
        )
# 36 sites: the complete zero-momentum sector searches of the ED engine (k = 0 only: the lowest
# triplet of an ordered state sits at the ordering momentum, which these do not include)
searches = [json.loads(p.read_text()) for p in sorted((here.parent / "ed36").glob("auto-j2=*.json"))]
searches = sorted((r for r in searches if len(r.get("sector_energies", {})) == 8), key=lambda r: r["j2"])
if searches:
    jj = [r["j2"] for r in searches]
    odd = [min(e for k, e in r["sector_energies"].items() if k.endswith("-")) - r["energy"] for r in searches]
    ax_e.plot(jj, odd, "D:", label="N = 36: lowest odd parity, k = 0 only")
    lines.append("")
    lines.append("36 sites, complete zero-momentum sector searches (`../ed36/auto-j2=*.json`; k = 0 only):")
    lines.append("")
    lines.append("| J2/J1 | sector | lowest odd-parity sector at k = 0 | its energy − E0 |")
    lines.append("|---|---|---|---|")
    for r, g in zip(searches, odd):
        label = min((k for k in r["sector_energies"] if k.endswith("-")), key=r["sector_energies"].get)
        lines.append(f"| {r['j2']:g} | {r['sector']} | {label} | {g:.4f} |")
# (d) every computed 36-site zero-momentum sector energy above E0, full searches and scan points
sector_points: dict[str, dict[float, float]] = {}
for r in searches + rows.get("triangular-6x6", []):
    for label, e in r["sector_energies"].items():
        sector_points.setdefault(label, {})[r["j2"]] = e - r["energy"]
for label in sorted(sector_points, key=lambda k: (k[-1], k)):
    pts = sorted(sector_points[label].items())
    style = "o-" if label.endswith("+") else "s--"
    ax_sec.plot([p[0] for p in pts], [p[1] for p in pts], style, ms=4, label=label)
ax_sec.set(xlabel="J2/J1", ylabel="E_sector − E0 (Pauli)", title="(d) N = 36, k = 0 sectors")
ax_sec.legend(fontsize=6, ncol=2)
for value, name in ((M_POINT, "M"), (K_POINT, "K")):
    ax_q.axhline(value, color="0.6", lw=0.8, ls=":")
    ax_q.text(0.0, value, f" {name}", va="bottom", color="0.4")
ax_s.set(xlabel="J2/J1", ylabel="S(q_peak) / N", title="(a) height of the S(q) peak")
ax_q.set(xlabel="J2/J1", ylabel="|q_peak|", title="(b) position of the peak")
ax_e.set(xlabel="J2/J1", ylabel="E − E0 (Pauli)", title="(c) gaps over all momenta")
ax_s.legend(fontsize=7)
ax_e.legend(fontsize=6, loc="upper right", framealpha=0.9)
ax_e.set_ylim(0, 12)
for ext in ("png", "pdf"):
    with atomic_path(here / f"structure-factor-vs-j2.{ext}") as tmp:
        fig.savefig(tmp, format=ext, dpi=150)
write_atomic(
    here / "summary.md",
    "Generated by figure.py from the reports of run.sh (exact ground states; S(q) in S·S units).\n\n"
    + "\n".join(lines)
    + "\n",
)
print("\n".join(lines))
