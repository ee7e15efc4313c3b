"""Scheduled sweeps (cert-sweep, compliance-sweep): checks over a region of an account, each returning
findings (shared/sweeps/findings.py). One file per check in shared/sweeps/checks/."""
