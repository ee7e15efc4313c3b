"""SLB and ALB certificates: considered in every audit, and found unable to depend on a customer KMS key.

The facts (dependency-apis.md §6), re-checked: no request or response model of alibabacloud-slb20140515
3.3.31 (280 model files), alibabacloud-alb20200616 1.3.3 (255) or alibabacloud-cas20200407 3.9.4 (261)
has a field naming a KMS key: none contains "kms" at all (nor do the clients), and the only
"Encrypt*" fields, CAS EncryptCert/EncryptPrivateKey, are the SM2 encryption certificate pair of a
dual-certificate (ShangMi) order, not a key reference. SLB server certificates are uploaded PEM or CAS
certificates; ALB listeners reference CAS certificates by id. No public doc describes encrypting them
under a customer key. So there is nothing to ask: the scanner makes no call, reports no dependent, and
its note tells the operator why. Certificate expiry is cert-sweep's concern, not a key dependency.
"""
from __future__ import annotations

from shared.audit.model import Dependent
from shared.audit.scanner import AuditTarget
from shared.clients import Clients


class LbCertificatesScanner:
    name = "lb_certificates"
    service = "SLB/ALB"
    note = ("SLB/ALB certificates cannot depend on a customer KMS key: no field of the SLB 2014-05-15, ALB 2020-06-16 or "
            "CAS 2020-04-07 APIs names one (every model of alibabacloud-slb20140515 3.3.31, alibabacloud-alb20200616 1.3.3 and "
            "alibabacloud-cas20200407 3.9.4 checked); no API call made")

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        return []
