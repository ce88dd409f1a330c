"""The ``fraudml`` command line: thin commands that read config and call the library."""
