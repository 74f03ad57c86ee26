"""The README's figure docs/neutron-vs-xray-Li6PS5Cl.png: Li6PS5Cl as X-rays and as constant-wavelength neutrons see
it, both at lambda = 1.594 A so that every line sits at the same 2theta and only the scattering differs (X-rays:
f(s) falling with angle, Li nearly invisible, S and Cl one electron apart; neutrons: b_c constant, Li -1.90 fm,
S 2.847 and Cl 9.577 fm). Run from the repository: python examples/neutron_vs_xray.py [OUT.png]"""

from __future__ import annotations

import sys

from argyrodb import api, services

out = sys.argv[1] if len(sys.argv) > 1 else "docs/neutron-vs-xray-Li6PS5Cl.png"
structure = api.analyse("structures/Li6PS5Cl.yaml")
common = {"wavelength": 1.594, "two_theta_range": (10.0, 110.0), "size_nm": 200.0}
neutron = structure.pattern(api.PatternConditions(radiation="neutron", **common))
xray = structure.pattern(api.PatternConditions(**common))
neutron.name = "Li6PS5Cl, neutrons (b: Li −1.90, S 2.85, Cl 9.58 fm)"
xray.name = "Li6PS5Cl, X-rays"
services.plot_patterns([neutron, xray], out, title="Li6PS5Cl: neutrons (bottom) and X-rays (top) at λ = 1.594 Å")
print(f"wrote {out}")
