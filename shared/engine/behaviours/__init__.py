"""Mapping behaviours: per-table rules BC runs in code (publish and price a product, leave the write-in item out,
name parts, state rules, drop an uncoupled customer's statistics), declared by name on a mapping and run by the
engine at its hook points."""
