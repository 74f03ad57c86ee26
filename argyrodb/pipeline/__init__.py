"""The pipeline: read -> analyse -> density, CIF, powder pattern -> store, by concern.

:mod:`.build` builds the database and takes user imports in and out; :mod:`.refine` refines measured powder
patterns and stores them. Rendering (text reports, the CLI's JSON) lives in :mod:`argyrodb.cli`.
"""
