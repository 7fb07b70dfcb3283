"""What happens to a cluster, decided without I/O: plain data in (the live cluster, the policy, a key lookup, the
state DAS Guard recorded), a Decision out. Nothing here calls AWS, reads the clock or writes state; it imports only
`das_guard.model` and the policy's vocabulary (tests/unit/test_layers.py holds it to that).

    decide.py      the numbered steps: NotApplicable, running streams, exemptions, violations, readiness, start
    checks.py      the DAS support matrix (engine, version, class, mode, region, key) and AWS's own answer
    stops.py       a stop's verdict (Tampered, break-glass, lost streams) and break-glass holds
    protection.py  how firmly the policy guards a stream, and whether an edit made it softer
    records.py     whether a started stream's records are kept (retention, readers, archive)
    windows.py     RDS maintenance windows
"""
