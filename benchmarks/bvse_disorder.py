"""How the BVSE Li barrier of Li6PS5Cl tracks the 4a/4d anion disorder (issue 25 item 3): E_3D against the fraction f
of Cl on 4d (the cage centre; S takes the other sites), three ways, beside the published AIMD series.

* site average (what argyrodb stores and screens): 4a holds Cl 1-f / S f, 4d Cl f / S 1-f, each species' energy
  weighted by its occupancy; f = 0 ... 1 in steps of 0.05;
* every ordered decoration of one conventional cell (4 4a + 4 4d sites: f = k/4), one per class under F-43m's
  operations (symmetry-equivalent decorations have the same energies);
* the lowest-Ewald-energy ordered approximants of argyrodb.screening.approximants (template with the 4a/4d split
  f): one 1x1x1 for f = 1/4, 1/2, 3/4 and two 2x2x2 (32 + 32 anion sites) for f = 1/8 ... 7/8;
* published: de Klerk, Roslon & Wagemaker 2016 (doi:10.1021/acs.chemmater.6b03630) intercage jump activation
  energies from AIMD at 450 K, SI Table S2 (db/li_barriers_published.csv), and the packaged Li6PS5Cl (f = 0.562).

All at a = 9.84988 A (Rao & Adams 2011) with the packaged file's coordinates. Writes out/bvse_disorder.png and
out/bvse_disorder.csv (or --out DIR). ~4 min (the 2x2x2 cells: ~12 s each, ~0.3 GB).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import yaml

warnings.filterwarnings("ignore")
A = 9.84988


def site_average(groups, f: float):
    from argyrodb.physics import bvse

    out = []
    for g in groups:
        species = dict(g.species)
        if set(species) & {"Cl"}:
            on_4a = np.allclose(np.mod(g.frac, 1.0).min(axis=0), 0.0) and any(np.allclose(p, 0) for p in np.mod(g.frac, 1.0))
            species = {"Cl": 1 - f, "S": f} if on_4a else {"Cl": f, "S": 1 - f}
        out.append(bvse.SiteGroup(g.frac, {el: o for el, o in species.items() if o > 0}))
    return bvse.bvse(out, np.eye(3) * A)


def site_permutations(sites: np.ndarray) -> list[tuple[int, ...]]:
    """How each of F-43m's 96 operations permutes the 4 sites of one Wyckoff position."""
    from argyrodb.core.symmetry import operations

    rotations, translations, _ = operations()
    perms = set()
    for r, t in zip(rotations, translations):
        image = np.mod(sites @ r.T + t, 1.0)
        perm = []
        for p in image:
            d = np.abs(((sites - p) + 0.5) % 1.0 - 0.5).sum(axis=1)
            perm.append(int(np.argmin(d)))
        perms.add(tuple(perm))
    return sorted(perms)


def ordered_decorations(groups):
    """(f, class size, result) of every class of ordered decorations of one cell."""
    from argyrodb.core.symmetry import orbit
    from argyrodb.physics import bvse

    a_sites, d_sites = orbit((0, 0, 0)), orbit((0.75, 0.75, 0.75))
    perm_a, perm_d = site_permutations(a_sites), site_permutations(d_sites)
    assert len(perm_a) == len(perm_d)
    framework = [g for g in groups if not (set(g.species) & {"Cl", "Li"})]
    out = []
    for k in range(5):
        classes: dict[tuple, int] = {}
        for d_sel in itertools.combinations(range(4), k):
            for a_sel in itertools.combinations(range(4), k):
                # the same operation acts on both positions: pair the permutations by operation order
                key = min((tuple(sorted(pa[i] for i in a_sel)), tuple(sorted(pd[i] for i in d_sel)))
                          for pa, pd in zip(perm_a, perm_d))
                classes[key] = classes.get(key, 0) + 1
        for (a_sel, d_sel), size in classes.items():
            sites = list(framework)
            for i in range(4):
                sites.append(bvse.SiteGroup(a_sites[i:i + 1], {"S": 1.0} if i in a_sel else {"Cl": 1.0}))
                sites.append(bvse.SiteGroup(d_sites[i:i + 1], {"Cl": 1.0} if i in d_sel else {"S": 1.0}))
            out.append((k / 4, size, bvse.bvse(sites, np.eye(3) * A, disorder="ordered")))
            print(f"  ordered f = {k / 4:.2f} (class of {size}): E_3D {out[-1][2].e_3d_eV:.3f} eV", flush=True)
    return out


def ewald_approximants(template_path: Path, folder: Path, supercell: int, fractions, n_structures: int):
    """(f, Ewald rank, result) of the ``n_structures`` lowest-Ewald ordered approximants (n x n x n) with Cl on 4d
    fraction f, for each f of ``fractions``."""
    from argyrodb.physics import bvse
    from argyrodb.screening.approximants import generate
    from argyrodb.screening.screener import Screener, ScreenSettings

    base = yaml.safe_load(template_path.read_text(encoding="utf-8"))
    out = []
    for f in fractions:
        data = dict(base)
        sites = []
        for row in base["sites"]:
            row = list(row)
            if row[2] in ("4a", "4d") and row[1] in ("S", "Cl"):
                on_d = row[2] == "4d"
                row[6] = (f if on_d else 1 - f) if row[1] == "Cl" else (1 - f if on_d else f)
            sites.append(row)
        data["sites"] = sites
        data["name"] = f"Li6PS5Cl-f{f:g}"
        path = folder / f"template_{f:g}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        screener = Screener(ScreenSettings("Li6PS5Cl", formulas=["Li6PS5Cl"], template=str(path)))
        for approximant in generate(screener, 0, n_structures=n_structures, candidates=40, supercell=supercell, seed=0):
            structure = approximant.structure.copy()
            structure.scale_lattice((A * supercell) ** 3)  # the lattice model's a -> the common a
            out.append((f, approximant.rank, bvse.bvse_ordered(structure)))
            print(f"  {supercell}x{supercell}x{supercell} approximant #{approximant.rank} f = {f:.3f}: "
                  f"E_3D {out[-1][2].e_3d_eV:.3f} eV", flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out"))
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from argyrodb.api import analyse
    from argyrodb.core.resources import structure_file
    from argyrodb.physics import bvse

    template = structure_file("Li6PS5Cl")
    packaged = analyse(template)
    groups = [g for g in bvse.structure_groups(packaged)]
    print("site average:", flush=True)
    fs = np.round(np.arange(0, 1.0001, 0.05), 4)
    mean_field = [site_average(groups, f) for f in fs]
    print("  " + ", ".join(f"{f:.2f}: {r.e_3d_eV:.3f}" for f, r in zip(fs, mean_field)))
    print("ordered decorations of one cell:", flush=True)
    ordered = ordered_decorations(groups)
    with tempfile.TemporaryDirectory() as tmp:
        print("Ewald-ranked approximants:", flush=True)
        ewald = ewald_approximants(template, Path(tmp), 1, (0.25, 0.5, 0.75), 1)
        ewald2 = ewald_approximants(template, Path(tmp), 2, (0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875), 2)
    here = bvse.bvse_of_structure(packaged)
    f_here = next(float(g.species["Cl"]) for g in groups if "Cl" in g.species and np.allclose(g.frac[0] % 1, [0.75] * 3))
    published = [b for b in bvse.published_barriers("Li6PS5Cl") if b.temperature_K == 450 and b.halide_on_4d is not None]

    args.out.mkdir(parents=True, exist_ok=True)
    rows = ([("site average", f, r.e_1d_eV, r.e_2d_eV, r.e_3d_eV, "") for f, r in zip(fs, mean_field)]
            + [("ordered 1x1x1 decoration", f, r.e_1d_eV, r.e_2d_eV, r.e_3d_eV, f"class of {size}") for f, size, r in ordered]
            + [("lowest-Ewald approximant 1x1x1", f, r.e_1d_eV, r.e_2d_eV, r.e_3d_eV, "") for f, _, r in ewald]
            + [("Ewald-ranked approximant 2x2x2", f, r.e_1d_eV, r.e_2d_eV, r.e_3d_eV, f"rank {rank}") for f, rank, r in ewald2]
            + [("packaged Li6PS5Cl (site average)", f_here, here.e_1d_eV, here.e_2d_eV, here.e_3d_eV, "")]
            + [("published AIMD 450 K intercage", b.halide_on_4d, None, None, b.value_eV, f"{b.bound} {b.doi}".strip())
               for b in published])
    with open(args.out / "bvse_disorder.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["kind", "cl_on_4d", "e_1d_eV", "e_2d_eV", "e_3d_eV", "note"])
        writer.writerows(rows)

    fig, ax = plt.subplots(figsize=(7.6, 5.4), dpi=150)
    ax.plot(fs, [r.e_3d_eV for r in mean_field], "-", color="C0", lw=2, label="BVSE, site average (stored, screened)")
    xs = [f for f, _, _ in ordered]
    ax.scatter(xs, [r.e_3d_eV for _, _, r in ordered], s=[10 + 2 * size for _, size, _ in ordered], color="0.45", zorder=3,
               label="BVSE, every ordered decoration of one cell (area: how many)")
    ax.plot([f for f, _, _ in ewald], [r.e_3d_eV for _, _, r in ewald], "s", mfc="none", mec="C3", mew=1.6, ms=12, zorder=4,
            label="BVSE, lowest-Ewald 1x1x1 approximant (screening.approximants)")
    ax.plot([f for f, _, _ in ewald2], [r.e_3d_eV for _, _, r in ewald2], "D", color="C1", ms=5, zorder=4,
            label="BVSE, two lowest-Ewald 2x2x2 approximants")
    ax.plot([f_here], [here.e_3d_eV], "*", color="C0", ms=14, mec="k", label=f"packaged Li6PS5Cl (Cl on 4d {f_here:.3f})")
    points = [(b.halide_on_4d, b.value_eV) for b in published if b.bound != ">"]
    ax.plot(*zip(*sorted(points)), "o--", color="C2", label="AIMD intercage Ea, 450 K (de Klerk et al. 2016)")
    for b in published:
        if b.bound == ">":
            ax.annotate("", xy=(b.halide_on_4d, b.value_eV + 0.06), xytext=(b.halide_on_4d, b.value_eV),
                        arrowprops={"arrowstyle": "->", "color": "C2"})
            ax.plot([b.halide_on_4d], [b.value_eV], "_", color="C2", ms=14, mew=2)
            ax.text(b.halide_on_4d + 0.02, b.value_eV, "no intercage jump in 100 ps (> bound)", color="C2", fontsize=7, va="center")
    ax.set_xlabel("fraction of Cl on 4d (cage centre); S on the rest of 4a + 4d")
    ax.set_ylabel("E$_{3D}$ / Ea  (eV)")
    ax.set_title("Li6PS5Cl: BVSE 3D percolation energy against 4a/4d anion disorder", fontsize=10)
    ax.set_xlim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    fig.tight_layout()
    fig.savefig(args.out / "bvse_disorder.png")
    print(f"wrote {args.out / 'bvse_disorder.png'} and {args.out / 'bvse_disorder.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
