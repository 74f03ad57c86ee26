-- 0008: an index on every foreign key
-- SQLite checks a foreign key from the child side: deleting a parent row (or changing its key) looks up the child
-- rows that point at it, and without an index on the child column that is a scan of the whole child table per
-- deleted row. measurements.duplicate_of -> measurements(id) had none, so `argyrodb db remove` of a 3,000-row
-- import scanned measurements 3,000 times (150 s; with this index 0.03 s). These are the foreign keys of schema 7
-- that lacked an index whose leading column is the key (tests/store/test_foreign_key_indexes.py keeps it so).

CREATE INDEX IF NOT EXISTS idx_measurements_duplicate_of ON measurements(duplicate_of);
CREATE INDEX IF NOT EXISTS idx_measurements_source ON measurements(source_id);
CREATE INDEX IF NOT EXISTS idx_measurements_structure ON measurements(structure_id);
CREATE INDEX IF NOT EXISTS idx_structures_material ON structures(material_id);
CREATE INDEX IF NOT EXISTS idx_structures_user_import ON structures(user_import_id);
CREATE INDEX IF NOT EXISTS idx_xrd_patterns_structure ON xrd_patterns(structure_id);
