"""Building a local cloud for the CLI: the account (a file, or the built-in demo account), the
s.yaml that wires the functions, and the clock."""
from __future__ import annotations

from pathlib import Path

from localcloud.account import Account
from localcloud.cloud import LocalCloud
from localcloud.clock import Clock

PACKAGE_DIR = Path(__file__).resolve().parent
DEMO_ACCOUNT = PACKAGE_DIR / "data" / "demo-account.yaml"


def default_project() -> Path:
    """s.yaml in the current directory, else the one beside this package (the project's own)."""
    here = Path.cwd() / "s.yaml"
    return here if here.is_file() else PACKAGE_DIR.parent / "s.yaml"


def load_account(path: str | Path | None) -> Account:
    return Account.load(path or DEMO_ACCOUNT)


def build_cloud(account: str | Path | None = None, *, project: str | Path | None = None, now: str | None = None,
                duplicate_delivery: bool = False) -> LocalCloud:
    account = load_account(account)
    return LocalCloud(account, project=project or default_project(), clock=Clock(now or account.as_of),
                      duplicate_delivery=duplicate_delivery)
