"""Store layer: the SQLite database (migrations, connections, ingest of what it is given, queries,
exports, Datasette). Depends on :mod:`argyrodb.physics` and :mod:`argyrodb.core`; runs no physics
itself."""
