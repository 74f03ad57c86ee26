"""Mutation fuzzing of argyrodb's readers (refinement YAML, CIF, measured patterns, EIS spectra,
formulas and family expressions).

Starting from the project's real files, each input is mutated (bytes flipped, lines dropped, duplicated
or swapped, numbers replaced by extreme or non-numeric values, text truncated, tokens spliced from other
files) and handed to the reader. A reader may accept the input or raise argyrodb's ``InputError`` /
``ValidationFailed``; any other exception is a crash and is reported with the input that caused it.

    python fuzz/fuzz_readers.py [--seconds 60] [--seed 0] [--save-crashes DIR]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTREME_NUMBERS = ["nan", "inf", "-inf", "1e308", "-1e308", "1e-320", "0", "-0", "-1", "2", "1.3", "999999999999",
                   "0x10", "1_000", "1e", ".", "-", "?", "", "(3)", "0.5(2)", "1,5", "NaN", "Infinity"]


def mutate(text: str, rng: random.Random, corpus: list[str]) -> str:
    lines = text.splitlines(keepends=True)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(10)
        if choice == 0 and text:
            data = bytearray(text.encode("utf-8", "surrogatepass"))
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            text = data.decode("utf-8", "replace")
            lines = text.splitlines(keepends=True)
        elif choice == 1 and lines:
            del lines[rng.randrange(len(lines))]
        elif choice == 2 and lines:
            i = rng.randrange(len(lines))
            lines.insert(i, lines[i] * rng.randint(1, 3))
        elif choice == 3 and len(lines) > 1:
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif choice == 4:
            joined = "".join(lines)
            numbers = list(re.finditer(r"-?\d+\.?\d*(?:[eE][-+]?\d+)?", joined))
            if numbers:
                m = rng.choice(numbers)
                joined = joined[:m.start()] + rng.choice(EXTREME_NUMBERS) + joined[m.end():]
                lines = joined.splitlines(keepends=True)
        elif choice == 5 and lines:
            joined = "".join(lines)
            joined = joined[: rng.randrange(len(joined) + 1)]
            lines = joined.splitlines(keepends=True)
        elif choice == 6 and corpus:
            donor = rng.choice(corpus).splitlines(keepends=True)
            if donor and lines:
                lines.insert(rng.randrange(len(lines)), rng.choice(donor))
        elif choice == 7 and lines:
            i = rng.randrange(len(lines))
            tokens = lines[i].split(" ")
            if tokens:
                tokens[rng.randrange(len(tokens))] = rng.choice(["Xx", "Li1+", "CL", "", "[", "{", ";", "'", '"', "data_", "loop_", "- [", ": :"])
                lines[i] = " ".join(tokens)
        elif choice == 8 and lines:
            i = rng.randrange(len(lines))
            lines[i] = lines[i].rstrip("\n") * rng.randint(2, 50) + "\n"
        elif choice == 9 and lines:
            depth = rng.choice([10, 300, 5000])
            opener, closer = rng.choice([("[", "]"), ("{", "}"), ("(", ")")])
            lines.insert(rng.randrange(len(lines)), "name: " + opener * depth + closer * depth + "\n")
    return "".join(lines)


def targets():
    from argyrodb.api import analyse as validate
    from argyrodb.core.chemistry import parse_formula
    from argyrodb.core.readers import read_cif_text, read_refinement_text
    from argyrodb.screening.families import parse_family

    def refinement(text):
        validate(read_refinement_text(text, source="fuzz.yaml"), a_angstrom=None)

    def refinement_with_a(text):
        validate(read_refinement_text(text, source="fuzz.yaml"), a_angstrom=10.0)

    def cif(text):
        validate(read_cif_text(text, source="fuzz.cif"))

    def formula(text):
        parse_formula(text, source="fuzz")

    def family(text):
        fam = parse_family(text)
        fam.composition({v: 0.3 for v in "xyzw"})

    def measured(text):
        import tempfile

        from argyrodb.physics.pattern_fit import read_xy

        with tempfile.NamedTemporaryFile("w", suffix=".xy", delete=False, encoding="utf-8", errors="replace") as fh:
            fh.write(text)
        try:
            read_xy(fh.name)
        finally:
            Path(fh.name).unlink()

    structures = [p.read_text() for p in sorted((ROOT / "structures").glob("*.yaml"))]
    cifs = [p.read_text() for p in sorted((ROOT / "cifs").glob("*.cif"))]
    formulas = ["Li5.6PS4.6Cl0.8I0.6", "Li6PS5Cl", "Li7P2S8Br0.5I0.5", "Li6.24P0.823Sn0.177S4.58I0.9"]
    families = ["Li5.6PS4.6Cl1.4-xIx", "Li7-yPS6-yCl(y*(1-z))I(y*z)"]
    xy = ["# 2theta I\n" + "\n".join(f"{10 + 0.02 * i:.2f} {100 + (i % 17) * 3}" for i in range(200))]
    return [("refinement", refinement, structures), ("refinement+a", refinement_with_a, structures), ("cif", cif, cifs),
            ("formula", formula, formulas), ("family", family, families), ("measured", measured, xy)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-crashes", type=Path)
    args = parser.parse_args()

    import warnings

    from argyrodb.core.errors import ArgyrodbError

    warnings.filterwarnings("ignore")
    rng = random.Random(args.seed)
    all_targets = targets()
    corpus = [text for _, _, texts in all_targets for text in texts]
    tried = {name: 0 for name, _, _ in all_targets}
    rejected = {name: 0 for name, _, _ in all_targets}
    crashes: dict[tuple[str, str], tuple[str, str]] = {}
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        name, function, seeds = rng.choice(all_targets)
        text = mutate(rng.choice(seeds), rng, corpus)
        tried[name] += 1
        try:
            function(text)
        except ArgyrodbError:
            rejected[name] += 1
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            key = (name, f"{type(exc).__name__} at {Path(where.filename).name}:{where.lineno}")
            crashes.setdefault(key, (text, "".join(traceback.format_exception_only(type(exc), exc)).strip()))
    total = sum(tried.values())
    print(f"fuzzed {total} inputs in {args.seconds:g} s (seed {args.seed}):")
    for name in tried:
        print(f"  {name:<14} {tried[name]:>7} inputs, {rejected[name]:>7} rejected with a clean error")
    print(f"unhandled crashes: {len(crashes)} distinct")
    for (name, where), (text, message) in crashes.items():
        print(f"  [{name}] {where}: {message[:200]}")
        if args.save_crashes:
            args.save_crashes.mkdir(parents=True, exist_ok=True)
            (args.save_crashes / f"{name}-{abs(hash(where)) % 10**8}.txt").write_text(text, encoding="utf-8", errors="replace")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
