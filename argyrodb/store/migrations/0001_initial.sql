-- 0001: literature, measurements, structures, XRD peaks, Tables S1/S4
-- sources, materials, measurements, structures, structure_sites, structure_problems, xrd_patterns, xrd_peaks,
-- milling, conditions, eis_fits; views table_s3, measurements_full. Units live in column names; CHECK
-- constraints hold what physics demands. Column descriptions and units for Datasette: store/datasette.yaml.

CREATE TABLE schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL
);

-- Every reference: the source itself ("this-work"), its reference list ("si-ref-N"), external rows.
CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    ref_number INTEGER UNIQUE,            -- number in the source SI's reference list
    authors TEXT,
    title TEXT,
    journal TEXT,
    year INTEGER CHECK (year IS NULL OR year BETWEEN 1800 AND 2100),
    volume TEXT,
    pages TEXT,
    doi TEXT,
    licence TEXT,
    attribution TEXT,
    provenance TEXT NOT NULL
);

-- One row per normalised formula; derived columns computed by argyrodb.literature.formula_facts.
CREATE TABLE materials (
    id INTEGER PRIMARY KEY,
    formula TEXT NOT NULL UNIQUE,
    elements TEXT NOT NULL,               -- ',Cl,I,Li,P,S,' (delimited for exact matching)
    chemical_system TEXT NOT NULL,        -- 'Cl-I-Li-P-S'
    n_elements INTEGER NOT NULL CHECK (n_elements > 0),
    amounts_json TEXT NOT NULL,           -- element -> amount per formula unit
    li REAL, p REAL, s REAL, o REAL, se REAL, f REAL, cl REAL, br REAL, i REAL, si REAL, ge REAL, sn REAL, sb REAL,
    halide_total REAL NOT NULL CHECK (halide_total >= 0),          -- F + Cl + Br + I per formula unit
    i_fraction REAL CHECK (i_fraction IS NULL OR (i_fraction >= 0 AND i_fraction <= 1)),  -- I/(Cl+Br+I)
    element_fractions_key TEXT NOT NULL,  -- rounded element fractions: duplicate detection
    charge_per_fu REAL NOT NULL,          -- formal charge, Li+ P5+ S2- halide- ...
    charge_neutral INTEGER NOT NULL CHECK (charge_neutral IN (0, 1)),
    unknown_oxidation_states TEXT
);

-- One material, many measurements: each with its route, conditions, cell and reference.
CREATE TABLE measurements (
    id INTEGER PRIMARY KEY,
    material_id INTEGER NOT NULL REFERENCES materials(id),
    source_id INTEGER NOT NULL REFERENCES sources(id),
    dataset TEXT NOT NULL CHECK (dataset IN ('table_s3', 'obelix')),
    dataset_row INTEGER NOT NULL,         -- row in Table S3, or line of the imported file
    dataset_id TEXT,                      -- e.g. the OBELiX ID
    material_printed TEXT NOT NULL,
    correction_note TEXT,
    primary_phase TEXT,
    primary_phase_printed TEXT,
    family TEXT,
    process TEXT,                         -- as printed, e.g. 'MM + HT'
    processes TEXT NOT NULL DEFAULT '[]', -- JSON list: MM (mechanical milling), HT (heat treatment), SS (solid state)
    sigma_mS_cm REAL CHECK (sigma_mS_cm IS NULL OR sigma_mS_cm > 0),
    sigma_censored TEXT,                  -- the printed value when censored ('<1E-10'); sigma_mS_cm is then NULL
    sigma_kind TEXT NOT NULL CHECK (sigma_kind IN ('total', 'bulk', 'unspecified')),
    temperature_note TEXT,
    ccd_mA_cm2 REAL CHECK (ccd_mA_cm2 IS NULL OR ccd_mA_cm2 > 0),
    anode TEXT,
    role TEXT,
    own_work INTEGER NOT NULL DEFAULT 0 CHECK (own_work IN (0, 1)),
    doi TEXT,
    duplicate_of INTEGER REFERENCES measurements(id),
    note TEXT,
    licence TEXT,
    attribution TEXT,
    UNIQUE (dataset, dataset_row)
);
CREATE INDEX idx_measurements_material ON measurements(material_id);
CREATE INDEX idx_measurements_sigma ON measurements(sigma_mS_cm);
CREATE INDEX idx_measurements_ccd ON measurements(ccd_mA_cm2);
CREATE INDEX idx_measurements_phase ON measurements(primary_phase);
CREATE INDEX idx_measurements_anode ON measurements(anode);
CREATE INDEX idx_measurements_role ON measurements(role);
CREATE INDEX idx_materials_i_fraction ON materials(i_fraction);
CREATE INDEX idx_materials_system ON materials(chemical_system);

-- Refined and reference structures from structures/, with computed properties.
CREATE TABLE structures (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    source_file TEXT NOT NULL,
    material_id INTEGER REFERENCES materials(id),   -- the nominal formula
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
    argyrodb_version TEXT NOT NULL
);

-- One row per refined site and species: "Cl on 4c/4d >= 0.4" is plain SQL.
CREATE TABLE structure_sites (
    structure_id INTEGER NOT NULL REFERENCES structures(id),
    label TEXT NOT NULL,
    element TEXT NOT NULL,
    wyckoff_printed TEXT,
    wyckoff TEXT NOT NULL,                -- from the coordinates, ITA setting
    multiplicity INTEGER NOT NULL CHECK (multiplicity > 0),
    x REAL NOT NULL, y REAL NOT NULL, z REAL NOT NULL,
    occupancy REAL NOT NULL CHECK (occupancy >= 0 AND occupancy <= 1),
    site_occupancy_sum REAL NOT NULL CHECK (site_occupancy_sum >= 0),
    b_iso_angstrom2 REAL CHECK (b_iso_angstrom2 IS NULL OR b_iso_angstrom2 >= 0),
    source_row INTEGER,
    PRIMARY KEY (structure_id, label)
);
CREATE INDEX idx_sites_element_wyckoff ON structure_sites(element, wyckoff);

CREATE TABLE structure_problems (
    structure_id INTEGER NOT NULL REFERENCES structures(id),
    position INTEGER NOT NULL,
    site TEXT,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('error', 'warning', 'info')),
    message TEXT NOT NULL,
    PRIMARY KEY (structure_id, position)
);

CREATE TABLE xrd_patterns (
    id INTEGER PRIMARY KEY,
    structure_id INTEGER NOT NULL REFERENCES structures(id),
    wavelength TEXT NOT NULL,
    two_theta_min_deg REAL NOT NULL,
    two_theta_max_deg REAL NOT NULL,
    a_angstrom REAL NOT NULL CHECK (a_angstrom > 0),
    conventions_json TEXT NOT NULL
);

CREATE TABLE xrd_peaks (
    pattern_id INTEGER NOT NULL REFERENCES xrd_patterns(id),
    position INTEGER NOT NULL,
    h INTEGER NOT NULL, k INTEGER NOT NULL, l INTEGER NOT NULL,
    hkl TEXT NOT NULL,                    -- coincident families, e.g. '511 333'
    component TEXT NOT NULL,
    wavelength_angstrom REAL NOT NULL CHECK (wavelength_angstrom > 0),
    two_theta_deg REAL NOT NULL,
    d_angstrom REAL NOT NULL CHECK (d_angstrom > 0),
    multiplicity INTEGER NOT NULL CHECK (multiplicity > 0),
    f_squared REAL NOT NULL CHECK (f_squared >= 0),
    intensity REAL NOT NULL CHECK (intensity >= 0),
    intensity_rel REAL NOT NULL CHECK (intensity_rel >= 0 AND intensity_rel <= 100),
    PRIMARY KEY (pattern_id, position)
);

-- Table S1 as printed (the printed column says "effective diameter"; the text calls 0.089 m a radius).
CREATE TABLE milling (
    row INTEGER PRIMARY KEY,
    rpm REAL NOT NULL CHECK (rpm > 0),
    effective_diameter_printed_m REAL NOT NULL CHECK (effective_diameter_printed_m > 0),
    gforce_printed REAL NOT NULL CHECK (gforce_printed > 0),
    notes TEXT
);

CREATE TABLE conditions (
    id INTEGER PRIMARY KEY,
    procedure TEXT NOT NULL,
    quantity TEXT NOT NULL,
    value REAL NOT NULL,
    unit TEXT,
    applies_to TEXT,
    source_text TEXT NOT NULL
);

-- Table S4: one row per sample, cycle and circuit element (Fig. S9 circuit).
CREATE TABLE eis_fits (
    sample TEXT NOT NULL,
    cycle INTEGER NOT NULL CHECK (cycle >= 1),
    element TEXT NOT NULL CHECK (element IN ('bulk', 'I-1', 'I-2', 'I-3')),
    r_label_printed TEXT NOT NULL,
    r_ohm REAL NOT NULL CHECK (r_ohm > 0),
    cpe_t_F_s_alpha_minus_1 REAL CHECK (cpe_t_F_s_alpha_minus_1 IS NULL OR cpe_t_F_s_alpha_minus_1 > 0),
    cpe_p REAL CHECK (cpe_p IS NULL OR (cpe_p > 0 AND cpe_p <= 1)),
    c_F REAL CHECK (c_F IS NULL OR c_F > 0),
    source_column INTEGER NOT NULL,
    PRIMARY KEY (sample, cycle, element)
);

CREATE VIEW measurements_full AS
SELECT
    m.id AS measurement_id, m.dataset, m.dataset_row, m.dataset_id, m.material_printed, mat.formula,
    m.correction_note, m.primary_phase, m.primary_phase_printed, m.family, m.process, m.processes,
    m.sigma_mS_cm, m.sigma_censored, m.sigma_kind, m.temperature_note, m.ccd_mA_cm2, m.anode, m.role,
    m.own_work, m.duplicate_of, m.note, m.licence, m.attribution,
    COALESCE(m.doi, s.doi) AS doi, s.key AS source_key, s.ref_number, s.authors, s.journal, s.year,
    mat.id AS material_id, mat.elements, mat.chemical_system, mat.halide_total, mat.i_fraction,
    mat.charge_per_fu, mat.charge_neutral, mat.amounts_json
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
