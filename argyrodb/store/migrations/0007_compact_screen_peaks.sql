-- 0007: compact screening peaks: screen_lines per run, intensities per composition, screen_peaks a view
-- Every composition of a screening run has the same powder lines (the F-43m hkl families at the run's
-- wavelengths); only a and the intensities differ. So a run's lines are stored once (screen_lines) and each
-- composition keeps one text of relative intensities (screen_results.intensities_rel: 7 characters a line,
-- "%7.3f", line at position k in characters 7k+1..7k+7; blanks or past the end: the line is outside the 2theta
-- range; fixed width, because SQL reads a line with substr, where a JSON array cost 25x the index search to
-- parse). screen_peaks is now a
-- view with the old table's columns: 2theta = 2 asin(lambda sqrt(h^2+k^2+l^2) / 2a), d = a / sqrt(h^2+k^2+l^2)
-- (SQLite's math functions; argyrodb registers them where a build lacks them). A 2theta window is a range of
-- a for each line, which idx_screen_results_run_a answers: argyrodb.store.screening_runs.peaks_in_window and
-- the Datasette query screening_peaks_in_window use that form. Peaks stored by earlier versions are moved over.
-- For runs queried by 2theta a lot, `argyrodb db index-peaks` builds screen_peak_index (one index row per line,
-- the 2theta order itself: windows in a few ms, for ~40 bytes a line); screen_runs.peaks_indexed marks the runs it
-- holds, and later chunks of such a run are indexed as they are written.

CREATE TABLE screen_lines (
    run_id INTEGER NOT NULL REFERENCES screen_runs(id),
    position INTEGER NOT NULL CHECK (position >= 0),   -- line k: characters 7k+1..7k+7 of screen_results.intensities_rel
    hkl TEXT NOT NULL,
    hkl_sq INTEGER NOT NULL CHECK (hkl_sq > 0),        -- h^2 + k^2 + l^2 (a cubic line)
    multiplicity INTEGER NOT NULL CHECK (multiplicity > 0),
    component TEXT NOT NULL,                           -- X-ray line, e.g. CuKa1
    wavelength_angstrom REAL NOT NULL CHECK (wavelength_angstrom > 0),
    PRIMARY KEY (run_id, position),
    UNIQUE (run_id, hkl_sq, component)
);
ALTER TABLE screen_results ADD COLUMN intensities_rel TEXT;  -- relative intensities 0-100, 7 characters a line
ALTER TABLE screen_runs ADD COLUMN peaks_indexed INTEGER NOT NULL DEFAULT 0 CHECK (peaks_indexed IN (0, 1));

CREATE TABLE screen_peak_index (
    two_theta_deg REAL NOT NULL,
    intensity_rel REAL NOT NULL,
    run_id INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (two_theta_deg, intensity_rel, run_id, idx, position)
) WITHOUT ROWID;

INSERT INTO screen_lines (run_id, position, hkl, hkl_sq, multiplicity, component, wavelength_angstrom)
SELECT run_id, ROW_NUMBER() OVER (PARTITION BY run_id ORDER BY wavelength * sqrt(hkl_sq), component) - 1,
       hkl, hkl_sq, multiplicity, component, wavelength
FROM (SELECT p.run_id, p.hkl, p.component, MAX(p.multiplicity) AS multiplicity,
             CAST(round(AVG((r.a_angstrom / p.d_angstrom) * (r.a_angstrom / p.d_angstrom))) AS INTEGER) AS hkl_sq,
             AVG(2 * p.d_angstrom * sin(radians(p.two_theta_deg) / 2)) AS wavelength
      FROM screen_peaks p JOIN screen_results r ON r.run_id = p.run_id AND r.idx = p.idx
      GROUP BY p.run_id, p.hkl, p.component);

UPDATE screen_results SET intensities_rel = (
    SELECT group_concat(CASE WHEN v IS NULL THEN '       ' ELSE printf('%7.3f', v) END, '') FROM (
        SELECT (SELECT p.intensity_rel FROM screen_peaks p
                WHERE p.run_id = screen_results.run_id AND p.idx = screen_results.idx
                  AND p.hkl = l.hkl AND p.component = l.component) AS v
        FROM screen_lines l WHERE l.run_id = screen_results.run_id ORDER BY l.position))
WHERE EXISTS (SELECT 1 FROM screen_peaks p WHERE p.run_id = screen_results.run_id AND p.idx = screen_results.idx);

DROP INDEX idx_screen_peaks_window;
DROP INDEX idx_screen_peaks_run_window;
DROP TABLE screen_peaks;

CREATE VIEW screen_peaks AS
SELECT r.run_id, r.idx, l.position, l.hkl, l.component,
       degrees(2 * asin(l.wavelength_angstrom * sqrt(l.hkl_sq) / (2 * r.a_angstrom))) AS two_theta_deg,
       r.a_angstrom / sqrt(l.hkl_sq) AS d_angstrom, l.multiplicity,
       CAST(substr(r.intensities_rel, 7 * l.position + 1, 7) AS REAL) AS intensity_rel
FROM screen_results r
JOIN screen_lines l ON l.run_id = r.run_id
WHERE r.intensities_rel IS NOT NULL AND 7 * l.position < length(r.intensities_rel)
  AND substr(r.intensities_rel, 7 * l.position + 1, 7) != '       ';
