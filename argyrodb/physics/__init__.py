"""Physics layer: lattice-parameter model, densities, X-ray scattering and powder patterns, pattern
fitting, laboratory calculators, impedance fitting. Depends only on :mod:`argyrodb.core`."""
