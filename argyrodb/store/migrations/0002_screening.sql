-- 0002: composition screening runs
-- screen_runs, screen_results, screen_peaks; milling.gforce_computed.

ALTER TABLE milling ADD COLUMN gforce_computed REAL;  -- (2 pi rpm/60)^2 R / 9.8 with the printed 0.089 m read as the radius R
CREATE TABLE screen_runs (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,             -- hash of the settings: the same request resumes the same run
    family TEXT NOT NULL,
    settings_json TEXT NOT NULL,
    model_json TEXT NOT NULL,             -- site model, lattice model and XRD conventions
    argyrodb_version TEXT NOT NULL,
    n_points INTEGER NOT NULL CHECK (n_points >= 0)
);

CREATE TABLE screen_results (
    run_id INTEGER NOT NULL REFERENCES screen_runs(id),
    idx INTEGER NOT NULL CHECK (idx >= 0),
    variables_json TEXT NOT NULL,
    formula TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'skipped')),
    reason TEXT,
    a_angstrom REAL CHECK (a_angstrom IS NULL OR a_angstrom > 0),
    a_sigma_angstrom REAL CHECK (a_sigma_angstrom IS NULL OR a_sigma_angstrom >= 0),
    volume_angstrom3 REAL CHECK (volume_angstrom3 IS NULL OR volume_angstrom3 > 0),
    density_g_cm3 REAL CHECK (density_g_cm3 IS NULL OR density_g_cm3 > 0),
    charge_per_fu REAL,
    n_lines INTEGER,
    strongest_hkl TEXT,
    strongest_two_theta_deg REAL,
    nearest_formula TEXT,
    nearest_distance REAL,
    nearest_sigma_mS_cm REAL,
    PRIMARY KEY (run_id, idx)
);
CREATE INDEX idx_screen_results_formula ON screen_results(formula);

CREATE TABLE screen_peaks (
    run_id INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    position INTEGER NOT NULL,
    hkl TEXT NOT NULL,
    component TEXT NOT NULL,
    two_theta_deg REAL NOT NULL,
    d_angstrom REAL NOT NULL CHECK (d_angstrom > 0),
    multiplicity INTEGER NOT NULL CHECK (multiplicity > 0),
    intensity_rel REAL NOT NULL CHECK (intensity_rel >= 0 AND intensity_rel <= 100),
    PRIMARY KEY (run_id, idx, position),
    FOREIGN KEY (run_id, idx) REFERENCES screen_results(run_id, idx)
);
