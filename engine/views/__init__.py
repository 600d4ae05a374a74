"""Read models: what the command line prints and the web view shows (strikes, persons, the board, the record)."""
