"""Screening layer: composition families, the site-distribution model, the screener, stored runs and
ordered approximants."""
