"""Plain values and errors every layer shares: no I/O, no AWS, no GUI."""
