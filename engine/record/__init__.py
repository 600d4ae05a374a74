"""Writing to the record: completions, extensions, assignments, decisions — each appended with who, when, why."""
