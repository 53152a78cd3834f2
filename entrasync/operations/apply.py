"""Execute a plan against NeuralTrust: the only mutating orchestration.

Decides from each change's ``action``, ``before``/``after`` and ``target_id`` (never from its
``reason``), writes with a small bounded concurrency, keeps going past a failed change, and
hands every outcome to the audit sink before that worker takes the next change. A credential
or connection failure stops new writes: the rest are recorded as ``skipped`` so the audit
shows exactly what was and was not done, and a fresh plan finishes the job. A signal
(``entrasync.operations.stopping``) or an audit record that cannot be written stops new writes
too. The workers share one ``ScimClient`` and so its adaptive limit
(``entrasync.adapters.throttle.AdaptiveLimit``): a 429 halves how many writes may be in flight,
successes grow it back to ``parallelism``, and only the throttled write waits out its
Retry-After.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Protocol

from entrasync.adapters.http import (
    DEFAULT_PARALLELISM,
    RETRY_STATUSES,
    NotSent,
    TransportError,
)
from entrasync.adapters.scim.answers import (
    FOREIGN_HINT,
    ForeignAnswer,
    ScimAuthError,
    ScimResponse,
    ScimWaitError,
)
from entrasync.adapters.scim.attributes import USER_SPELLING, Layout, SpeltTwice, as_spelt
from entrasync.adapters.scim.client import ScimClient
from entrasync.adapters.scim.target import layout_of, to_target_user
from entrasync.config.models import Config
from entrasync.core import sanitize
from entrasync.core.apply_report import ApplyReport
from entrasync.core.apply_rules import (
    carries_entra_id,
    grants_owner,
    owner_hold,
    satisfies,
    takes_owner,
    written_name,
)
from entrasync.core.audit_record import Outcome
from entrasync.core.model import USER_SCHEMA
from entrasync.core.plan import Action, Change, Plan
from entrasync.errors import AuditError, AuthError, EntrasyncError, ScimError
from entrasync.operations.stopping import Stopped, StopRequest

log = logging.getLogger(__name__)


class AuditSink(Protocol):
    """Where apply records each change's outcome (``adapters.audit.writer.AuditWriter``)."""

    def change(
        self,
        change: Change,
        *,
        outcome: Outcome,
        http_status: int | None,
        request_id: str | None,
        error: str | None,
        detail: str | None,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class ChangeResult:
    change: Change
    outcome: Outcome
    http_status: int | None = None
    request_id: str | None = None
    error: str | None = None
    detail: str | None = None  # e.g. "already in place" on a 409 that converged
    hint: str | None = None  # what to do about a failure (not recorded: the error is)
    stopped: bool = False  # not sent because apply was stopping (not recorded either)


def create_body(change: Change, layout: Layout) -> dict[str, Any]:
    """POST /Users body (RFC 7643 §4.1, shaped as Entra provisions NeuralTrust users)."""
    after = change.after
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "userName": written_name(change),
        "active": after.active,
    }
    if change.entra_id:
        body["externalId"] = change.entra_id
    if change.display_name:
        body["displayName"] = change.display_name
    if change.given_name or change.family_name:
        name = {"givenName": change.given_name, "familyName": change.family_name}
        body["name"] = {k: v for k, v in name.items() if v}
    if change.email:
        body["emails"] = [{"value": change.email, "type": "work", "primary": True}]
    if after.role is not None:
        layout.role.put(body, [after.role], single=True)
    if after.products is not None:
        layout.products.put(body, after.products, single=False)
    return body


def patch_operations(change: Change, layout: Layout) -> list[dict[str, Any]]:
    """The PatchOp ``replace`` operations (RFC 7644 §3.5.2.3) that carry out one change: only
    what the plan shows changing. Rewriting an attribute the plan shows unchanged would drop
    what entrasync does not read (a second role value, a product's ``display``)."""
    after, before = change.after, change.before
    if change.action is Action.DEACTIVATE:
        return [{"op": "replace", "path": "active", "value": False}]
    ops: list[dict[str, Any]] = []
    if change.action is Action.REACTIVATE:
        ops.append({"op": "replace", "path": "active", "value": True})
    if change.writes_role and after.role is not None:
        ops.append(layout.role.replace_op([after.role], single=True))
    if after.products is not None and (before is None or before.products != after.products):
        ops.append(layout.products.replace_op(after.products, single=False))
    if change.entra_id and change.adopts:
        ops.append({"op": "replace", "path": "externalId", "value": change.entra_id})
    return ops


def _execute(
    change: Change, client: ScimClient, layout: Layout, version: str | None
) -> ChangeResult:
    if change.action is Action.CREATE:
        return _create(change, client, layout)
    if not change.target_id:
        return ChangeResult(change, "failed", error="the plan names no SCIM id for this user")
    operations = patch_operations(change, layout)
    response = client.patch_user(change.target_id, operations, change.user, if_match=version)
    return _confirmed(change, response, client, layout)


CHANGED_SINCE_READ = (
    "changed in NeuralTrust since entrasync read it (412 Precondition Failed): not written, "
    "so what was done there by hand stands; run `entrasync plan` to see it"
)


def _changed_since_read(
    change: Change, client: ScimClient, layout: Layout, exc: EntrasyncError
) -> ChangeResult:
    """A write refused because the user's version moved since the read (If-Match). Read back
    in place (by this write's earlier attempt, whose answer was lost, or by hand), it
    succeeded; read back otherwise, nothing was written; not readable, the 412 may follow an
    earlier attempt of this write that was carried out, so nothing is claimed."""
    in_place = _in_place(change, client, layout)
    if in_place:
        when = (
            "after a 412 (changed since the read: by an earlier attempt of this write whose "
            "answer was lost, or by hand)"
        )
        return _found_in_place(change, exc, when)
    after = getattr(exc, "after", None)
    if in_place is not False:
        error = UNREADABLE_AFTER_412
    elif after is not None:  # the version moved by this write's own earlier attempt, maybe
        error = PARTLY_AFTER_412.format(after=after)
    else:
        error = CHANGED_SINCE_READ
    return ChangeResult(change, "failed", 412, getattr(exc, "request_id", None), error=error)


PARTLY_AFTER_412 = (
    "changed in NeuralTrust since entrasync read it (412 Precondition Failed) after an earlier "
    "attempt of this write was answered {after}: that attempt may have been carried out in "
    "part, as the user read back is not as planned; run `entrasync plan` to see it as it is"
)


UNREADABLE_AFTER_412 = (
    "changed in NeuralTrust since entrasync read it (412 Precondition Failed), and could not "
    "be read back: an earlier attempt of this write may have been carried out; run "
    "`entrasync plan` to see the user as it is"
)


def _succeeded(change: Change, response: ScimResponse, detail: str | None = None) -> ChangeResult:
    return ChangeResult(change, "succeeded", response.status, response.request_id, detail=detail)


NOT_SHOWN = "NeuralTrust answered {status}, but the user it sent back does not show the change"
OTHER_USER = "NeuralTrust answered {status} with another user than the one written"
NOT_SHOWN_HINT = (
    "check neuraltrust.role_attribute and products_attribute against the attributes "
    "NeuralTrust keeps (docs/neuraltrust-scim.md): a SCIM server may drop one it does not know"
)


NO_USER = "NeuralTrust answered {status} without the user, which a {status} sends"
NO_CONTENT = "NeuralTrust answered {status} (no content: the write made as sent)"
UNCONFIRMED = "answered 204 (no content); it could not be read back to confirm the change"


def _confirmed(
    change: Change, response: ScimResponse, client: ScimClient, layout: Layout
) -> ChangeResult:
    """A write NeuralTrust answered with success: succeeded when the answer holds a user that
    shows the change. Otherwise the user is read back once: a server may drop an attribute it
    does not know and answer 200, or 204 (no content, RFC 7644 §3.5.2), all the same; an answer
    may leave out what was not asked for; and a 200 or 201 without the user it must send
    (RFC 7644 §3.3, §3.5.2) may come from a gateway that never passed the write on."""
    resource = response.resource
    about = resource is not None and _about(resource, change)
    if resource is not None and about and _shows(resource, change, layout):
        return _succeeded(change, response)
    in_place = _in_place(change, client, layout)
    no_content = resource is None and response.status == 204
    if no_content:
        if in_place:
            return _succeeded(change, response)  # what a 204 says, and nothing else to say
        if in_place is None:  # a success as said: not refuted, only unconfirmed
            return _succeeded(change, response, detail=UNCONFIRMED)
        shown, said = "", NO_CONTENT
    elif resource is None or not _names_a_user(resource):
        shown, said = "held no user", NO_USER
    elif about:
        shown, said = "did not show the change", NOT_SHOWN
    else:
        shown, said = "held another user", OTHER_USER
    if in_place:
        said = f"its answer {shown}; read back just after, it is in place"
        return _succeeded(change, response, detail=said)
    said = said.format(status=response.status)
    if in_place is None:
        error = f"{said}, and it could not be read back: it may not have been made; run "
        error += "`entrasync plan` to see the user as it is"
    else:
        either = "" if no_content else " either"
        error = f"{said}, and read back just after, it is not in place{either}: it took the "
        error += "write without carrying all of it out"
    # Without the user, or with another: a gateway that takes writes and never passes them on.
    hint = NOT_SHOWN_HINT if about or no_content else FOREIGN_HINT
    return ChangeResult(
        change, "failed", response.status, response.request_id, error=error, hint=hint
    )


def _names_a_user(resource: dict[str, Any]) -> bool:
    """The answer names some user (an id or a userName): a ListResponse names none."""
    try:
        spelt = as_spelt(resource, USER_SPELLING)
    except SpeltTwice:
        return True  # a user, spelt twice: not this one (_about)
    return spelt.get("id") is not None or spelt.get("userName") is not None


def _about(resource: dict[str, Any], change: Change) -> bool:
    """The answer is the user written: the one created (by userName, which is not case-exact:
    RFC 7643 §4.1.1), or the one patched (by id)."""
    try:
        spelt = as_spelt(resource, USER_SPELLING)  # attribute names in any case (RFC 7643 §2.1)
    except SpeltTwice:
        return False
    if change.action is Action.CREATE:
        name = spelt.get("userName")
        return isinstance(name, str) and name.lower() == written_name(change).lower()
    found = spelt.get("id")
    return found is not None and str(found) == change.target_id  # read as to_target_user reads it


def _shows(resource: dict[str, Any], change: Change, layout: Layout) -> bool:
    try:
        return satisfies(to_target_user(resource, layout), change)
    except (EntrasyncError, KeyError):  # a user read in no shape entrasync reads: not shown
        return False


def _create(change: Change, client: ScimClient, layout: Layout) -> ChangeResult:
    body = create_body(change, layout)
    try:
        response = client.create_user(body)
    except ScimError as exc:
        if exc.status != 409:
            raise
        # A crashed or cut-off earlier run may have created it: identical means done.
        try:
            found = client.find_user(body["userName"], layout.read_attributes)
        except NotSent:  # stopping: the create was sent all the same, and its 409 stands
            raise exc from None
        except (ScimError, TransportError) as lookup:
            # The 409 stands, with why the lookup could not tell more; a rejected token or a
            # lost connection still stops the later writes, as its own error would.
            message = f"{exc.message}; looking the user up failed too: {lookup.message}"
            if isinstance(lookup, TransportError):
                raise TransportError(message, lookup.hint) from None
            if isinstance(lookup, ScimAuthError) and lookup.status != 403:
                raise ScimAuthError(
                    message, lookup.hint, lookup.status, lookup.request_id
                ) from None
            raise ScimError(message, UNLOOKED_HINT, exc.status, exc.request_id) from None
        user = to_target_user(found, layout) if found is not None else None
        if user is not None and satisfies(user, change):
            detail = (
                "already exists as planned (409 on create; an earlier attempt, of this run or "
                "another, created it): nothing to do"
            )
            return ChangeResult(change, "succeeded", 409, exc.request_id, detail=detail)
        if exc.after is not None:  # the retry of a create answered with a 5xx
            said = f"; an earlier attempt of this create was answered {exc.after}"
            if user is not None and change.entra_id and carries_entra_id(user, change):
                said += (
                    ", and the user holding the name carries this change's Entra id: it may "
                    "be this create's own, made in part (not as planned)"
                )
            raise ScimError(exc.message + said, UNLOOKED_HINT, exc.status, exc.request_id) from None
        raise
    return _confirmed(change, response, client, layout)


# Unread, the user holding the value may be this create's own: an attempt whose answer was
# lost (a 504 sent again meets 409) made it.
UNLOOKED_HINT = (
    "the user holding that value may be one made by hand, by another run, or by an earlier "
    "attempt of this write whose answer was lost: run `entrasync plan` to see which"
)


def _answer_lost(exc: EntrasyncError) -> bool:
    """A write that failed and may have been carried out all the same: no answer came (a
    timeout, a dropped connection), or a server error did (a gateway's 502 or 504 can follow
    a write the server committed; a retry of it may then meet a 503)."""
    status = getattr(exc, "status", None)
    return isinstance(exc, TransportError) or (
        isinstance(exc, ScimError) and isinstance(status, int) and status >= 500
    )


def _read_back(
    change: Change, client: ScimClient, layout: Layout, exc: EntrasyncError
) -> ChangeResult | None:
    """After a write whose answer was lost: succeeded when NeuralTrust, read back, shows the
    change in place; failed saying so when it shows it is not; None when it cannot be read
    (the failure stands, and says the change may have been made)."""
    in_place = _in_place(change, client, layout)
    if in_place is None:
        return None
    if in_place:
        return _found_in_place(change, exc, "after the answer was lost")
    result = _failed(change, exc)
    said = f"{result.error}; read back just after, the change was not in place"
    return replace(result, error=said)


def _found_in_place(change: Change, exc: EntrasyncError, when: str) -> ChangeResult:
    """A write that failed (``exc``) but whose change NeuralTrust shows in place."""
    detail = f"read back in place {when}: {exc.message}"
    status, request_id = getattr(exc, "status", None), getattr(exc, "request_id", None)
    return ChangeResult(change, "succeeded", status, request_id, detail=detail)


def _in_place(change: Change, client: ScimClient, layout: Layout) -> bool | None:
    """Whether NeuralTrust, read back, shows the change in place; None when it cannot be
    read. One try, no retries: a server that lost an answer may be failing, and the write's
    own retries already waited."""
    try:
        if change.action is Action.CREATE:
            user_name = create_body(change, layout)["userName"]
            # The filters only: listing every user after each lost create could cost a large
            # organization's whole listing per write while NeuralTrust is failing.
            found = client.find_user(
                user_name, layout.read_attributes, list_all=False, retries=False
            )
        elif change.target_id:
            found = client.get_user(change.target_id, layout.read_attributes, retries=False)
        else:
            return None
        return found is not None and satisfies(to_target_user(found, layout), change)
    except Exception:  # any failure to read it back (a user without its id, say): unknown
        return None


def apply_plan(
    plan: Plan,
    client: ScimClient,
    config: Config,
    audit: AuditSink,
    *,
    parallelism: int = DEFAULT_PARALLELISM,
    on_result: Callable[[ChangeResult], None] | None = None,
    stop: StopRequest | None = None,
    versions: Mapping[str, str] | None = None,
) -> ApplyReport[ChangeResult]:
    """Carry out every change of ``plan``; one audit record per change, in completion order.

    ``versions``: each NeuralTrust user's version (meta.version) as last read, by SCIM id. A
    write to such a user carries it as ``If-Match``: a user changed since (by hand, in the
    NeuralTrust UI) is not overwritten, and the change fails saying so.

    Starts no write once ``stop`` is requested (a signal), the audit cannot take a record, or
    the caller is interrupted: the writes in flight finish and are recorded, the changes not
    begun get no record (the audit has no ``apply_finished`` and shows the run cut short), and
    then the audit's :class:`AuditError`, else :class:`Stopped`, is raised.
    """
    layout = layout_of(config)
    stop = stop if stop is not None else StopRequest()
    recorder = _Recorder(audit, on_result)
    interrupted = threading.Event()
    stopped: list[str] = []
    outage = _Outage(stopped)

    def stopping() -> bool:
        return stop.requested or recorder.failure is not None or interrupted.is_set()

    def run(change: Change, hold: str | None = None) -> ChangeResult | None:
        if stopping():
            return None
        if stopped:
            result = ChangeResult(change, "skipped", error=f"not attempted: {stopped[0]}")
        elif hold is not None:
            result = ChangeResult(change, "skipped", error=hold)
        else:
            version = versions.get(change.target_id or "") if versions else None
            result = _guarded(change, client, layout, stopped, version)
            if stop.requested:
                result = _said_stopped(result)
            outage.note(result)
        recorder.record(result)
        return result

    pool = ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="apply")
    client.give_up = stopping  # a write in flight is not retried once stopping
    changes, owner = plan.changes, config.owner_role
    grants = [i for i, change in enumerate(changes) if grants_owner(change, owner)]
    results: list[ChangeResult | None] = [None] * len(changes)
    try:
        # The owner grants first, and a change that takes an owner away only once they are all
        # made: min_owners was checked on the whole plan, and a demotion made without its
        # promotion (refused, or cut short) could leave no owner at all.
        for i, future in [(i, pool.submit(run, changes[i])) for i in grants]:
            results[i] = future.result()
        made = [_succeeded_result(results[i]) for i in grants]
        hold = owner_hold([changes[i] for i in grants], made)
        first = set(grants)
        rest = [
            (i, pool.submit(run, change, hold if takes_owner(change, owner) else None))
            for i, change in enumerate(changes)
            if i not in first
        ]
        for i, future in rest:
            results[i] = future.result()
    except BaseException:
        # Ctrl-C without a handler, or a bug: let the writes in flight finish and be audited,
        # start no more.
        interrupted.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown()
        client.give_up = None  # the client's later requests retry as usual
    if recorder.failure is not None:
        raise recorder.failure
    report = ApplyReport(tuple(r for r in results if r is not None))
    held_back = any(r is None or r.stopped for r in results)
    if stop.signum is not None and held_back:
        raise Stopped(stop.signum, report)  # what was done, for the caller to say
    # A signal that came once every change was made (the last in flight) leaves the run
    # whole: the caller finishes its record, and exits with the signal all the same.
    return report


OUTAGE_FAILURES = 5  # writes in a row failed with server errors or throttling: NeuralTrust is down


class _Outage:
    """Stops the writes after :data:`OUTAGE_FAILURES` in a row failed with a 5xx, or a 429,
    once their retries were spent: each of the others would spend its own on a server that is
    down (half a minute each) or that never stops throttling (up to five minutes each)."""

    def __init__(self, stopped: list[str]) -> None:
        self._stopped = stopped
        self._lock = threading.Lock()
        self._in_a_row = 0

    def note(self, result: ChangeResult) -> None:
        status = result.http_status
        with self._lock:
            if (
                result.outcome == "failed"
                and status is not None
                and (status >= 500 or status == 429)
            ):
                self._in_a_row += 1
                if self._in_a_row == OUTAGE_FAILURES:
                    self._stopped.append(
                        f"{OUTAGE_FAILURES} writes in a row failed with server errors or "
                        f"throttling (the last: {result.error}): NeuralTrust is not taking writes"
                    )
            else:  # an answer of another kind: the server is up
                self._in_a_row = 0


def _succeeded_result(result: ChangeResult | None) -> bool:
    return result is not None and result.outcome == "succeeded"


class _Recorder:
    """Hands each result to the audit (and ``on_result``), one at a time; keeps the audit's
    failure, after which apply starts no write."""

    def __init__(self, audit: AuditSink, on_result: Callable[[ChangeResult], None] | None) -> None:
        self._audit = audit
        self._on_result = on_result
        self._lock = threading.Lock()
        self.failure: AuditError | None = None

    def record(self, result: ChangeResult) -> None:
        with self._lock:
            try:
                self._audit.change(
                    result.change,
                    outcome=result.outcome,
                    http_status=result.http_status,
                    request_id=result.request_id,
                    error=result.error,
                    detail=result.detail,
                )
            except AuditError as exc:
                # The record went to stderr instead (AuditWriter): the change is accounted
                # for, and no later write starts. The latest error counts every such record.
                self.failure = exc
            if self._on_result is not None:
                self._on_result(result)


def _guarded(
    change: Change,
    client: ScimClient,
    layout: Layout,
    stopped: list[str],
    version: str | None = None,
) -> ChangeResult:
    try:
        return _outcome(change, client, layout, stopped, version)
    except Exception as exc:
        # A bug (in the write or in what follows a failed one): recorded like any failure, so
        # the audit accounts for a write that may have been made, and no later write starts.
        # The traceback goes to stderr for the report.
        log.error("unexpected error applying %s", change.user, exc_info=True)
        said = f"unexpected error ({type(exc).__name__}, a bug): the change may have been made"
        stopped.append(f"an earlier change failed: {said}")
        return ChangeResult(change, "failed", error=said)


def _outcome(
    change: Change, client: ScimClient, layout: Layout, stopped: list[str], version: str | None
) -> ChangeResult:
    try:
        return _execute(change, client, layout, version)
    except NotSent:
        error = "not attempted: entrasync was stopping"
        return ChangeResult(change, "skipped", error=error, stopped=True)
    except EntrasyncError as exc:
        if version is not None and getattr(exc, "status", None) == 412:
            return _changed_since_read(change, client, layout, exc)
        lost = _answer_lost(exc)
        read_back = _read_back(change, client, layout, exc) if lost else None
        if isinstance(exc, ForeignAnswer):  # the next write would meet it too
            who = "an earlier write was answered by something other than NeuralTrust"
            stopped.append(f"{who}: {exc.message}")
        elif isinstance(exc, ScimWaitError):
            stopped.append(f"an earlier change failed: {exc.message}")
        if read_back is not None and read_back.outcome == "succeeded":
            return read_back
        # A rejected token or a lost connection fails every later write the same way. A 403
        # may be about this one user (e.g. the Owner), so it does not stop the others.
        if isinstance(exc, TransportError) or (
            isinstance(exc, AuthError) and getattr(exc, "status", None) != 403
        ):
            stopped.append(f"an earlier change failed: {exc.message}")
        if read_back is None and lost and not isinstance(exc, TransportError):
            # A 5xx: NeuralTrust may have made it. (A lost connection's message says whether
            # the write went out.)
            failed = _failed(change, exc)
            return replace(failed, error=f"{failed.error}; {UNREAD_AFTER_LOST}")
        return read_back or _failed(change, exc)


def _said_stopped(result: ChangeResult) -> ChangeResult:
    """A write that failed on an answer asking for a retry while entrasync was stopping: its
    record says so (a stop sends no further retry; the error alone reads as if NeuralTrust had
    refused it for good)."""
    if result.outcome != "failed" or result.http_status not in RETRY_STATUSES:
        return result
    said = STOPPED_BEFORE_RETRY
    return replace(result, detail=f"{result.detail}; {said}" if result.detail else said)


STOPPED_BEFORE_RETRY = "entrasync was stopping (a signal) when this write ended"
UNREAD_AFTER_LOST = (
    "the user could not be read back after it, so the change may have been made: run "
    "`entrasync plan` to see the user as it is"
)


def _failed(change: Change, exc: EntrasyncError) -> ChangeResult:
    status = getattr(exc, "status", None)
    request_id = getattr(exc, "request_id", None)
    return ChangeResult(change, "failed", status, request_id, error=exc.message, hint=exc.hint)


def describe(results: Sequence[ChangeResult]) -> list[str]:
    """One line per result, for the failure list and the job summary."""
    lines = []
    for r in results:
        extra = f" [HTTP {r.http_status}]" if r.http_status else ""
        extra += f" [request id {r.request_id}]" if r.request_id else ""
        said = sanitize.text(r.error or r.detail or "")
        lines.append(f"{r.change.action.value} {sanitize.name_text(r.change.user)}: {said}{extra}")
    return lines
