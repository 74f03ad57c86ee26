-- 0003: literature structures (OBELiX CIFs) linked to their measurements
-- structures gain the dataset they come from, the dataset's ID, a caveat, licence and attribution;
-- refused_structures records the files of a dataset that are not argyrodites, with the reason;
-- measurement_structures goes from a measurement to its structure (and from there to its XRD peaks).

ALTER TABLE structures ADD COLUMN dataset TEXT NOT NULL DEFAULT 'argyrodb' CHECK (dataset IN ('argyrodb', 'obelix'));
ALTER TABLE structures ADD COLUMN dataset_id TEXT;          -- e.g. the OBELiX ID (the CIF's file name)
ALTER TABLE structures ADD COLUMN caveat TEXT;              -- what a user must know about the coordinates
ALTER TABLE structures ADD COLUMN licence TEXT;
ALTER TABLE structures ADD COLUMN attribution TEXT;
CREATE INDEX idx_structures_dataset ON structures(dataset, dataset_id);

CREATE TABLE refused_structures (
    id INTEGER PRIMARY KEY,
    dataset TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    source_file TEXT NOT NULL,
    reason TEXT NOT NULL,                 -- one line: why argyrodb did not take it (e.g. not an argyrodite)
    licence TEXT,
    attribution TEXT,
    UNIQUE (dataset, dataset_id)
);

CREATE VIEW measurement_structures AS
SELECT
    m.id AS measurement_id, m.dataset, m.dataset_id, m.material_printed, m.sigma_mS_cm, m.sigma_censored,
    s.id AS structure_id, s.name AS structure_name, s.refined_formula, s.a_angstrom, s.density_g_cm3, s.z,
    s.n_errors, s.n_warnings, s.caveat, p.id AS xrd_pattern_id
FROM measurements m
JOIN structures s ON s.dataset = m.dataset AND s.dataset_id = m.dataset_id
LEFT JOIN xrd_patterns p ON p.structure_id = s.id;
