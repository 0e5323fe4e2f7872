#!/usr/bin/env python3
"""One district's trip, from an empty server to the ledger export, through the
Whereabouts client that openapi-python-client generates from the OpenAPI
document. No HTTP here but the generated functions.

    WHEREABOUTS_URL=http://127.0.0.1:8080 \\
    WHEREABOUTS_ADMIN_LOGIN=admin WHEREABOUTS_ADMIN_PASSWORD=... \\
    python story.py

The administrator is a system administrator over the whole tree (`whereabouts
create-admin`). Every code and login the story makes ends in a fresh suffix,
so it can run again, or beside another story, on the same server.

Each operation is found by its operationId (`createFiling` is
`whereabouts_client.api.<tag>.create_filing`), so that an operation missing
from the document fails its own step and the others still run. Each step
prints one line; the last line counts them, and the exit status is 0 only when
every step passed.
"""

from __future__ import annotations

import importlib
import io
import os
import pkgutil
import re
import sys
import types
import typing
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyotp
import whereabouts_client.api
from whereabouts_client import AuthenticatedClient, Client
from whereabouts_client.types import File, Response

BASE_URL = os.environ.get("WHEREABOUTS_URL", "http://localhost:8080")
ADMIN_LOGIN = os.environ.get("WHEREABOUTS_ADMIN_LOGIN", "admin")
ADMIN_PASSWORD = os.environ["WHEREABOUTS_ADMIN_PASSWORD"]
RUN = os.environ.get("STORY_SUFFIX") or uuid.uuid4().hex[:8]
PASSWORD = f"story-{RUN}-pass1"
# Calendar dates are local dates of the jurisdiction (Asia/Shanghai by default).
TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()


class Failure(Exception):
    """A check that did not hold."""


class Skip(Exception):
    """A step that needs what an earlier, failed step would have made."""


class State:
    """What the steps hand on to each other; reading what no step made skips."""

    def __getattr__(self, name: str) -> Any:
        raise Skip(f"needs `{name}` from an earlier step")


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failure(message)


# --- The generated client, by operationId -----------------------------------


def snake(operation_id: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation_id).lower()


def operation(operation_id: str) -> types.ModuleType:
    """The generated module of an operation, under whichever tag holds it."""
    name = snake(operation_id)
    for tag in pkgutil.iter_modules(whereabouts_client.api.__path__):
        try:
            return importlib.import_module(f"whereabouts_client.api.{tag.name}.{name}")
        except ModuleNotFoundError:
            continue
    raise Failure(f"the document has no operation `{operation_id}`")


def request_body(module: types.ModuleType, data: Any, multipart: bool = False) -> Any:
    """The operation's own request model (or list of them), built from JSON-shaped data."""
    hint = typing.get_type_hints(module.sync_detailed)["body"]
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    for kind in typing.get_args(hint) if union else (hint,):
        if typing.get_origin(kind) is list and isinstance(data, list):
            (item,) = typing.get_args(kind)
            return [item.from_dict(d) for d in data]
        if hasattr(kind, "from_dict") and hasattr(kind, "to_multipart") == multipart:
            return kind.from_dict(data)
    raise Failure(f"{module.__name__} takes no {'multipart' if multipart else 'JSON'} body")


def call(operation_id: str, client: Client, expect: int, body: Any = None, **params: Any) -> Response[Any]:
    """Calls a generated operation and checks the status it answers."""
    module = operation(operation_id)
    if isinstance(body, (dict, list)):
        body = request_body(module, body)
    if body is not None:
        params["body"] = body
    response = module.sync_detailed(client=client, **params)
    if response.status_code != expect:
        raise Failure(
            f"{operation_id} answered {int(response.status_code)}, not {expect}: "
            f"{response.content[:400].decode(errors='replace')}"
        )
    return response


def etag(response: Response[Any]) -> str:
    tag = response.headers.get("etag", "")
    check(re.fullmatch(r'"[0-9]+"', tag) is not None, f"ETag {tag!r} is not a quoted version")
    return tag


def log_in(login: str, password: str, totp: pyotp.TOTP | None = None) -> AuthenticatedClient:
    """Logs in; with an authenticator, in two steps: the password, then a code."""
    anonymous = Client(base_url=BASE_URL, raise_on_unexpected_status=True)
    answer = call("logIn", anonymous, 200, body={"login": login, "password": password}).parsed
    if totp is not None:
        check(getattr(answer, "mfa_required", False) is True, f"logIn answered {type(answer).__name__}, no challenge")
        check(not hasattr(answer, "access_token"), "a challenge holds an access token")
        # The code of the next step: the one of this step may have confirmed the enrolment.
        code = totp.at(datetime.now().timestamp() + 30)
        body = {"mfa_token": answer.mfa_token, "code": code}
        answer = call("completeMfaLogin", anonymous, 200, body=body).parsed
    check(getattr(answer, "token_type", None) == "Bearer", f"logIn answered {type(answer).__name__}")
    return AuthenticatedClient(base_url=BASE_URL, token=answer.access_token, raise_on_unexpected_status=True)


# --- The story ----------------------------------------------------------------

s = State()
STEPS: list[tuple[str, Callable[[], str]]] = []


def step(title: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    def register(fn: Callable[[], str]) -> Callable[[], str]:
        STEPS.append((title, fn))
        return fn

    return register


@step("the server is up")
def health() -> str:
    response = call("checkHealth", Client(base_url=BASE_URL, raise_on_unexpected_status=True), 200)
    return f"checkHealth {response.content[:60].decode(errors='replace')}"


@step("the bootstrap administrator logs in")
def admin_logs_in() -> str:
    s.admin = log_in(ADMIN_LOGIN, ADMIN_PASSWORD)
    me = call("getMe", s.admin, 200).parsed
    check(any(g.role == "system_admin" for g in me.account.roles), "the administrator holds no system_admin grant")
    return f"logIn, getMe: {me.account.login}"


@step("the administrator enrols a second factor and logs in with it")
def admin_enrols() -> str:
    me = call("getMe", s.admin, 200).parsed
    check(me.mfa.required and not me.mfa.enrolled, f"mfa {me.mfa}")
    held = call("listUnits", s.admin, 403)
    check(b"mfa_enrollment_required" in held.content, f"listUnits before enrolment: {held.content[:200]!r}")
    enrolment = call("enrolMfaTotp", s.admin, 200).parsed
    totp = pyotp.parse_uri(enrolment.otpauth_uri)
    check(totp.secret == enrolment.secret, "the URI holds another secret")
    codes = call("confirmMfaTotp", s.admin, 200, body={"code": totp.now()}).parsed.recovery_codes
    check(len(codes) == 10, f"{len(codes)} recovery codes")
    s.admin = log_in(ADMIN_LOGIN, ADMIN_PASSWORD, totp)
    me = call("getMe", s.admin, 200).parsed
    check(me.mfa.enrolled and me.mfa.recovery_codes_left == 10, f"mfa {me.mfa}")
    return "enrolMfaTotp, confirmMfaTotp, logIn + completeMfaLogin"


@step("a district: jurisdiction, unit, department")
def district() -> str:
    def unit(code: str, kind: str, parent: str | None) -> str:
        response = call(
            "createUnit",
            s.admin,
            201,
            body={"code": f"{code}-{RUN}", "name": f"{code.title()} {RUN}", "kind": kind, "parent_id": parent},
        )
        etag(response)
        check(response.parsed.kind == kind, f"the new node is a {response.parsed.kind}")
        return str(response.parsed.id)

    s.jurisdiction = unit("district", "jurisdiction", None)
    s.unit = unit("bureau", "unit", s.jurisdiction)
    s.department = unit("office", "department", s.unit)
    children = call("listUnitChildren", s.admin, 200, id=s.unit).parsed
    check([str(c.id) for c in children.items] == [s.department], "the unit's children are not its department")
    return "createUnit x3, listUnitChildren"


@step("accounts: a cadre, a department head, an inspector")
def accounts() -> str:
    def account(name: str, unit_id: str, position: str, number: str) -> tuple[str, str]:
        login = f"{name}.{RUN}"
        body = {
            "login": login,
            "display_name": f"{name.title()} {RUN}",
            "unit_id": unit_id,
            "employee_no": f"{number}-{RUN}",
            "mobile": "13800138000",
            "rank": "section",
            "position": position,
            "party_member": True,
            "public_official": True,
            "key_post": False,
            "password": PASSWORD,
        }
        created = call("createAccount", s.admin, 201, body=body).parsed
        return str(created.id), login

    s.cadre_id, s.cadre_login = account("cadre", s.department, "staff", "E1")
    s.cadre_no = f"E1-{RUN}"
    s.head_id, s.head_login = account("head", s.department, "department_head", "E2")
    s.inspector_id, s.inspector_login = account("inspector", s.jurisdiction, "staff", "E3")
    grants = call(
        "setAccountRoles", s.admin, 200, id=s.inspector_id, body=[{"role": "inspector", "unit_id": s.jurisdiction}]
    ).parsed
    check([(g.role, str(g.unit_id)) for g in grants] == [("inspector", s.jurisdiction)], f"grants {grants}")
    return "createAccount x3, setAccountRoles (inspector at the jurisdiction)"


@step("the department's head is its principal")
def leaders() -> str:
    call("setUnitLeaders", s.admin, 200, id=s.department, body={"principal_id": s.head_id, "deputies": []})
    read = call("getUnitLeaders", s.admin, 200, id=s.department).parsed
    check(str(read.principal_id) == s.head_id, f"principal_id {read.principal_id}")
    return "setUnitLeaders, getUnitLeaders"


@step("the unit's policy: leaving the jurisdiction needs the department head")
def policy() -> str:
    rule = {
        "id": "leave",
        "applies_to": {},
        "trip_kinds": ["leave_jurisdiction"],
        "periods": [],
        "requirement": "approval",
        "approvers": [{"kind": "department_head"}],
        "form": "online",
        "notice": {"days": 0, "working_days": True},
        "return_report": {"required": True, "within_hours": 24},
        "max_days": 30,
    }
    etag(call("setUnitPolicy", s.admin, 200, id=s.unit, body={"rules": [rule]}))
    effective = call("getEffectivePolicy", s.admin, 200, id=s.department).parsed
    check(str(effective.source_unit_id) == s.unit, f"the department's policy comes from {effective.source_unit_id}")
    return "setUnitPolicy, getEffectivePolicy (the department inherits it)"


@step("everyone logs in")
def people_log_in() -> str:
    s.cadre = log_in(s.cadre_login, PASSWORD)
    s.head = log_in(s.head_login, PASSWORD)
    s.inspector = log_in(s.inspector_login, PASSWORD)
    return "logIn x3"


def trip() -> dict[str, Any]:
    # Tomorrow: departure may be reported from the day before the planned one.
    return {
        "draft": {
            "kind": "leave_jurisdiction",
            "purpose": "visit_relatives",
            "reason": "Visiting my parents",
            "destinations": [{"code": "310000"}],
            "depart_on": (TODAY + timedelta(days=1)).isoformat(),
            "return_on": (TODAY + timedelta(days=4)).isoformat(),
            "contact_phone": "13800138000",
        },
        "submit": True,
    }


@step("the cadre files a trip with an Idempotency-Key")
def file_trip() -> str:
    s.key = str(uuid.uuid4())
    response = call("createFiling", s.cadre, 201, body=trip(), idempotency_key=s.key)
    filing = response.parsed
    check(filing.status == "pending", f"status {filing.status}, not pending")
    check(filing.requirement == "approval", f"requirement {filing.requirement}")
    check([str(c) for c in filing.approvals[0].candidates] == [s.head_id], "the head is not the first approver")
    check("idempotent-replayed" not in response.headers, "a first answer says it was replayed")
    s.filing = str(filing.id)
    return f"createFiling -> {filing.status}, ETag {etag(response)}"


@step("the same call again is the same filing, replayed")
def retry_trip() -> str:
    response = call("createFiling", s.cadre, 201, body=trip(), idempotency_key=s.key)
    check(str(response.parsed.id) == s.filing, f"the retry made another filing {response.parsed.id}")
    check(response.headers.get("idempotent-replayed") == "true", "no Idempotent-Replayed: true on the retry")
    return "createFiling again -> same id, Idempotent-Replayed: true"


@step("the department head approves with If-Match")
def approve() -> str:
    pending = call("listPendingApprovals", s.head, 200).parsed
    check(s.filing in [str(f.id) for f in pending.items], "the filing is not pending for the head")
    tag = etag(call("getFiling", s.head, 200, id=s.filing))
    call("approveFiling", s.head, 412, id=s.filing, if_match='"0"')
    response = call("approveFiling", s.head, 200, id=s.filing, if_match=tag)
    check(response.parsed.status == "approved", f"status {response.parsed.status}")
    s.filing_tag = etag(response)
    return f"listPendingApprovals, getFiling {tag}, approveFiling (a stale ETag: 412) -> approved"


@step("the cadre departs and returns")
def depart_and_return() -> str:
    away = call("reportDeparture", s.cadre, 200, id=s.filing, if_match=s.filing_tag)
    check(away.parsed.status == "away", f"status {away.parsed.status}")
    back = call("reportReturn", s.cadre, 200, id=s.filing, if_match=etag(away), body={"report": "Back as planned."})
    check(back.parsed.status == "returned", f"status {back.parsed.status}")
    events = call("listFilingEvents", s.cadre, 200, id=s.filing).parsed
    check(len(events) >= 4, f"{len(events)} events")
    return f"reportDeparture, reportReturn -> returned; listFilingEvents: {len(events)} events"


@step("the inspector uploads evidence as a CSV file")
def evidence() -> str:
    # The cadre was in Shanghai a week ago, and no filing says so.
    outside_on = (TODAY - timedelta(days=7)).isoformat()
    csv = f"employee_no,date,location_code\n{s.cadre_no},{outside_on},310000\n"
    module = operation("importEvidence")
    upload = request_body(
        module,
        {"file": b"", "batch_key": f"itinerary-{RUN}", "unit_id": s.unit, "source": "itinerary"},
        multipart=True,
    )
    upload.file = File(payload=io.BytesIO(csv.encode()), file_name="itinerary.csv", mime_type="text/csv")
    result = call("importEvidence", s.inspector, 201, body=upload).parsed
    check(result.accepted == 1 and not result.rejected, f"accepted {result.accepted}, rejected {result.rejected}")
    s.outside_on = outside_on
    return "importEvidence (multipart/form-data) -> 1 accepted"


@step("reconciliation finds the unreported departure")
def reconcile() -> str:
    outside_on = s.outside_on
    window = {"unit_id": s.unit, "from": (TODAY - timedelta(days=30)).isoformat(), "to": TODAY.isoformat()}
    result = call("runReconciliation", s.inspector, 201, body=window).parsed
    found = [d for d in result.discrepancies if str(d.account_id) == s.cadre_id]
    check(len(found) == 1, f"{len(found)} discrepancies for the cadre")
    (d,) = found
    check(d.kind == "unreported_departure", f"kind {d.kind}")
    check(d.from_.isoformat() == outside_on == d.to.isoformat(), f"days {d.from_}..{d.to}")
    check(d.status == "open", f"status {d.status}")
    s.discrepancy = str(d.id)
    return f"runReconciliation -> {d.kind} on {outside_on}"


@step("the cadre reads their own discrepancy and explains it")
def explain() -> str:
    discrepancy = s.discrepancy
    mine = call("listMyDiscrepancies", s.cadre, 200).parsed
    check([str(d.id) for d in mine.items] == [discrepancy], "listMyDiscrepancies is not the one discrepancy")
    response = call(
        "explainDiscrepancy", s.cadre, 200, id=discrepancy, body={"explanation": "A day trip to a conference."}
    )
    check(response.parsed.status == "explained", f"status {response.parsed.status}")
    s.discrepancy_tag = etag(response)
    return "listMyDiscrepancies, explainDiscrepancy -> explained"


@step("the inspector clears it")
def clear() -> str:
    response = call(
        "clearDiscrepancy",
        s.inspector,
        200,
        id=s.discrepancy,
        if_match=s.discrepancy_tag,
        body={"comment": "Conference confirmed by the organiser."},
    )
    check(response.parsed.status == "cleared", f"status {response.parsed.status}")
    read = call("getDiscrepancy", s.inspector, 200, id=s.discrepancy).parsed
    check(read.status == "cleared", f"getDiscrepancy says {read.status}")
    events = call("listDiscrepancyEvents", s.inspector, 200, id=s.discrepancy).parsed
    events = getattr(events, "items", events)
    return f"clearDiscrepancy -> cleared, getDiscrepancy, listDiscrepancyEvents: {len(events)} events"


@step("the inspector opens a campaign and reads its report")
def inspection() -> str:
    window = {
        "name": f"Year-end check {RUN}",
        "unit_id": s.unit,
        "from": (TODAY - timedelta(days=30)).isoformat(),
        "to": (TODAY + timedelta(days=30)).isoformat(),
    }
    campaign = call("createInspection", s.inspector, 201, body=window).parsed
    report = call("getInspectionReport", s.inspector, 200, id=campaign.id).parsed
    check(str(report.inspection.id) == str(campaign.id), "the report is of another campaign")
    check(str(report.units[0].unit_id) == s.unit, "the report does not start at the inspected unit")
    return f"createInspection, getInspectionReport ({len(report.units)} units)"


def ledger_window() -> dict[str, Any]:
    return {"unit_id": s.unit, "from_": TODAY - timedelta(days=30), "to": TODAY + timedelta(days=60)}


@step("the ledger as CSV")
def export_csv() -> str:
    response = call("exportLedgerCsv", s.inspector, 200, accept_language="en", **ledger_window())
    header, *rows = response.parsed.removeprefix("\ufeff").splitlines()
    check(header.split(",")[0] == "filing_id", f"the first line is not a header row: {header[:80]!r}")
    check(any(row.startswith(s.filing) for row in rows), "the filing is not in the export")
    return f"exportLedgerCsv: a header row and {len(rows)} row(s)"


@step("the ledger as XLSX")
def export_xlsx() -> str:
    workbook = call("exportLedgerXlsx", s.inspector, 200, **ledger_window()).parsed.payload.read()
    check(workbook[:2] == b"PK", f"the body starts with {workbook[:4]!r}, not PK")
    return f"exportLedgerXlsx: {len(workbook)} bytes of zip"


def main() -> int:
    print(f"python story against {BASE_URL} (suffix {RUN})")
    passed = failed = skipped = 0
    for number, (title, run) in enumerate(STEPS, 1):
        try:
            detail = run()
        except Skip as skip:
            skipped += 1
            print(f"  skip {number:2} {title}: {skip}")
        except Exception as error:  # noqa: BLE001 - every failure is reported the same way
            failed += 1
            print(f"  FAIL {number:2} {title}: {type(error).__name__}: {error}")
        else:
            passed += 1
            print(f"  ok   {number:2} {title}: {detail}")
    print(f"python: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == skipped == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
