"""Host tools for the taVNS bench stimulator firmware."""
