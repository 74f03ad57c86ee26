"""Database benchmark: bulk-insert rate and query latency on a synthetic table of 100,000 measurements
(built with the real schema in a temporary file), measured in one run."""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

N_ROWS = 100_000


def main() -> int:
    import sqlite_utils

    from argyrodb.store.literature import formula_facts
    from argyrodb.store.migrations import SCHEMA_VERSION, migrate
    from argyrodb.store.queries import MeasurementFilter, query_measurements

    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite"
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA cache_size = -65536")  # 64 MB page cache, as the database build uses
        migrate(conn, path, create=True)
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
        db = sqlite_utils.Database(conn)
        source_id = db["sources"].insert({"key": "bench", "provenance": "synthetic"}).last_pk
        materials = []
        for i in range(500):
            x = round(rng.uniform(0, 1.4), 2)
            y = round(rng.uniform(1.0, 1.6), 2)
            formula = {"Li": round(7 - y, 2), "P": 1.0, "S": round(6 - y, 2), "Cl": round(y - x * y / 1.4, 3), "I": round(x * y / 1.4, 3)}
            facts = formula_facts({k: v for k, v in formula.items() if v > 0})
            existing = conn.execute("SELECT id FROM materials WHERE formula = ?", (facts["formula"],)).fetchone()
            materials.append(existing[0] if existing else db["materials"].insert(facts).last_pk)
        rows = [{
            "material_id": rng.choice(materials), "source_id": source_id, "dataset": "obelix", "dataset_row": i,
            "material_printed": "synthetic", "processes": json.dumps(rng.sample(["MM", "HT", "SS"], rng.randint(1, 2))),
            "sigma_mS_cm": 10 ** rng.uniform(-3, 1.2), "sigma_kind": "total", "ccd_mA_cm2": rng.choice([None, round(rng.uniform(0.2, 3), 2)]),
            "anode": rng.choice(["Li", "Li-In", "In"]), "role": rng.choice(["SE", "Interlayer"]), "primary_phase": rng.choice(["Li6PS5Cl", "Li6PS5I"]),
        } for i in range(N_ROWS)]
        start = time.perf_counter()
        with conn:
            db["measurements"].insert_all(rows, batch_size=5000)
        insert_s = time.perf_counter() - start
        # the peer: the same rows through plain sqlite3 executemany into an identical second table
        columns = list(rows[0])
        create = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'measurements'").fetchone()[0]
        conn.execute(create.replace("CREATE TABLE measurements", "CREATE TABLE measurements_peer", 1))
        for index_sql in conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'measurements' AND sql IS NOT NULL").fetchall():
            conn.execute(index_sql[0].replace("ON measurements", "ON measurements_peer").replace("CREATE INDEX idx_", "CREATE INDEX peer_"))
        start = time.perf_counter()
        with conn:
            conn.executemany(f"INSERT INTO measurements_peer ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                             [tuple(r[c] for c in columns) for r in rows])
        peer_s = time.perf_counter() - start
        print(f"bulk insert: {N_ROWS} measurements in {insert_s:.2f} s = {N_ROWS / insert_s:,.0f} rows/s (sqlite-utils insert_all, "
              f"schema with CHECKs and 7 indexes); plain sqlite3 executemany into the same indexes: {N_ROWS / peer_s:,.0f} rows/s "
              f"(ratio {insert_s / peer_s:.1f}x)")
        db["materials"].enable_fts(["formula", "chemical_system"], tokenize="trigram", create_triggers=False)
        db["sources"].enable_fts(["authors", "title", "journal", "doi"], create_triggers=False)
        conn.execute("ANALYZE")
        conn.commit()
        conn.close()

        queries = {
            "sigma range + anode": MeasurementFilter(sigma_min=1.0, sigma_max=5.0, anode="Li"),
            "contains I, I/(Cl+I) 0.3-0.5": MeasurementFilter(contains=["I"], i_fraction_min=0.3, i_fraction_max=0.5),
            "process HT, CCD >= 1.5": MeasurementFilter(process="HT", ccd_min=1.5),
            "full text 'Cl0.5'": MeasurementFilter(text="Cl0.5"),
        }
        for name, filters in queries.items():
            times, n = [], 0
            for _ in range(5):
                t = time.perf_counter()
                frame = query_measurements(filters, sort="-sigma_mS_cm", limit=100, db_path=path)
                times.append(time.perf_counter() - t)
                n = len(frame)
            print(f"query {name:<32} {1e3 * statistics.median(times):7.1f} ms (top 100 by sigma, {n} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
