"""KMS cryptographic APIs: (stub, being built)."""
from __future__ import annotations


class KmsCrypto:
    """Encrypt, Decrypt, GenerateDataKey, ... (mixed into localcloud.products.kms.Kms)."""
