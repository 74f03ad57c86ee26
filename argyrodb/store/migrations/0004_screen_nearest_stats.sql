-- 0004: screening results keep the lattice model's extrapolation note and the nearest literature material's spread
-- nearest_sigma_mS_cm is the median over the nearest material's measurements (it was one picked row); its
-- number of measurements and range sit beside it.

ALTER TABLE screen_results ADD COLUMN a_note TEXT;              -- "extrapolated: ..." when outside the calibrated range
ALTER TABLE screen_results ADD COLUMN nearest_n INTEGER;       -- measurements of the nearest literature material
ALTER TABLE screen_results ADD COLUMN nearest_sigma_min_mS_cm REAL;
ALTER TABLE screen_results ADD COLUMN nearest_sigma_max_mS_cm REAL;
