"""SLS's part of the account file (section `sls`): logstores, with the encryption GetLogStore answers
(`encrypt_conf`, lower_snake as the API spells it), and the logs written to them (GetLogs' shape).

The REST front end that serves them is localcloud/products/sls.py.
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from pydantic import ConfigDict, Field

from localcloud.records import AccountSection, StrictRecord


class SlsUserCmkInfo(StrictRecord):
    """A logstore's own KMS key (BYOK), as GetLogStore's encrypt_conf.user_cmk_info carries it."""

    cmk_key_id: str
    arn: str  # the RAM role SLS assumes to use the key
    region_id: str


class SlsEncryptConf(StrictRecord):
    """GetLogStore's encrypt_conf (JSON keys lower_snake); no user_cmk_info = the SLS service key.

    The EncryptConf doc lists the algorithms default and sm4; its newer Chinese edition (and
    UpdateLogStoreEncryption) adds m4 and the sm4_*/aes_* modes."""

    enable: bool
    encrypt_type: Literal["default", "sm4", "m4", "sm4_ecb", "sm4_cbc", "sm4_gcm", "aes_ecb", "aes_cbc", "aes_cfb", "aes_ofb",
                          "aes_gcm"] = "default"
    user_cmk_info: Optional[SlsUserCmkInfo] = None


class SlsLogstore(StrictRecord):
    """GetLogStore fields that matter here, plus the project that holds it."""

    projectName: str
    logstoreName: str
    ttl: int = 30
    shardCount: int = 2
    RegionId: Optional[str] = None
    encrypt_conf: Optional[SlsEncryptConf] = None
    # Whether the logstore has an index (CreateIndex). SLS searches only indexed logs: "You must create indexes
    # before you can query and analyze logs" ("Create indexes", https://www.alibabacloud.com/help/en/sls/user-guide/create-indexes).
    indexed: bool = True


class SlsLog(StrictRecord):
    """One log as GetLogs returns it: the reserved __time__/__topic__/__source__ plus the contents."""

    projectName: str
    logstoreName: str
    time: int = Field(alias="__time__")
    topic: str = Field("", alias="__topic__")
    source: str = Field("", alias="__source__")
    contents: dict[str, str] = Field(default_factory=dict)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


class SlsSection(AccountSection):
    section: ClassVar[str] = "sls"
    unique_ids: ClassVar[dict[str, tuple[str, ...]]] = {"logstores": ("projectName", "logstoreName")}
    id_fields: ClassVar[tuple[str, ...]] = ("logstoreName",)

    logstores: list[SlsLogstore] = Field(default_factory=list)
    logs: list[SlsLog] = Field(default_factory=list)
