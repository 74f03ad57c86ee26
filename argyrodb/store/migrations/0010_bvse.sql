-- 0010: BVSE Li percolation energies of every stored structure (structure_bvse) and of screened compositions
-- (screen_results.bvse_e_*_eV, filled by `argyrodb screen --bvse`, NULL otherwise). The energies are the bond-valence
-- site energy thresholds at which the Li+ low-energy region percolates in 1, 2 and 3 dimensions
-- (argyrodb.physics.bvse: softBV parameters, Chen, Wong & Adams 2019, doi:10.1107/S2052520619003871), in eV above
-- the site-energy minimum; NULL for a dimension that does not percolate below encut_eV (parameters_json). A structure
-- the model cannot take (an element without parameters, an over-filled site) has status 'refused' and the reason.

CREATE TABLE structure_bvse (
    id INTEGER PRIMARY KEY,
    structure_id INTEGER NOT NULL UNIQUE REFERENCES structures(id),  -- UNIQUE: one row each, and the key's index
    status TEXT NOT NULL CHECK (status IN ('ok', 'refused')),
    reason TEXT,                          -- why a refused structure has no energies
    e_1d_eV REAL CHECK (e_1d_eV IS NULL OR e_1d_eV >= 0),
    e_2d_eV REAL CHECK (e_2d_eV IS NULL OR e_2d_eV >= 0),
    e_3d_eV REAL CHECK (e_3d_eV IS NULL OR e_3d_eV >= 0),
    method TEXT NOT NULL,                 -- model and parameter source
    disorder TEXT NOT NULL,               -- 'site-average': shared sites contribute by occupancy
    parameters_json TEXT NOT NULL,        -- grid, resolution_angstrom, r_cut_angstrom, encut_eV, lattice ...
    argyrodb_version TEXT NOT NULL
);

ALTER TABLE screen_results ADD COLUMN bvse_e_1d_eV REAL;
ALTER TABLE screen_results ADD COLUMN bvse_e_2d_eV REAL;
ALTER TABLE screen_results ADD COLUMN bvse_e_3d_eV REAL;
