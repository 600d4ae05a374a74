"""The paperwork: the contexts of notices, agendas, reports and bulletins, and writing them to files."""
