"""The pipeline: read -> analyse -> density, CIF, powder pattern -> store, by concern.

:mod:`.build` builds the database and takes user imports in and out; :mod:`.refine` refines measured powder
patterns and stores them; :mod:`.series` refines a series of them in order, each from the previous fit.
Rendering (text reports, the CLI's JSON) lives in :mod:`argyrodb.cli`.
"""
