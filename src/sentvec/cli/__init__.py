"""The ``sentvec`` command line."""
