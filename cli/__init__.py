"""The ``playbook`` command line: a thin click layer over :mod:`engine`."""
