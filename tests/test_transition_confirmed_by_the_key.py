"""Only the key says what a write did (shared/keys.py, _transition): a cancel answered OK while the key stays
pending deletion is not done; a cancel whose re-read fails is not confirmed, whatever its answer said; a
cancel that was refused before it ran and cannot be re-read is handed back for FC to retry. These are the
answers a person reads in the record's actionResult, so they are asserted word for word.

The re-read fails by a fault that lets the first DescribeKey through (the look before the write) and meets
the second (the look after it), as a permission revoked or a backend failing between two calls would.
Against the local cloud with the official KMS SDK."""
from __future__ import annotations

import re
import threading
import time

import pytest
from alibabacloud_kms20160120 import models as kms

from localcloud import errors
from localcloud.products.base import api
from localcloud.products.kms import Kms
from shared.clients import Clients, TransientError
from shared.keys import WRITE_ATTEMPTS, cancel_deletion
from tests.support.accounts import KEY, REGION, make_account
from tests.support.clients import alice_kms
from tests.support.scanners import clients

DENIED = ("Forbidden.NoPermission: code: 403, This operation is forbidden by permission system. request id: ")
RE_READ_DENIED = {"Api": "kms:DescribeKey", "Kind": "denied", "After": 1}


@pytest.fixture(autouse=True)
def _no_wait_between_retries(monkeypatch):
    # Which calls are retried is the subject; the seconds spent waiting between them are not.
    monkeypatch.setattr(Clients, "_sleep", lambda self, seconds: None)


def pending_cloud(start_cloud, *faults):
    return start_cloud(make_account(key_state="PendingDeletion", faults=list(faults)))


def masked(text: str) -> str:
    """The text with each `request id: <uuid>` cut to `request id: `."""
    return re.sub(r"request id: [0-9A-Fa-f-]+", "request id: ", text)


def key_state(cloud) -> str:
    return next(k.KeyState for k in cloud.account.kms.keys if k.KeyId == KEY)


def test_a_cancel_answered_ok_while_the_key_stays_pending_is_not_done(start_cloud):
    # A front end answers 200 for a cancel the service never ran: every round re-reads the key, sees it still
    # pending deletion, and writes again; after the last round the cancel is failed, not done.
    cloud = pending_cloud(start_cloud, {"Api": "kms:CancelKeyDeletion", "Body": {"RequestId": "answered-for-nothing"}})

    result = cancel_deletion(clients(cloud), KEY, REGION)

    assert (result.outcome, result.done, result.state_after) == ("failed", False, "PendingDeletion")
    assert result.detail == "kms:CancelKeyDeletion answered OK but the key is still PendingDeletion"
    assert cloud.calls.get("kms:CancelKeyDeletion") == WRITE_ATTEMPTS
    assert cloud.calls.get("kms:DescribeKey") == 1 + WRITE_ATTEMPTS
    assert key_state(cloud) == "PendingDeletion"


def test_a_cancel_answered_ok_once_then_done_by_the_next_round_is_done(start_cloud):
    cloud = pending_cloud(start_cloud, {"Api": "kms:CancelKeyDeletion", "Body": {"RequestId": "answered-for-nothing"},
                                        "Remaining": 1})

    result = cancel_deletion(clients(cloud), KEY, REGION)

    assert (result.outcome, result.state_after, result.detail) == ("done", "Enabled", "PendingDeletion -> Enabled")
    assert cloud.calls.get("kms:CancelKeyDeletion") == 2


def test_a_cancel_answered_ok_whose_key_cannot_be_re_read_is_failed_as_unconfirmed(start_cloud):
    cloud = pending_cloud(start_cloud, RE_READ_DENIED)

    result = cancel_deletion(clients(cloud), KEY, REGION)

    assert (result.outcome, result.done, result.state_after) == ("failed", False, None)
    assert masked(result.detail) == ("kms:CancelKeyDeletion sent but not confirmed: answered OK; re-reading the key failed "
                                     f"({DENIED}): its state is unconfirmed")
    assert cloud.calls.get("kms:CancelKeyDeletion") == 1  # not written again: it may well have run
    assert key_state(cloud) == "Enabled"  # it did: only the key could have said so


def test_a_cancel_whose_answer_was_lost_and_whose_key_cannot_be_re_read_names_both_failures(start_cloud):
    cloud = pending_cloud(start_cloud, RE_READ_DENIED,
                          {"Api": "kms:CancelKeyDeletion", "Kind": "server_error", "AnswerLost": True, "Remaining": 1})

    result = cancel_deletion(clients(cloud), KEY, REGION)

    assert (result.outcome, result.done, result.state_after) == ("failed", False, None)
    assert masked(result.detail) == (
        "kms:CancelKeyDeletion sent but not confirmed: InternalError: code: 500, The request processing has failed due to "
        "some unknown error, exception or failure. request id: ; re-reading the key failed "
        f"({DENIED}): its state is unconfirmed")
    assert cloud.calls.get("kms:CancelKeyDeletion") == 1


def test_a_cancel_refused_before_it_ran_whose_key_cannot_be_re_read_is_handed_back_for_a_retry(start_cloud):
    # Throttled through every retry: the cancel cannot have run, so FC's retry of the invocation is safe.
    cloud = pending_cloud(start_cloud, RE_READ_DENIED, {"Api": "kms:CancelKeyDeletion", "Kind": "throttled"})

    with pytest.raises(TransientError) as raised:
        cancel_deletion(clients(cloud), KEY, REGION)

    assert masked(str(raised.value)) == ("kms:CancelKeyDeletion refused (Rejected.Throttling: code: 429, QPS Limit Exceeded "
                                         "request id: ) and the key could not be re-read")
    assert key_state(cloud) == "PendingDeletion"


def test_a_key_gone_when_re_read_after_the_cancel_is_not_done_and_names_key_and_region(start_cloud):
    cloud = pending_cloud(start_cloud, {"Api": "kms:DescribeKey", "Code": "Forbidden.KeyNotFound", "Status": 404, "After": 1},
                          {"Api": "kms:CancelKeyDeletion", "Kind": "server_error", "Remaining": 1})

    result = cancel_deletion(clients(cloud), KEY, REGION)

    assert (result.outcome, result.done, result.state_after) == ("already", False, None)
    assert result.detail == f"not done: key {KEY} not found in {REGION}"


# ---------------------------------------------------------------- someone else's hand on the key meanwhile


def test_a_cancel_refused_while_the_key_was_cancelled_anyway_is_not_taken_for_the_guards(start_cloud):
    # The cancel is refused for good (denied), yet the key shows Enabled: another hand cancelled it.
    cloud = pending_cloud(start_cloud, {"Api": "kms:CancelKeyDeletion", "Kind": "denied", "AnswerLost": True})

    result = cancel_deletion(clients(cloud), KEY, REGION)

    assert (result.outcome, result.done, result.state_after) == ("already", False, "Enabled")
    assert masked(result.detail) == f"not done: the key became Enabled meanwhile ({DENIED})"


def test_a_cancel_throttled_through_every_retry_while_the_key_was_cancelled_anyway_is_not_the_guards(start_cloud):
    # The first attempt's answer is a 429 although the cancel ran (another hand's, as far as anyone can tell);
    # every retry is throttled before it runs. Throttled means never run: the cancel is not the guard's.
    cloud = pending_cloud(start_cloud, {"Api": "kms:CancelKeyDeletion", "Kind": "throttled", "AnswerLost": True, "Remaining": 1},
                          {"Api": "kms:CancelKeyDeletion", "Kind": "throttled", "After": 1})

    result = cancel_deletion(clients(cloud), KEY, REGION)

    assert (result.outcome, result.done, result.state_after) == ("already", False, "Enabled")
    assert masked(result.detail) == ("not done: the key became Enabled meanwhile (Rejected.Throttling: code: 429, "
                                     "QPS Limit Exceeded request id: )")


def disable_once_the_cancel_is_under_way(cloud) -> threading.Thread:
    """While the guard's CancelKeyDeletion is held up (a fault's latency), a person cancels the deletion
    and disables the key: the re-read then finds a state that is neither the one required nor the target."""
    def person():
        deadline = time.monotonic() + 10
        while not cloud.calls.get("kms:CancelKeyDeletion") and time.monotonic() < deadline:
            time.sleep(0.005)
        alice_kms(cloud).cancel_key_deletion(kms.CancelKeyDeletionRequest(key_id=KEY))
        alice_kms(cloud).disable_key(kms.DisableKeyRequest(key_id=KEY))

    thread = threading.Thread(target=person)
    thread.start()
    return thread


@pytest.mark.parametrize("answer, why", [
    ({"Body": {"RequestId": "answered-for-nothing"}}, ""),
    ({"Kind": "server_error"}, " (InternalError: code: 500, The request processing has failed due to some unknown error, "
                               "exception or failure. request id: )"),
])
def test_a_key_another_hand_moved_meanwhile_is_not_done_and_says_its_state(start_cloud, answer, why):
    cloud = pending_cloud(start_cloud, {"Api": "kms:CancelKeyDeletion", "LatencyMs": 1000, "Remaining": 1, **answer})
    person = disable_once_the_cancel_is_under_way(cloud)

    result = cancel_deletion(clients(cloud), KEY, REGION)
    person.join()

    assert (result.action, result.outcome, result.done, result.state_after) == ("cancel_deletion", "already", False, "Disabled")
    assert masked(result.detail) == f"not done: the key became Disabled meanwhile{why}"


# ---------------------------------------------------------------- the guard's own write, landing late


def the_first_cancel_lands_after_the_next_read(monkeypatch, answer: str) -> None:
    """The first CancelKeyDeletion is taken by KMS's backend but applied late: the re-read after it still shows the
    key pending deletion, and the cancel lands just after that read was served. Its answer is `answer`: "lost" (a
    500 from the front end) or "ok". Patched into the emulated KMS before the cloud starts."""
    cancel, describe = Kms.cancel_key_deletion, Kms.describe_key
    queued: dict[str, bool] = {}

    def cancel_applied_late(self, call):
        if queued.get("seen"):
            return cancel(self, call)
        queued["seen"] = queued["apply"] = True
        if answer == "lost":
            raise errors.ApiError("InternalError", "The request processing has failed due to some unknown error.", 500)
        return {"RequestId": call.request_id}

    def describe_then_land(self, call):
        shown = describe(self, call)
        if queued.pop("apply", False):
            key = next(k for k in self.account.kms.keys if k.KeyId == KEY)
            key.KeyState, key.DeleteDate = "Enabled", None
        return shown

    monkeypatch.setattr(Kms, "cancel_key_deletion", api("CancelKeyDeletion", write=True)(cancel_applied_late))
    monkeypatch.setattr(Kms, "describe_key", api("DescribeKey")(describe_then_land))


@pytest.mark.parametrize("answer, how", [
    ("lost", "lost its answer (InternalError: code: 500, The request processing has failed due to some unknown error. "
             "request id: )"),
    ("ok", "answered OK"),
])
def test_the_guards_own_cancel_landing_late_is_done_not_someone_elses(start_cloud, monkeypatch, answer, how):
    # Repeating the cancel is refused (the key is no longer pending deletion: the guard's first cancel made it so).
    # Taking that for another hand's cancel would tell no one that the guard blocked a deletion.
    the_first_cancel_lands_after_the_next_read(monkeypatch, answer)
    cloud = pending_cloud(start_cloud)

    result = cancel_deletion(clients(cloud), KEY, REGION)

    assert (result.outcome, result.done, result.state_after) == ("done", True, "Enabled")
    assert masked(result.detail).startswith(
        f"PendingDeletion -> Enabled (an earlier kms:CancelKeyDeletion {how}; the repeat was refused: "
        f"Rejected.StateModifiedFailed: code: 409, "), result.detail
    assert result.detail.endswith("; the key shows the earlier one landing late, or another hand's made meanwhile)")
    assert cloud.calls.get("kms:CancelKeyDeletion") == 2


@pytest.mark.parametrize("repeat, said", [
    ("denied", "; the repeat was refused: Forbidden.NoPermission: code: 403, "),
    ("throttled", f"; the last of {WRITE_ATTEMPTS} attempts: Rejected.Throttling: code: 429, QPS Limit Exceeded"),
])
def test_a_cancel_taken_but_not_shown_whose_repeat_fails_is_unconfirmed_naming_why(start_cloud, monkeypatch, repeat, said):
    # The first cancel is answered OK but the key still shows PendingDeletion; the repeat is refused, or throttled
    # past every retry. The first may yet land: neither done nor failed, but unconfirmed, saying what the repeat met.
    from localcloud import fault_kinds
    from shared.keys import WriteUnconfirmed

    taken = []

    def taken_then_failing(self, call):
        if not taken:
            taken.append(call.request_id)
            return {"RequestId": call.request_id}
        raise fault_kinds.error("kms", repeat, "CancelKeyDeletion")

    monkeypatch.setattr(Kms, "cancel_key_deletion", api("CancelKeyDeletion", write=True)(taken_then_failing))
    cloud = pending_cloud(start_cloud)

    with pytest.raises(WriteUnconfirmed) as caught:
        cancel_deletion(clients(cloud), KEY, REGION)

    assert masked(str(caught.value)).startswith(
        "kms:CancelKeyDeletion not confirmed: an earlier attempt answered OK, and the key still showed PendingDeletion"
        + said), str(caught.value)
    assert key_state(cloud) == "PendingDeletion"
