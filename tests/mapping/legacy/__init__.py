"""The planner as it was before mappings became data: the reference the new one is checked against."""
