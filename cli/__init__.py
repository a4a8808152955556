"""The ``imgops`` command line (installed as ``imgops.cli``)."""
