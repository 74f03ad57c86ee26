-- 0009: dataset registry: a datasets lookup table that measurements.dataset and structures.dataset reference
-- The dataset names were CHECK lists on measurements.dataset and structures.dataset: a new dataset took a rebuild of
-- both tables (0005). Now they reference datasets(name), whose rows are written from the Python registry
-- (argyrodb.store.datasets.DATASETS) by argyrodb.store.migrations.sync_datasets at every build, migration and write
-- connection (an upsert, in the migration's transaction), so a new dataset is a registry entry and no SQL. What the
-- CHECK lists also held - a measurement's dataset holds measurements, a structure's structures (datasets.kind) - is
-- checked by argyrodb's writers and at the end of every build and migration (migrations.dataset_kind_violations), not
-- by triggers: an INSERT trigger on measurements cost 23 us a row through executemany (50,000 user rows 0.46 -> 1.63 s).
-- measurements and structures are rebuilt once (SQLite cannot drop a CHECK in place) with every column, index and
-- row as they were; the views that read them are dropped first and recreated at the end, measurement_structures
-- linking by dataset ID every dataset whose registry entry has a structures folder (OBELiX's, as before).

DROP VIEW IF EXISTS measurements_full;
DROP VIEW IF EXISTS table_s3;
DROP VIEW IF EXISTS measurement_structures;

CREATE TABLE datasets (
    name TEXT PRIMARY KEY,                -- the value of measurements.dataset / structures.dataset
    kind TEXT NOT NULL CHECK (kind IN ('measurements', 'structures', 'both')),  -- the tables its rows go to
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    source TEXT NOT NULL,                 -- what fills it: packaged files, a command
    licence TEXT,
    attribution TEXT,
    reader TEXT,                          -- 'module:function' that db build calls to insert its measurements
    structures_folder TEXT,               -- CIFs named by dataset ID, linked to the measurements with that ID
    user_supplied INTEGER NOT NULL CHECK (user_supplied IN (0, 1))
);

CREATE TABLE structures_new (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    source_file TEXT NOT NULL,
    material_id INTEGER REFERENCES materials(id),
    nominal_formula TEXT NOT NULL,
    refined_formula TEXT NOT NULL,
    refined_amounts_json TEXT NOT NULL,
    refined_i_fraction REAL CHECK (refined_i_fraction IS NULL OR (refined_i_fraction >= 0 AND refined_i_fraction <= 1)),
    z REAL NOT NULL CHECK (z > 0),
    space_group_number INTEGER,
    space_group_symbol TEXT,
    a_angstrom REAL NOT NULL CHECK (a_angstrom > 0),
    a_source TEXT NOT NULL,
    volume_angstrom3 REAL NOT NULL CHECK (volume_angstrom3 > 0),
    density_g_cm3 REAL NOT NULL CHECK (density_g_cm3 > 0),
    nominal_density_g_cm3 REAL CHECK (nominal_density_g_cm3 > 0),
    molar_volume_cm3_mol REAL NOT NULL CHECK (molar_volume_cm3_mol > 0),
    charge_per_fu REAL NOT NULL,
    n_errors INTEGER NOT NULL,
    n_warnings INTEGER NOT NULL,
    provenance_json TEXT NOT NULL,
    doi TEXT,
    cif_text TEXT NOT NULL,
    argyrodb_version TEXT NOT NULL,
    dataset TEXT NOT NULL DEFAULT 'argyrodb' REFERENCES datasets(name),
    dataset_id TEXT,
    caveat TEXT,
    licence TEXT,
    attribution TEXT,
    user_import_id INTEGER REFERENCES user_imports(id)
);
INSERT INTO structures_new (id, name, source_file, material_id, nominal_formula, refined_formula, refined_amounts_json,
    refined_i_fraction, z, space_group_number, space_group_symbol, a_angstrom, a_source, volume_angstrom3, density_g_cm3,
    nominal_density_g_cm3, molar_volume_cm3_mol, charge_per_fu, n_errors, n_warnings, provenance_json, doi, cif_text,
    argyrodb_version, dataset, dataset_id, caveat, licence, attribution, user_import_id)
SELECT id, name, source_file, material_id, nominal_formula, refined_formula, refined_amounts_json,
    refined_i_fraction, z, space_group_number, space_group_symbol, a_angstrom, a_source, volume_angstrom3, density_g_cm3,
    nominal_density_g_cm3, molar_volume_cm3_mol, charge_per_fu, n_errors, n_warnings, provenance_json, doi, cif_text,
    argyrodb_version, dataset, dataset_id, caveat, licence, attribution, user_import_id
FROM structures;
DROP TABLE structures;
ALTER TABLE structures_new RENAME TO structures;
CREATE INDEX idx_structures_dataset ON structures(dataset, dataset_id);
CREATE INDEX idx_structures_material ON structures(material_id);
CREATE INDEX idx_structures_user_import ON structures(user_import_id);

CREATE TABLE measurements_new (
    id INTEGER PRIMARY KEY,
    material_id INTEGER NOT NULL REFERENCES materials(id),
    source_id INTEGER NOT NULL REFERENCES sources(id),
    dataset TEXT NOT NULL REFERENCES datasets(name),
    dataset_row INTEGER NOT NULL,         -- row in Table S3, or line of the imported file
    dataset_id TEXT,                      -- e.g. the OBELiX ID; for user data the file name
    material_printed TEXT NOT NULL,
    correction_note TEXT,
    primary_phase TEXT,
    primary_phase_printed TEXT,
    family TEXT,
    structure_type TEXT CHECK (structure_type IS NULL OR structure_type IN ('argyrodite', 'other')),
    process TEXT,
    processes TEXT NOT NULL DEFAULT '[]',
    sigma_mS_cm REAL CHECK (sigma_mS_cm IS NULL OR sigma_mS_cm > 0),
    sigma_printed TEXT,                   -- value and unit as printed ('2.44 mS/cm', '<1E-10 S/cm')
    sigma_censored TEXT,                  -- the printed value when censored ('<1E-10'); sigma_mS_cm is then NULL
    sigma_bound TEXT CHECK (sigma_bound IS NULL OR sigma_bound IN ('<', '>')),
    sigma_bound_mS_cm REAL CHECK (sigma_bound_mS_cm IS NULL OR sigma_bound_mS_cm > 0),
    sigma_kind TEXT NOT NULL CHECK (sigma_kind IN ('total', 'bulk', 'unspecified')),
    sigma_method TEXT,                    -- e.g. 'EIS, bulk resistance from the high-frequency intercept'
    temperature_K REAL CHECK (temperature_K IS NULL OR (temperature_K > 0 AND temperature_K < 2000)),
    temperature_note TEXT,
    activation_energy_eV REAL CHECK (activation_energy_eV IS NULL OR (activation_energy_eV > 0 AND activation_energy_eV < 5)),
    ccd_mA_cm2 REAL CHECK (ccd_mA_cm2 IS NULL OR ccd_mA_cm2 > 0),
    anode TEXT,
    role TEXT,
    own_work INTEGER NOT NULL DEFAULT 0 CHECK (own_work IN (0, 1)),
    doi TEXT,
    duplicate_of INTEGER REFERENCES measurements(id),
    duplicate_reason TEXT,
    note TEXT,
    licence TEXT,
    attribution TEXT,
    structure_id INTEGER REFERENCES structures(id),
    user_import_id INTEGER REFERENCES user_imports(id),
    UNIQUE (dataset, dataset_id, dataset_row)
);
INSERT INTO measurements_new (id, material_id, source_id, dataset, dataset_row, dataset_id, material_printed,
    correction_note, primary_phase, primary_phase_printed, family, structure_type, process, processes, sigma_mS_cm,
    sigma_printed, sigma_censored, sigma_bound, sigma_bound_mS_cm, sigma_kind, sigma_method, temperature_K,
    temperature_note, activation_energy_eV, ccd_mA_cm2, anode, role, own_work, doi, duplicate_of, duplicate_reason,
    note, licence, attribution, structure_id, user_import_id)
SELECT id, material_id, source_id, dataset, dataset_row, dataset_id, material_printed,
    correction_note, primary_phase, primary_phase_printed, family, structure_type, process, processes, sigma_mS_cm,
    sigma_printed, sigma_censored, sigma_bound, sigma_bound_mS_cm, sigma_kind, sigma_method, temperature_K,
    temperature_note, activation_energy_eV, ccd_mA_cm2, anode, role, own_work, doi, duplicate_of, duplicate_reason,
    note, licence, attribution, structure_id, user_import_id
FROM measurements;
DROP TABLE measurements;
ALTER TABLE measurements_new RENAME TO measurements;
CREATE INDEX idx_measurements_material ON measurements(material_id);
CREATE INDEX idx_measurements_sigma ON measurements(sigma_mS_cm);
CREATE INDEX idx_measurements_ccd ON measurements(ccd_mA_cm2);
CREATE INDEX idx_measurements_phase ON measurements(primary_phase);
CREATE INDEX idx_measurements_anode ON measurements(anode);
CREATE INDEX idx_measurements_role ON measurements(role);
CREATE INDEX idx_measurements_user_import ON measurements(user_import_id);
CREATE INDEX idx_measurements_duplicate_of ON measurements(duplicate_of);
CREATE INDEX idx_measurements_source ON measurements(source_id);
CREATE INDEX idx_measurements_structure ON measurements(structure_id);

CREATE VIEW measurements_full AS
SELECT
    m.id AS measurement_id, m.dataset, m.dataset_row, m.dataset_id, m.material_printed, mat.formula,
    m.correction_note, m.primary_phase, m.primary_phase_printed, m.family, m.structure_type, m.process, m.processes,
    m.sigma_mS_cm, m.sigma_printed, m.sigma_censored, m.sigma_bound, m.sigma_bound_mS_cm, m.sigma_kind, m.sigma_method,
    m.temperature_K, m.temperature_note, m.activation_energy_eV, m.ccd_mA_cm2, m.anode, m.role,
    m.own_work, m.duplicate_of, m.duplicate_reason, m.note, m.licence, m.attribution,
    COALESCE(m.doi, s.doi) AS doi, s.key AS source_key, s.ref_number, s.authors, s.journal, s.year,
    mat.id AS material_id, mat.elements, mat.chemical_system, mat.halide_total, mat.i_fraction,
    mat.charge_per_fu, mat.charge_neutral, mat.amounts_json, m.structure_id, m.user_import_id
FROM measurements m
JOIN materials mat ON mat.id = m.material_id
JOIN sources s ON s.id = m.source_id;

CREATE VIEW table_s3 AS
SELECT
    m.dataset_row AS row,
    m.material_printed AS material,
    m.primary_phase_printed AS primary_phase,
    m.process AS process,
    m.sigma_mS_cm,
    m.ccd_mA_cm2,
    m.anode,
    m.role,
    CASE WHEN m.own_work = 1 THEN 'This work' ELSE CAST(s.ref_number AS TEXT) END AS ref,
    mat.formula AS formula_normalised,
    mat.charge_per_fu,
    mat.charge_neutral,
    m.correction_note
FROM measurements m
JOIN materials mat ON mat.id = m.material_id
JOIN sources s ON s.id = m.source_id
WHERE m.dataset = 'table_s3'
ORDER BY m.dataset_row;

CREATE VIEW measurement_structures AS
SELECT
    m.id AS measurement_id, m.dataset, m.dataset_id, m.material_printed, m.sigma_mS_cm, m.sigma_censored,
    s.id AS structure_id, s.name AS structure_name, s.refined_formula, s.a_angstrom, s.density_g_cm3, s.z,
    s.n_errors, s.n_warnings, s.caveat, p.id AS xrd_pattern_id
FROM measurements m
JOIN structures s ON s.id = m.structure_id
    OR (m.structure_id IS NULL AND s.dataset = m.dataset AND s.dataset_id = m.dataset_id
        AND m.dataset IN (SELECT name FROM datasets WHERE structures_folder IS NOT NULL))
LEFT JOIN xrd_patterns p ON p.structure_id = s.id;
