"""What the local cloud is made of, found in the modules of localcloud/products rather than listed: the
account-file section of each product (`AccountSection` subclasses) and each emulated POP product, RPC
(`RpcProduct`) and ROA (`RoaProduct`). Adding a product is adding its modules there; nothing else names it.

OSS and SLS are not in these lists: they speak their own REST protocols and the gateway hands their
requests to them by what each request carries (localcloud/gateway.py).
"""
from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from types import ModuleType
from typing import TypeVar

from localcloud.records import AccountSection

T = TypeVar("T", bound=type)


@lru_cache(maxsize=None)
def product_modules() -> tuple[ModuleType, ...]:
    """Every module of localcloud/products, imported, in the order of their names."""
    import localcloud.products as package

    names = sorted(info.name for info in pkgutil.iter_modules(package.__path__))
    return tuple(importlib.import_module(f"{package.__name__}.{name}") for name in names)


def _defined(base: T, named_by: str) -> list[T]:
    """The subclasses of `base` the product modules define with `named_by` set (a base class leaves it empty)."""
    found = []
    for module in product_modules():
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, base) and value.__module__ == module.__name__
                    and getattr(value, named_by, "")):
                found.append(value)
    return found


@lru_cache(maxsize=None)
def account_sections() -> dict[str, type[AccountSection]]:
    """Section name -> the product's section class ("ecs" -> EcsSection)."""
    sections: dict[str, type[AccountSection]] = {}
    for cls in _defined(AccountSection, "section"):
        if cls.section in sections:
            raise TypeError(f"two account-file sections are named {cls.section!r}: {sections[cls.section].__qualname__} "
                            f"and {cls.__qualname__}")
        sections[cls.section] = cls
    return sections


def rpc_products() -> list[type]:
    """The emulated POP RPC products (KMS, ECS, ...), told apart by their API version (x-acs-version)."""
    from localcloud.products.base import RpcProduct

    return _distinct_versions(_defined(RpcProduct, "code"))


def roa_products() -> list[type]:
    """The emulated POP ROA products (CS/ACK, ...), told apart by their API version as RPC products are."""
    from localcloud.roa import RoaProduct

    return _distinct_versions(_defined(RoaProduct, "code"))


def _distinct_versions(products: list[type]) -> list[type]:
    # The gateway picks a product by the version a request names: two products of one kind with the same
    # version would leave one of them unreachable.
    seen: dict[str, type] = {}
    for cls in products:
        if cls.version in seen:
            raise TypeError(f"{seen[cls.version].__qualname__} and {cls.__qualname__} both answer API version {cls.version}")
        seen[cls.version] = cls
    return products
