-- 0006: powder refinements (argyrodb refine --db): fit statistics, settings, the refined structure
-- One row per refinement: the data file's name and SHA-256, mode and settings, R_p/R_wp/R_exp/GoF, every
-- parameter with its esd (JSON), per-phase results (JSON), the refined structure's refinement YAML (kept so
-- that `db build` can store the structure again) and the structures row it produced (dataset 'user').

CREATE TABLE refinements (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    data_file TEXT NOT NULL,
    data_sha256 TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('rietveld', 'pawley')),
    wavelength TEXT NOT NULL,
    two_theta_min_deg REAL NOT NULL,
    two_theta_max_deg REAL NOT NULL,
    n_points INTEGER NOT NULL CHECK (n_points > 0),
    n_parameters INTEGER NOT NULL CHECK (n_parameters > 0),
    r_p REAL NOT NULL CHECK (r_p >= 0),
    r_wp REAL NOT NULL CHECK (r_wp >= 0),
    r_exp REAL NOT NULL CHECK (r_exp >= 0),
    gof REAL NOT NULL CHECK (gof >= 0),
    a_angstrom REAL CHECK (a_angstrom IS NULL OR a_angstrom > 0),
    a_esd_angstrom REAL,
    zero_shift_deg REAL,
    parameters_json TEXT NOT NULL,
    phases_json TEXT NOT NULL,
    settings_json TEXT NOT NULL,
    warnings_json TEXT NOT NULL,
    refined_yaml TEXT,
    structure_id INTEGER REFERENCES structures(id),
    created_at TEXT NOT NULL,
    argyrodb_version TEXT NOT NULL
);
CREATE INDEX idx_refinements_structure ON refinements(structure_id);
