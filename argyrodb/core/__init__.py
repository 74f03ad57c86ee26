"""Core layer: chemistry, symmetry of F-43m, refinements and their readers, the analysed structure,
the CIF writer. Depends on nothing else in argyrodb."""
