//! Shared test support: an in-process app on its own database, request helpers
//! and a small seeded district.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::test::{self, TestRequest};
use serde_json::{Value, json};
use uuid::Uuid;
use whereabouts_api::app;
use whereabouts_api::config::Config;
use whereabouts_api::db::Db;
use whereabouts_api::extract::AppState;
use whereabouts_api::testing::TestDatabase;

/// The bootstrap administrator's password in tests.
pub const ADMIN_PASSWORD: &str = "admin-password-1";
/// Every seeded account's password.
pub const PASSWORD: &str = "member-password-1";

/// An answer.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    /// The body at a JSON pointer, as text.
    pub fn str(&self, pointer: &str) -> String {
        self.body
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }

    /// The body at a JSON pointer, as a UUID.
    pub fn id(&self, pointer: &str) -> Uuid {
        self.str(pointer)
            .parse()
            .unwrap_or_else(|_| panic!("no uuid at {pointer} in {}", self.body))
    }

    /// A header, as text.
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    /// Asserts a problem+json answer with this status and code.
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(
            self.header("content-type"),
            "application/problem+json",
            "{}",
            self.body
        );
        assert_eq!(self.body["code"], code, "{}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(
            self.body["title"].is_string()
                && self.body["detail"].is_string()
                && self.body["type"].is_string()
        );
    }
}

/// An app on its own database with a bootstrap administrator.
pub struct TestApp {
    pub db: TestDatabase,
    pub state: AppState,
    pub admin: String,
    pub admin_id: Uuid,
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    pub async fn with_config(adjust: impl FnOnce(&mut Config)) -> Self {
        let db = TestDatabase::new();
        let mut config = Config::for_tests(db.url());
        adjust(&mut config);
        let pool = Db::connect(db.url(), 4).unwrap();
        let state = AppState::new(config, pool);
        let mut conn = db.connect();
        let admin_id =
            whereabouts_api::store::accounts::create_admin(&mut conn, "admin", ADMIN_PASSWORD)
                .unwrap();
        let mut app = Self {
            db,
            state,
            admin: String::new(),
            admin_id,
        };
        app.admin = app.login("admin", ADMIN_PASSWORD).await;
        app
    }

    /// Moves the app's clock: every later request sees `now` (RFC 3339) as
    /// the current time, as when the day of a trip comes.
    pub fn set_now(&mut self, now: &str) {
        std::sync::Arc::make_mut(&mut self.state.config).fixed_now =
            Some(now.parse().expect("an RFC 3339 time"));
    }

    /// Sends a request built by the caller.
    pub async fn send(&self, req: TestRequest) -> Resp {
        let service = test::init_service(app::build(self.state.clone())).await;
        let res = test::call_service(&service, req.to_request()).await;
        answer(res).await
    }

    fn with_token(req: TestRequest, token: &str) -> TestRequest {
        if token.is_empty() {
            req
        } else {
            req.insert_header(("authorization", format!("Bearer {token}")))
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.send(Self::with_token(TestRequest::get().uri(path), token))
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.send(Self::with_token(
            TestRequest::post().uri(path).set_json(body),
            token,
        ))
        .await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Resp {
        self.send(Self::with_token(
            TestRequest::put().uri(path).set_json(body),
            token,
        ))
        .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.send(Self::with_token(
            TestRequest::patch().uri(path).set_json(body),
            token,
        ))
        .await
    }

    pub async fn login(&self, login: &str, password: &str) -> String {
        let res = self
            .post(
                "/api/v1/auth/login",
                "",
                json!({"login": login, "password": password}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "login {login}: {}", res.body);
        res.str("/access_token")
    }

    /// Creates a unit as the administrator.
    pub async fn unit(&self, code: &str, kind: &str, parent: Option<Uuid>) -> Uuid {
        let res = self
            .post("/api/v1/units", &self.admin, json!({"code": code, "name": format!("{code} name"), "kind": kind, "parent_id": parent}))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        res.id("/id")
    }

    /// Creates an account as the administrator, with [`PASSWORD`].
    pub async fn account(&self, login: &str, unit: Uuid, rank: &str, position: &str) -> Uuid {
        let res = self
            .post(
                "/api/v1/accounts",
                &self.admin,
                json!({"login": login, "display_name": format!("{login} name"), "unit_id": unit, "rank": rank, "position": position,
                       "employee_no": format!("E-{login}"), "mobile": "13800138000", "party_member": true, "password": PASSWORD}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        res.id("/id")
    }

    /// Grants roles as the administrator.
    pub async fn grant(&self, account: Uuid, role: &str, unit: Uuid) {
        let res = self
            .put(
                &format!("/api/v1/accounts/{account}/roles"),
                &self.admin,
                json!([{"role": role, "unit_id": unit}]),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }

    /// Counts the rows of a table.
    pub fn count(&self, table: &str) -> i64 {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.db.connect();
        diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
            .get_result::<Count>(&mut conn)
            .unwrap()
            .n
    }
}

/// A district with two bureaus: the first with a department, leaders and every
/// role; the second outside the first one's scope.
pub struct District {
    pub district: Uuid,
    pub bureau: Uuid,
    pub office: Uuid,
    pub other_bureau: Uuid,
    pub clerk: Uuid,
    pub head: Uuid,
    pub principal: Uuid,
    pub deputy: Uuid,
    pub unit_admin: Uuid,
    pub inspector: Uuid,
    pub other_admin: Uuid,
    pub outsider: Uuid,
    pub tokens: std::collections::HashMap<&'static str, String>,
}

impl District {
    pub fn token(&self, who: &str) -> &str {
        self.tokens
            .get(who)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no token for {who}"))
    }
}

/// Seeds [`District`].
pub async fn seed(app: &TestApp) -> District {
    let district = app.unit("district", "jurisdiction", None).await;
    let bureau = app.unit("bureau", "unit", Some(district)).await;
    let office = app.unit("office", "department", Some(bureau)).await;
    let other_bureau = app.unit("other-bureau", "unit", Some(district)).await;
    let clerk = app.account("clerk", office, "clerk", "staff").await;
    let head = app
        .account("head", office, "section", "department_head")
        .await;
    let principal = app
        .account("principal", bureau, "bureau", "principal")
        .await;
    let deputy = app.account("deputy", bureau, "division", "deputy").await;
    let unit_admin = app.account("unit-admin", bureau, "section", "staff").await;
    let inspector = app.account("inspector", bureau, "section", "staff").await;
    let other_admin = app
        .account("other-admin", other_bureau, "section", "staff")
        .await;
    let outsider = app
        .account("outsider", other_bureau, "clerk", "staff")
        .await;
    app.grant(unit_admin, "unit_admin", bureau).await;
    app.grant(inspector, "inspector", bureau).await;
    app.grant(other_admin, "unit_admin", other_bureau).await;
    let res = app
        .put(
            &format!("/api/v1/units/{office}/leaders"),
            &app.admin,
            json!({"principal_id": head, "deputies": []}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = app
        .put(&format!("/api/v1/units/{bureau}/leaders"), &app.admin, json!({"principal_id": principal, "deputies": [{"account_id": deputy, "in_charge_of": [office]}]}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let mut tokens = std::collections::HashMap::new();
    for login in [
        "clerk",
        "head",
        "principal",
        "deputy",
        "unit-admin",
        "inspector",
        "other-admin",
        "outsider",
    ] {
        tokens.insert(login, app.login(login, PASSWORD).await);
    }
    tokens.insert("admin", app.admin.clone());
    District {
        district,
        bureau,
        office,
        other_bureau,
        clerk,
        head,
        principal,
        deputy,
        unit_admin,
        inspector,
        other_admin,
        outsider,
        tokens,
    }
}

impl TestApp {
    /// A digest of every row of every table of the application: equal before
    /// and after a request means the request changed nothing. The access log
    /// is left out: it records every bulk read and every refused request, by
    /// design (`tests/access_log.rs` checks what it holds).
    pub fn fingerprint(&self) -> String {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        #[derive(QueryableByName)]
        struct Digest {
            #[diesel(sql_type = diesel::sql_types::Text)]
            digest: String,
        }
        let mut conn = self.db.connect();
        let tables = diesel::sql_query(
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE' \
             AND table_name NOT LIKE '\\_\\_diesel%' AND table_name <> 'access_log' ORDER BY 1",
        )
        .load::<Name>(&mut conn)
        .unwrap();
        let mut out = String::new();
        for table in tables {
            let digest = diesel::sql_query(format!(
                "SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '-') AS digest FROM {} t",
                table.name
            ))
            .get_result::<Digest>(&mut conn)
            .unwrap()
            .digest;
            out.push_str(&format!("{}={digest};", table.name));
        }
        out
    }
}

impl TestApp {
    /// Sends a request whose body is `payload` as it streams (no
    /// `Content-Length` unless the caller set one).
    pub async fn send_with_payload(
        &self,
        req: TestRequest,
        payload: actix_web::dev::Payload,
    ) -> Resp {
        let service = test::init_service(app::build(self.state.clone())).await;
        let (req, _) = req.to_request().replace_payload(payload);
        let res = test::call_service(&service, req).await;
        answer(res).await
    }
}

/// An answer read whole: JSON when it parses, else text.
pub async fn answer<B: actix_web::body::MessageBody>(
    res: actix_web::dev::ServiceResponse<B>,
) -> Resp {
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = test::read_body(res).await;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Resp {
        status,
        headers,
        body,
    }
}

/// [`seed`] at a fixed time, with a report-only policy on the bureau.
pub async fn reporting_district(now: &str) -> (TestApp, District) {
    let app = TestApp::with_config(|c| c.fixed_now = now.parse().ok()).await;
    let d = seed(&app).await;
    let policy = json!({"rules": [
        {"id": "all", "requirement": "report", "form": "online", "notice": {"days": 1}}
    ]});
    let res = app
        .put(
            &format!("/api/v1/units/{}/policy", d.bureau),
            d.token("admin"),
            policy,
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    (app, d)
}
