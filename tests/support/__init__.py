"""What the tests share, one module per concern; a test module imports from here, never from another test
module (conftest.py holds the fixtures).

- accounts: the test account's ids and credentials, the base account and builders of whole accounts
- resources: one builder per product record, as the account file spells it (a disk, an ACK cluster, ...)
- clients: the official SDK clients pointed at a local cloud, and how they are refused
- guard: driving key-guard as a person would, and reading what it decided (records, alerts)
- scanners: audit targets, unpaced clients, the docs' sample responses, the usage-evidence scan
"""
