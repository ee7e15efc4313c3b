"""Secret rotation: Secrets Manager generic secrets rotated without losing a working credential.

protocol.py       the steps, the stages (ACSPending) and the event payload
driver.py         rotate(secret_name): every step in order, resuming a half-done rotation
steps.py          the four steps, each idempotent
strategies.py     single-user and alternating-users (the _rt user), and which plan a secret gets
rotators/         one file per target: generic_token, postgresql (pg8000), mysql (PyMySQL, MySQL and MariaDB)
credentials.py    the secret values understood (database credential JSON, tokens)
secret_store.py   the Secrets Manager calls (official SDK, through Clients.call)
schedule.py       the kms-steward:rotation-interval tag and what is due
service.py        one FC invocation: on demand, one step, the timer's sweep, the failure destination
errors.py         failures and the redaction every message passes through
config.py         the function's environment
"""
