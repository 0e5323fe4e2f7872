// One district's trip, from an empty server to the ledger export, through a
// client typed from the OpenAPI document: openapi-typescript generates
// `generated/schema.d.ts`, and openapi-fetch checks every path, parameter and
// body against it. No HTTP here but the client's own calls.
//
//   WHEREABOUTS_URL=http://127.0.0.1:8080 \
//   WHEREABOUTS_ADMIN_LOGIN=admin WHEREABOUTS_ADMIN_PASSWORD=... \
//   node build/story.js
//
// The administrator is a system administrator over the whole tree
// (`whereabouts create-admin`). Every code and login the story makes ends in a
// fresh suffix, so it can run again, or beside another story, on one server.
// Each step prints one line; the last line counts them, and the exit status is
// 0 only when every step passed.

import { createHmac, randomUUID } from "node:crypto";
import createClient from "openapi-fetch";
import type { paths } from "./generated/schema.js";

const baseUrl = process.env.WHEREABOUTS_URL ?? "http://localhost:8080";
const adminLogin = process.env.WHEREABOUTS_ADMIN_LOGIN ?? "admin";
const adminPassword = process.env.WHEREABOUTS_ADMIN_PASSWORD ?? "";
const run = process.env.STORY_SUFFIX || randomUUID().slice(0, 8);
const password = `story-${run}-pass1`;

/** A local date of the jurisdiction (Asia/Shanghai by default), `days` from today. */
function day(days: number): string {
  const today = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
  const date = new Date(`${today}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

class Failure extends Error {}
class Skip extends Error {}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Failure(message);
}

type Client = ReturnType<typeof createClient<paths>>;

function client(token?: string): Client {
  return createClient<paths>({
    baseUrl,
    headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
  });
}

/** Awaits a call and checks its status; answers its body and response. */
async function expect<T>(
  operation: string,
  status: number,
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<{ data: T; response: Response }> {
  const { data, error, response } = await call;
  if (response.status !== status) {
    const detail = JSON.stringify(error ?? data ?? null).slice(0, 400);
    throw new Failure(`${operation} answered ${response.status}, not ${status}: ${detail}`);
  }
  return { data: data as T, response };
}

function etag(response: Response): string {
  const tag = response.headers.get("etag") ?? "";
  check(/^"[0-9]+"$/.test(tag), `ETag ${JSON.stringify(tag)} is not a quoted version`);
  return tag;
}

/** What the steps hand on to each other; reading what no step made skips. */
const made = new Map<string, unknown>();
function keep<T>(name: string, value: T): T {
  made.set(name, value);
  return value;
}
function need<T = string>(name: string): T {
  if (!made.has(name)) throw new Skip(`needs \`${name}\` from an earlier step`);
  return made.get(name) as T;
}

/** The RFC 6238 code (SHA-1, 6 digits, 30 s) of a base32 secret at a moment (ms). */
function totp(secret: string, at: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const bits = [...secret.toUpperCase()].map((c) => alphabet.indexOf(c).toString(2).padStart(5, "0")).join("");
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac.readUInt8(mac.length - 1) & 15;
  return ((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).toString().padStart(6, "0");
}

/** Logs in; with an authenticator's secret, in two steps: the password, then a code. */
async function logIn(login: string, secret: string, authenticator?: string): Promise<Client> {
  const { data } = await expect("logIn", 200, client().POST("/api/v1/auth/login", { body: { login, password: secret } }));
  if ("access_token" in data) {
    check(authenticator === undefined, "logIn answered tokens, no challenge");
    check(data.token_type === "Bearer", `token_type ${data.token_type}`);
    return client(data.access_token);
  }
  check(data.mfa_required && authenticator !== undefined, "logIn asked for a second factor");
  // The code of the next step: the one of this step may have confirmed the enrolment.
  const code = totp(authenticator, Date.now() + 30_000);
  const { data: tokens } = await expect(
    "completeMfaLogin",
    200,
    client().POST("/api/v1/auth/mfa", { body: { mfa_token: data.mfa_token, code } }),
  );
  check(tokens.token_type === "Bearer", `token_type ${tokens.token_type}`);
  return client(tokens.access_token);
}

const steps: [string, () => Promise<string>][] = [];
function step(title: string, body: () => Promise<string>): void {
  steps.push([title, body]);
}

step("the server is up", async () => {
  const { data } = await expect("checkHealth", 200, client().GET("/healthz"));
  return `checkHealth ${JSON.stringify(data).slice(0, 60)}`;
});

step("the bootstrap administrator logs in", async () => {
  const admin = keep("admin", await logIn(adminLogin, adminPassword));
  const { data: me } = await expect("getMe", 200, admin.GET("/api/v1/me"));
  check(me.account.roles.some((g) => g.role === "system_admin"), "the administrator holds no system_admin grant");
  return `logIn, getMe: ${me.account.login}`;
});

step("the administrator enrols a second factor and logs in with it", async () => {
  const admin = need<Client>("admin");
  const { data: me } = await expect("getMe", 200, admin.GET("/api/v1/me"));
  check(me.mfa.required && !me.mfa.enrolled, `mfa ${JSON.stringify(me.mfa)}`);
  const held = await admin.GET("/api/v1/units", { params: { query: {} } });
  check(held.response.status === 403, `listUnits before enrolment answered ${held.response.status}`);
  check(held.error?.code === "mfa_enrollment_required", `listUnits before enrolment: ${JSON.stringify(held.error)}`);
  const { data: enrolment } = await expect("enrolMfaTotp", 200, admin.POST("/api/v1/me/mfa/totp"));
  check(enrolment.otpauth_uri.includes(`secret=${enrolment.secret}`), "the URI holds another secret");
  const { data: confirmed } = await expect(
    "confirmMfaTotp",
    200,
    admin.POST("/api/v1/me/mfa/totp/confirm", { body: { code: totp(enrolment.secret, Date.now()) } }),
  );
  check(confirmed.recovery_codes.length === 10, `${confirmed.recovery_codes.length} recovery codes`);
  const signedIn = keep("admin", await logIn(adminLogin, adminPassword, enrolment.secret));
  const { data: after } = await expect("getMe", 200, signedIn.GET("/api/v1/me"));
  check(after.mfa.enrolled && after.mfa.recovery_codes_left === 10, `mfa ${JSON.stringify(after.mfa)}`);
  return "enrolMfaTotp, confirmMfaTotp, logIn + completeMfaLogin";
});

step("a district: jurisdiction, unit, department", async () => {
  const admin = need<Client>("admin");
  const unit = async (code: string, kind: "jurisdiction" | "unit" | "department", parent: string | null) => {
    const { data, response } = await expect(
      "createUnit",
      201,
      admin.POST("/api/v1/units", { body: { code: `${code}-${run}`, name: `${code} ${run}`, kind, parent_id: parent } }),
    );
    etag(response);
    check(data.kind === kind, `the new node is a ${data.kind}`);
    return data.id;
  };
  const jurisdiction = keep("jurisdiction", await unit("district", "jurisdiction", null));
  const bureau = keep("unit", await unit("bureau", "unit", jurisdiction));
  const department = keep("department", await unit("office", "department", bureau));
  const { data: children } = await expect(
    "listUnitChildren",
    200,
    admin.GET("/api/v1/units/{id}/children", { params: { path: { id: bureau } } }),
  );
  check(children.items.map((c) => c.id).join() === department, "the unit's children are not its department");
  return "createUnit x3, listUnitChildren";
});

step("accounts: a cadre, a department head, an inspector", async () => {
  const admin = need<Client>("admin");
  const account = async (name: string, unitId: string, position: "staff" | "department_head", number: string) => {
    const login = `${name}.${run}`;
    const { data } = await expect(
      "createAccount",
      201,
      admin.POST("/api/v1/accounts", {
        body: {
          login,
          display_name: `${name} ${run}`,
          unit_id: unitId,
          employee_no: `${number}-${run}`,
          mobile: "13800138000",
          rank: "section",
          position,
          party_member: true,
          public_official: true,
          key_post: false,
          password,
        },
      }),
    );
    keep(`${name}_login`, login);
    return keep(`${name}_id`, data.id);
  };
  await account("cadre", need("department"), "staff", "E1");
  keep("cadre_no", `E1-${run}`);
  await account("head", need("department"), "department_head", "E2");
  const inspector = await account("inspector", need("jurisdiction"), "staff", "E3");
  const { data: grants } = await expect(
    "setAccountRoles",
    200,
    admin.PUT("/api/v1/accounts/{id}/roles", {
      params: { path: { id: inspector } },
      body: [{ role: "inspector", unit_id: need("jurisdiction") }],
    }),
  );
  check(
    grants.length === 1 && grants[0]?.role === "inspector" && grants[0]?.unit_id === need("jurisdiction"),
    `grants ${JSON.stringify(grants)}`,
  );
  return "createAccount x3, setAccountRoles (inspector at the jurisdiction)";
});

step("the department's head is its principal", async () => {
  const admin = need<Client>("admin");
  const id = need<string>("department");
  await expect(
    "setUnitLeaders",
    200,
    admin.PUT("/api/v1/units/{id}/leaders", {
      params: { path: { id } },
      body: { principal_id: need("head_id"), deputies: [] },
    }),
  );
  const { data } = await expect("getUnitLeaders", 200, admin.GET("/api/v1/units/{id}/leaders", { params: { path: { id } } }));
  check(data.principal_id === need("head_id"), `principal_id ${data.principal_id}`);
  return "setUnitLeaders, getUnitLeaders";
});

step("the unit's policy: leaving the jurisdiction needs the department head", async () => {
  const admin = need<Client>("admin");
  const { response } = await expect(
    "setUnitPolicy",
    200,
    admin.PUT("/api/v1/units/{id}/policy", {
      params: { path: { id: need("unit") } },
      body: {
        rules: [
          {
            id: "leave",
            applies_to: {},
            trip_kinds: ["leave_jurisdiction"],
            periods: [],
            requirement: "approval",
            approvers: [{ kind: "department_head" }],
            form: "online",
            notice: { days: 0, working_days: true },
            return_report: { required: true, within_hours: 24 },
            max_days: 30,
          },
        ],
      },
    }),
  );
  etag(response);
  const { data } = await expect(
    "getEffectivePolicy",
    200,
    admin.GET("/api/v1/units/{id}/effective-policy", { params: { path: { id: need("department") } } }),
  );
  check(data.source_unit_id === need("unit"), `the department's policy comes from ${data.source_unit_id}`);
  return "setUnitPolicy, getEffectivePolicy (the department inherits it)";
});

step("everyone logs in", async () => {
  for (const who of ["cadre", "head", "inspector"]) keep(who, await logIn(need(`${who}_login`), password));
  return "logIn x3";
});

// Tomorrow: departure may be reported from the day before the planned one.
const trip = () => ({
  draft: {
    kind: "leave_jurisdiction" as const,
    purpose: "visit_relatives" as const,
    reason: "Visiting my parents",
    destinations: [{ code: "310000" }],
    depart_on: day(1),
    return_on: day(4),
    contact_phone: "13800138000",
  },
  submit: true,
});

step("the cadre files a trip with an Idempotency-Key", async () => {
  const key = keep("key", randomUUID());
  const { data, response } = await expect(
    "createFiling",
    201,
    need<Client>("cadre").POST("/api/v1/filings", { params: { header: { "Idempotency-Key": key } }, body: trip() }),
  );
  check(data.status === "pending", `status ${data.status}, not pending`);
  check(data.requirement === "approval", `requirement ${data.requirement}`);
  check(data.approvals[0]?.candidates.join() === need("head_id"), "the head is not the first approver");
  check(!response.headers.has("idempotent-replayed"), "a first answer says it was replayed");
  keep("filing", data.id);
  return `createFiling -> ${data.status}, ETag ${etag(response)}`;
});

step("the same call again is the same filing, replayed", async () => {
  const { data, response } = await expect(
    "createFiling",
    201,
    need<Client>("cadre").POST("/api/v1/filings", { params: { header: { "Idempotency-Key": need("key") } }, body: trip() }),
  );
  check(data.id === need("filing"), `the retry made another filing ${data.id}`);
  check(response.headers.get("idempotent-replayed") === "true", "no Idempotent-Replayed: true on the retry");
  return "createFiling again -> same id, Idempotent-Replayed: true";
});

step("the department head approves with If-Match", async () => {
  const head = need<Client>("head");
  const id = need<string>("filing");
  const { data: pending } = await expect("listPendingApprovals", 200, head.GET("/api/v1/approvals/pending"));
  check(pending.items.some((f) => f.id === id), "the filing is not pending for the head");
  const { response: read } = await expect("getFiling", 200, head.GET("/api/v1/filings/{id}", { params: { path: { id } } }));
  const tag = etag(read);
  await expect(
    "approveFiling",
    412,
    head.POST("/api/v1/filings/{id}/approve", { params: { path: { id }, header: { "If-Match": '"0"' } } }),
  );
  const { data, response } = await expect(
    "approveFiling",
    200,
    head.POST("/api/v1/filings/{id}/approve", { params: { path: { id }, header: { "If-Match": tag } } }),
  );
  check(data.status === "approved", `status ${data.status}`);
  keep("filing_tag", etag(response));
  return `listPendingApprovals, getFiling ${tag}, approveFiling (a stale ETag: 412) -> approved`;
});

step("the cadre departs and returns", async () => {
  const cadre = need<Client>("cadre");
  const id = need<string>("filing");
  const away = await expect(
    "reportDeparture",
    200,
    cadre.POST("/api/v1/filings/{id}/depart", { params: { path: { id }, header: { "If-Match": need("filing_tag") } } }),
  );
  check(away.data.status === "away", `status ${away.data.status}`);
  const back = await expect(
    "reportReturn",
    200,
    cadre.POST("/api/v1/filings/{id}/return", {
      params: { path: { id }, header: { "If-Match": etag(away.response) } },
      body: { report: "Back as planned." },
    }),
  );
  check(back.data.status === "returned", `status ${back.data.status}`);
  const { data: events } = await expect(
    "listFilingEvents",
    200,
    cadre.GET("/api/v1/filings/{id}/events", { params: { path: { id } } }),
  );
  check(events.length >= 4, `${events.length} events`);
  return `reportDeparture, reportReturn -> returned; listFilingEvents: ${events.length} events`;
});

step("the inspector uploads evidence as a CSV file", async () => {
  // The cadre was in Shanghai a week ago, and no filing says so.
  const outsideOn = day(-7);
  const csv = `employee_no,date,location_code\n${need<string>("cadre_no")},${outsideOn},310000\n`;
  const fields = { batch_key: `itinerary-${run}`, unit_id: need<string>("unit"), source: "itinerary" as const };
  const { data } = await expect(
    "importEvidence",
    201,
    need<Client>("inspector").POST("/api/v1/evidence/imports", {
      body: { ...fields, file: csv },
      // The typed fields above go out as multipart/form-data, the CSV as a file part.
      bodySerializer: () => {
        const form = new FormData();
        for (const [name, value] of Object.entries(fields)) form.append(name, value);
        form.append("file", new Blob([csv], { type: "text/csv" }), "itinerary.csv");
        return form;
      },
    }),
  );
  check(data.accepted === 1 && data.rejected.length === 0, `accepted ${data.accepted}, rejected ${JSON.stringify(data.rejected)}`);
  keep("outside_on", outsideOn);
  return "importEvidence (multipart/form-data) -> 1 accepted";
});

step("reconciliation finds the unreported departure", async () => {
  const outsideOn = need("outside_on");
  const { data } = await expect(
    "runReconciliation",
    201,
    need<Client>("inspector").POST("/api/v1/reconciliations", {
      body: { unit_id: need("unit"), from: day(-30), to: day(0) },
    }),
  );
  const found = data.discrepancies.filter((d) => d.account_id === need("cadre_id"));
  const [d] = found;
  check(found.length === 1 && d !== undefined, `${found.length} discrepancies for the cadre`);
  check(d.kind === "unreported_departure", `kind ${d.kind}`);
  check(d.from === outsideOn && d.to === outsideOn, `days ${d.from}..${d.to}`);
  check(d.status === "open", `status ${d.status}`);
  keep("discrepancy", d.id);
  return `runReconciliation -> ${d.kind} on ${d.from}`;
});

step("the cadre reads their own discrepancy and explains it", async () => {
  const cadre = need<Client>("cadre");
  const id = need<string>("discrepancy");
  const { data: mine } = await expect("listMyDiscrepancies", 200, cadre.GET("/api/v1/me/discrepancies"));
  check(mine.items.map((d) => d.id).join() === id, "listMyDiscrepancies is not the one discrepancy");
  const { data, response } = await expect(
    "explainDiscrepancy",
    200,
    cadre.POST("/api/v1/discrepancies/{id}/explain", {
      params: { path: { id } },
      body: { explanation: "A day trip to a conference." },
    }),
  );
  check(data.status === "explained", `status ${data.status}`);
  keep("discrepancy_tag", etag(response));
  return "listMyDiscrepancies, explainDiscrepancy -> explained";
});

step("the inspector clears it", async () => {
  const inspector = need<Client>("inspector");
  const id = need<string>("discrepancy");
  const { data } = await expect(
    "clearDiscrepancy",
    200,
    inspector.POST("/api/v1/discrepancies/{id}/clear", {
      params: { path: { id }, header: { "If-Match": need("discrepancy_tag") } },
      body: { comment: "Conference confirmed by the organiser." },
    }),
  );
  check(data.status === "cleared", `status ${data.status}`);
  const { data: read } = await expect("getDiscrepancy", 200, inspector.GET("/api/v1/discrepancies/{id}", { params: { path: { id } } }));
  check(read.status === "cleared", `getDiscrepancy says ${read.status}`);
  const { data: events } = await expect(
    "listDiscrepancyEvents",
    200,
    inspector.GET("/api/v1/discrepancies/{id}/events", { params: { path: { id } } }),
  );
  const count = Array.isArray(events) ? events.length : events.items.length;
  return `clearDiscrepancy -> cleared, getDiscrepancy, listDiscrepancyEvents: ${count} events`;
});

step("the inspector opens a campaign and reads its report", async () => {
  const inspector = need<Client>("inspector");
  const { data: campaign } = await expect(
    "createInspection",
    201,
    inspector.POST("/api/v1/inspections", {
      body: { name: `Year-end check ${run}`, unit_id: need("unit"), from: day(-30), to: day(30) },
    }),
  );
  const { data: report } = await expect(
    "getInspectionReport",
    200,
    inspector.GET("/api/v1/inspections/{id}/report", { params: { path: { id: campaign.id } } }),
  );
  check(report.inspection.id === campaign.id, "the report is of another campaign");
  check(report.units[0]?.unit_id === need("unit"), "the report does not start at the inspected unit");
  return `createInspection, getInspectionReport (${report.units.length} units)`;
});

const ledgerWindow = () => ({ unit_id: need<string>("unit"), from: day(-30), to: day(60) });

step("the ledger as CSV", async () => {
  const { data } = await expect(
    "exportLedgerCsv",
    200,
    need<Client>("inspector").GET("/api/v1/ledger/export.csv", {
      params: { query: ledgerWindow(), header: { "Accept-Language": "en" } },
      parseAs: "text",
    }),
  );
  const [header = "", ...rows] = data.replace(/^\uFEFF/, "").split(/\r?\n/).filter((line) => line !== "");
  check(header.split(",")[0] === "filing_id", `the first line is not a header row: ${header.slice(0, 80)}`);
  check(rows.some((row) => row.startsWith(need("filing"))), "the filing is not in the export");
  return `exportLedgerCsv: a header row and ${rows.length} row(s)`;
});

step("the ledger as XLSX", async () => {
  const { data } = await expect(
    "exportLedgerXlsx",
    200,
    need<Client>("inspector").GET("/api/v1/ledger/export.xlsx", {
      params: { query: ledgerWindow() },
      parseAs: "arrayBuffer",
    }),
  );
  const magic = new TextDecoder().decode(new Uint8Array(data, 0, 2));
  check(magic === "PK", `the body starts with ${JSON.stringify(magic)}, not PK`);
  return `exportLedgerXlsx: ${data.byteLength} bytes of zip`;
});

async function main(): Promise<number> {
  console.log(`typescript story against ${baseUrl} (suffix ${run})`);
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const [index, [title, body]] of steps.entries()) {
    const number = String(index + 1).padStart(2);
    try {
      const detail = await body();
      passed += 1;
      console.log(`  ok   ${number} ${title}: ${detail}`);
    } catch (error) {
      if (error instanceof Skip) {
        skipped += 1;
        console.log(`  skip ${number} ${title}: ${error.message}`);
      } else {
        failed += 1;
        const name = error instanceof Error ? error.constructor.name : "Error";
        console.log(`  FAIL ${number} ${title}: ${name}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
  console.log(`typescript: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  return failed === 0 && skipped === 0 ? 0 : 1;
}

process.exitCode = await main();
