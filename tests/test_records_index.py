"""The local cloud's record lookup (localcloud.records.find): indexed for speed, never stale in its answers."""
from __future__ import annotations

from types import SimpleNamespace as R

from localcloud.records import find


def test_find_answers_from_the_current_list_whatever_happened_to_it():
    records = [R(RegionId="cn-hangzhou", Name=f"s{i}") for i in range(100)]
    assert find(records, RegionId="cn-hangzhou", Name="s42") is records[42]
    assert find(records, RegionId="cn-shanghai", Name="s42") is None  # every field must match

    records.append(R(RegionId="cn-shanghai", Name="s42"))  # grown: the index is rebuilt
    assert find(records, RegionId="cn-shanghai", Name="s42") is records[-1]

    records[0] = R(RegionId="cn-hangzhou", Name="renamed")  # same length, new record: a miss is confirmed by a scan
    assert find(records, RegionId="cn-hangzhou", Name="renamed") is records[0]

    records[1].Name = "changed-in-place"  # a hit is re-checked against the record itself
    assert find(records, RegionId="cn-hangzhou", Name="s1") is None

    assert find([R(Name="a"), R(Name="a")], Name="a").Name == "a"  # the first of duplicates, as a scan would
