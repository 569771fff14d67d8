//! The authorisation matrix: every endpoint × caller × relation of the target to the caller's
//! organisation, checked against a declarative table written from the rules in the doc comment
//! of `domain::visibility` (never by asking that module), in one table-driven test.
//!
//! Callers: an administrator, a reviewer, an editor and a member, each granted on the city, plus
//! anonymous callers and the operator token. Relations: the target belongs to the city itself
//! (own), the county below it (child), the province above it (parent) or the sibling city.
//!
//! Every row gets the state it needs, made fresh with the operator token (a draft owned by the
//! target organisation; submitted for approve/reject; approved for publish; published for
//! withdraw/recommend). Allowed means 2xx (for listings: the target appears); denied means
//! 401/403/404 — 404 where the caller may not even read the lesson, 403 where they may read it
//! but not do this, and then the refusal must be in the audit log as `denied.*`.

use crate::common::{TestApp, mp4};
use crate::fixtures::{Account, PASSWORD, Tree};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Anonymous,
    Member,
    Editor,
    Reviewer,
    Administrator,
    Operator,
}

impl Who {
    const ALL: [Who; 6] = [
        Who::Anonymous,
        Who::Member,
        Who::Editor,
        Who::Reviewer,
        Who::Administrator,
        Who::Operator,
    ];

    fn name(self) -> &'static str {
        match self {
            Who::Anonymous => "anonymous",
            Who::Member => "member",
            Who::Editor => "editor",
            Who::Reviewer => "reviewer",
            Who::Administrator => "administrator",
            Who::Operator => "operator",
        }
    }

    /// Staff (administrators, reviewers, editors) read every lesson of their subtree.
    fn staff(self) -> bool {
        matches!(self, Who::Administrator | Who::Reviewer | Who::Editor)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rel {
    Own,
    Child,
    Parent,
    Sibling,
}

impl Rel {
    const ALL: [Rel; 4] = [Rel::Own, Rel::Child, Rel::Parent, Rel::Sibling];

    fn name(self) -> &'static str {
        match self {
            Rel::Own => "own",
            Rel::Child => "child",
            Rel::Parent => "parent",
            Rel::Sibling => "sibling",
        }
    }

    fn org(self, tree: &Tree) -> &str {
        match self {
            Rel::Own => &tree.city,
            Rel::Child => &tree.county,
            Rel::Parent => &tree.province,
            Rel::Sibling => &tree.sibling_city,
        }
    }

    fn level(self) -> &'static str {
        match self {
            Rel::Parent => "province",
            Rel::Child => "county",
            Rel::Own | Rel::Sibling => "city",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ep {
    LessonGetDraft,
    LessonGetPublished,
    LessonCreateIn,
    LessonPatch,
    LessonDelete,
    ListDrafts,
    Submit,
    Approve,
    Reject,
    Publish,
    Withdraw,
    Recommend,
    Revisions,
    AssetUpload,
    TusCreate,
    OrgGet,
    OrgCreateChild,
    OrgPatch,
    OrgMove,
    UserGet,
    UserCreate,
    GrantAdd,
    GrantRemove,
    AuditRead,
    ReviewQueue,
}

impl Ep {
    const ALL: [Ep; 25] = [
        Ep::LessonGetDraft,
        Ep::LessonGetPublished,
        Ep::LessonCreateIn,
        Ep::LessonPatch,
        Ep::LessonDelete,
        Ep::ListDrafts,
        Ep::Submit,
        Ep::Approve,
        Ep::Reject,
        Ep::Publish,
        Ep::Withdraw,
        Ep::Recommend,
        Ep::Revisions,
        Ep::AssetUpload,
        Ep::TusCreate,
        Ep::OrgGet,
        Ep::OrgCreateChild,
        Ep::OrgPatch,
        Ep::OrgMove,
        Ep::UserGet,
        Ep::UserCreate,
        Ep::GrantAdd,
        Ep::GrantRemove,
        Ep::AuditRead,
        Ep::ReviewQueue,
    ];

    fn label(self) -> &'static str {
        match self {
            Ep::LessonGetDraft => "GET /lessons/{id} (draft)",
            Ep::LessonGetPublished => "GET /lessons/{id} (published)",
            Ep::LessonCreateIn => "POST /lessons {org_id}",
            Ep::LessonPatch => "PATCH /lessons/{id} (draft)",
            Ep::LessonDelete => "DELETE /lessons/{id} (draft)",
            Ep::ListDrafts => "GET /lessons?status=draft (draft listed)",
            Ep::Submit => "POST /lessons/{id}/submit (draft)",
            Ep::Approve => "POST /lessons/{id}/approve (submitted)",
            Ep::Reject => "POST /lessons/{id}/reject (submitted)",
            Ep::Publish => "POST /lessons/{id}/publish (approved)",
            Ep::Withdraw => "POST /lessons/{id}/withdraw (published)",
            Ep::Recommend => "POST /lessons/{id}/recommend (published)",
            Ep::Revisions => "GET /lessons/{id}/revisions (draft)",
            Ep::AssetUpload => "POST /lessons/{id}/assets (draft)",
            Ep::TusCreate => "POST /uploads (draft)",
            Ep::OrgGet => "GET /orgs/{id}",
            Ep::OrgCreateChild => "POST /orgs {parent_id}",
            Ep::OrgPatch => "PATCH /orgs/{id}",
            Ep::OrgMove => "POST /orgs/{id}/move",
            Ep::UserGet => "GET /users/{id}",
            Ep::UserCreate => "POST /users {grant on org}",
            Ep::GrantAdd => "POST /users/{id}/grants",
            Ep::GrantRemove => "DELETE /users/{id}/grants/{role}/{org}",
            Ep::AuditRead => "GET /audit (org's entries listed)",
            Ep::ReviewQueue => "GET /review/queue (submission listed)",
        }
    }

    /// Endpoints that answer 200 either way and show or hide the target.
    fn is_listing(self) -> bool {
        matches!(self, Ep::ListDrafts | Ep::AuditRead | Ep::ReviewQueue)
    }

    /// Endpoints acting on one lesson, and whether that lesson is published.
    fn lesson_target(self) -> Option<bool> {
        match self {
            Ep::LessonGetDraft
            | Ep::LessonPatch
            | Ep::LessonDelete
            | Ep::Submit
            | Ep::Approve
            | Ep::Reject
            | Ep::Publish
            | Ep::Revisions
            | Ep::AssetUpload
            | Ep::TusCreate => Some(false),
            Ep::LessonGetPublished | Ep::Withdraw | Ep::Recommend => Some(true),
            _ => None,
        }
    }
}

const NONE: &[Rel] = &[];
const DOWN: &[Rel] = &[Rel::Own, Rel::Child];
const STRICTLY_BELOW: &[Rel] = &[Rel::Child];
const EVERY: &[Rel] = &[Rel::Own, Rel::Child, Rel::Parent, Rel::Sibling];

/// The expectation, written from the rules of `domain::visibility`:
/// - a role granted on an organisation applies to it and its whole subtree, never above or beside
///   (so a role on the city reaches own and child, never parent or sibling);
/// - anonymous callers and members read published lessons only; staff also read every lesson of
///   their subtrees (and their revisions);
/// - editors create, edit, upload to, submit, publish (once approved), withdraw and recommend;
///   reviewers approve and reject, publish, withdraw and recommend;
/// - administrators manage organisations and accounts and read the audit log; organisations
///   themselves are changed and moved only from strictly above (`may_restructure`);
/// - any role lets one see the organisations of one's subtree;
/// - operators: everything.
fn allowed(ep: Ep, who: Who) -> &'static [Rel] {
    use Who::*;
    if who == Operator {
        return EVERY;
    }
    match ep {
        Ep::LessonGetPublished => EVERY,
        Ep::LessonGetDraft | Ep::ListDrafts | Ep::Revisions => {
            if who.staff() {
                DOWN
            } else {
                NONE
            }
        }
        Ep::LessonCreateIn
        | Ep::LessonPatch
        | Ep::LessonDelete
        | Ep::Submit
        | Ep::AssetUpload
        | Ep::TusCreate => {
            if who == Editor {
                DOWN
            } else {
                NONE
            }
        }
        Ep::Approve | Ep::Reject | Ep::ReviewQueue => {
            if who == Reviewer {
                DOWN
            } else {
                NONE
            }
        }
        Ep::Publish | Ep::Withdraw | Ep::Recommend => {
            if matches!(who, Editor | Reviewer) {
                DOWN
            } else {
                NONE
            }
        }
        Ep::OrgGet => {
            if who == Anonymous {
                NONE
            } else {
                DOWN
            }
        }
        Ep::OrgCreateChild
        | Ep::UserGet
        | Ep::UserCreate
        | Ep::GrantAdd
        | Ep::GrantRemove
        | Ep::AuditRead => {
            if who == Administrator {
                DOWN
            } else {
                NONE
            }
        }
        Ep::OrgPatch | Ep::OrgMove => {
            if who == Administrator {
                STRICTLY_BELOW
            } else {
                NONE
            }
        }
    }
}

/// Cells where an allowed step legitimately conflicts with the state and no state avoids it:
/// the province is the root, so a lesson it publishes already reaches the whole tree (nothing
/// to recommend to), and the root cannot be moved below anything (everything is its subtree).
fn conflict_expected(ep: Ep, who: Who, rel: Rel) -> bool {
    who == Who::Operator && rel == Rel::Parent && matches!(ep, Ep::Recommend | Ep::OrgMove)
}

/// Whether `who` may read a lesson of `rel` (published or not), by the same rules.
fn may_read_lesson(who: Who, rel: Rel, published: bool) -> bool {
    published || who == Who::Operator || (who.staff() && DOWN.contains(&rel))
}

#[derive(Debug, Clone)]
struct Cell {
    status: u16,
    /// For listings: whether the target was listed.
    listed: Option<bool>,
    expected_allow: bool,
    problem: Option<String>,
}

impl Cell {
    fn allowed(&self) -> bool {
        match self.listed {
            Some(l) => l,
            None => (200..300).contains(&self.status) || self.status == 409,
        }
    }

    fn text(&self) -> String {
        let mark = if self.allowed() { "✓" } else { "✗" };
        let listed = match self.listed {
            Some(true) => "+",
            Some(false) => "-",
            None => "",
        };
        let bad = if self.problem.is_some() { "!" } else { " " };
        format!("{bad}{mark}{}{listed}", self.status)
    }
}

struct Ctx<'a> {
    t: &'a TestApp,
    tree: Tree,
    accounts: BTreeMap<Who, Account>,
    /// A member account in each organisation: the targets of the account endpoints.
    targets: BTreeMap<Rel, String>,
    /// An organisation under the city, a destination for moves inside the city's subtree.
    city_annex: String,
    counter: std::cell::Cell<u32>,
}

impl Ctx<'_> {
    fn next(&self) -> u32 {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        n
    }

    fn req(&self, who: Who, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let b = self.t.client.request(method, self.t.url(path));
        match who {
            Who::Anonymous => b,
            Who::Operator => b.bearer_auth(&self.t.token),
            w => b.bearer_auth(&self.accounts[&w].token),
        }
    }

    async fn op_json(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let r = self
            .req(Who::Operator, method, path)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "setup {path}: {status} {v}");
        v
    }

    /// A fresh draft video lesson owned by `org`.
    async fn draft(&self, org: &str) -> String {
        let n = self.next();
        let v = self
            .op_json(
                reqwest::Method::POST,
                "/api/v1/lessons",
                json!({ "title": format!("授权矩阵第{n}课"), "kind": "video",
                        "tags": [format!("row{n}")], "org_id": org }),
            )
            .await;
        v["id"].as_str().unwrap().to_owned()
    }

    /// A fresh lesson of `org`, submitted for review to its own organisation; (id, revision).
    async fn submitted(&self, org: &str) -> (String, i64) {
        let id = self.draft(org).await;
        let v = self
            .op_json(
                reqwest::Method::POST,
                &format!("/api/v1/lessons/{id}/submit"),
                json!({}),
            )
            .await;
        assert_eq!(v["state"], "submitted", "{v}");
        (id, v["revision"].as_i64().unwrap())
    }

    /// A fresh lesson of `org` with an approved revision, not yet published.
    async fn approved(&self, org: &str) -> String {
        let (id, revision) = self.submitted(org).await;
        let v = self
            .op_json(
                reqwest::Method::POST,
                &format!("/api/v1/lessons/{id}/approve"),
                json!({ "revision": revision }),
            )
            .await;
        assert_eq!(v["state"], "approved", "{v}");
        id
    }

    /// A fresh published lesson of `org`.
    async fn published(&self, org: &str) -> String {
        let id = self.approved(org).await;
        let v = self
            .op_json(
                reqwest::Method::POST,
                &format!("/api/v1/lessons/{id}/publish"),
                json!({}),
            )
            .await;
        assert_eq!(v["status"], "published", "{v}");
        id
    }

    async fn denied_count(&self, who: Who) -> i64 {
        let Some(a) = self.accounts.get(&who) else {
            return 0;
        };
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action LIKE 'denied.%' AND actor_id = $1",
        )
        .bind(&a.id)
        .fetch_one(self.t.db().pool())
        .await
        .unwrap()
    }

    async fn listed(&self, r: reqwest::Response, key: &str, id: &str) -> (u16, Option<bool>) {
        let status = r.status().as_u16();
        if status != 200 {
            return (status, Some(false));
        }
        let v: Value = r.json().await.unwrap();
        let found = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i[key].as_str() == Some(id));
        (status, Some(found))
    }

    /// Runs one row: prepares the state, makes the request, returns (status, listed, target).
    async fn run(&self, ep: Ep, who: Who, rel: Rel) -> (u16, Option<bool>) {
        use reqwest::Method as M;
        let org = rel.org(&self.tree).to_owned();
        let send = |r: reqwest::RequestBuilder| async move {
            let r = r.send().await.unwrap();
            (r.status().as_u16(), None)
        };
        match ep {
            Ep::LessonGetDraft => {
                let id = self.draft(&org).await;
                send(self.req(who, M::GET, &format!("/api/v1/lessons/{id}"))).await
            }
            Ep::LessonGetPublished => {
                let id = self.published(&org).await;
                send(self.req(who, M::GET, &format!("/api/v1/lessons/{id}"))).await
            }
            Ep::LessonCreateIn => {
                send(self.req(who, M::POST, "/api/v1/lessons").json(&json!({
                    "title": "新建课程", "kind": "audio", "org_id": org,
                })))
                .await
            }
            Ep::LessonPatch => {
                let id = self.draft(&org).await;
                let (s, l) = send(
                    self.req(who, M::PATCH, &format!("/api/v1/lessons/{id}"))
                        .json(&json!({ "title": "改过的标题" })),
                )
                .await;
                // A refused edit changes nothing.
                let v = self
                    .op_json(M::GET, &format!("/api/v1/lessons/{id}"), Value::Null)
                    .await;
                let changed = v["title"] == "改过的标题";
                assert_eq!(
                    changed,
                    (200..300).contains(&s),
                    "{ep:?} {who:?} {rel:?}: {v}"
                );
                (s, l)
            }
            Ep::LessonDelete => {
                let id = self.draft(&org).await;
                let (s, l) = send(self.req(who, M::DELETE, &format!("/api/v1/lessons/{id}"))).await;
                let gone = self
                    .req(Who::Operator, M::GET, &format!("/api/v1/lessons/{id}"))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    == 404;
                assert_eq!(gone, (200..300).contains(&s), "{ep:?} {who:?} {rel:?}");
                (s, l)
            }
            Ep::ListDrafts => {
                let id = self.draft(&org).await;
                let v = self
                    .op_json(M::GET, &format!("/api/v1/lessons/{id}"), Value::Null)
                    .await;
                let tag = v["tags"][0].as_str().unwrap().to_owned();
                let r = self
                    .req(who, M::GET, "/api/v1/lessons")
                    .query(&[("status", "draft"), ("tag", tag.as_str())])
                    .send()
                    .await
                    .unwrap();
                self.listed(r, "id", &id).await
            }
            Ep::Submit => {
                let id = self.draft(&org).await;
                send(
                    self.req(who, M::POST, &format!("/api/v1/lessons/{id}/submit"))
                        .json(&json!({})),
                )
                .await
            }
            Ep::Approve | Ep::Reject => {
                let (id, revision) = self.submitted(&org).await;
                let (verb, body) = if ep == Ep::Approve {
                    ("approve", json!({ "revision": revision }))
                } else {
                    (
                        "reject",
                        json!({ "revision": revision, "comment": "请补充参考资料" }),
                    )
                };
                send(
                    self.req(who, M::POST, &format!("/api/v1/lessons/{id}/{verb}"))
                        .json(&body),
                )
                .await
            }
            Ep::Publish => {
                let id = self.approved(&org).await;
                send(
                    self.req(who, M::POST, &format!("/api/v1/lessons/{id}/publish"))
                        .json(&json!({})),
                )
                .await
            }
            Ep::Withdraw => {
                let id = self.published(&org).await;
                send(
                    self.req(who, M::POST, &format!("/api/v1/lessons/{id}/withdraw"))
                        .json(&json!({})),
                )
                .await
            }
            Ep::Recommend => {
                let id = self.published(&org).await;
                send(
                    self.req(who, M::POST, &format!("/api/v1/lessons/{id}/recommend"))
                        .json(&json!({ "note": "值得全省推广" })),
                )
                .await
            }
            Ep::Revisions => {
                let id = self.draft(&org).await;
                send(self.req(who, M::GET, &format!("/api/v1/lessons/{id}/revisions"))).await
            }
            Ep::AssetUpload => {
                let id = self.draft(&org).await;
                send(
                    self.req(who, M::POST, &format!("/api/v1/lessons/{id}/assets"))
                        .query(&[("role", "master"), ("filename", "第一讲.mp4")])
                        .body(mp4(4096)),
                )
                .await
            }
            Ep::TusCreate => {
                let id = self.draft(&org).await;
                let meta = format!(
                    "lesson_id {},role {},filename {}",
                    STANDARD.encode(&id),
                    STANDARD.encode("master"),
                    STANDARD.encode("第一讲.mp4")
                );
                send(
                    self.req(who, M::POST, "/api/v1/uploads")
                        .header("tus-resumable", "1.0.0")
                        .header("upload-length", "4096")
                        .header("upload-metadata", meta),
                )
                .await
            }
            Ep::OrgGet => send(self.req(who, M::GET, &format!("/api/v1/orgs/{org}"))).await,
            Ep::OrgCreateChild => {
                let n = self.next();
                send(self.req(who, M::POST, "/api/v1/orgs").json(&json!({
                    "parent_id": org, "name": format!("分校{n}"), "level": "branch",
                })))
                .await
            }
            Ep::OrgPatch => {
                // The level it already has: allowed or not, the tree stays as it is.
                send(
                    self.req(who, M::PATCH, &format!("/api/v1/orgs/{org}"))
                        .json(&json!({ "level": rel.level() })),
                )
                .await
            }
            Ep::OrgMove => {
                // Move the organisation itself; a destination the move could legitimately go to.
                let (dest, home) = match rel {
                    Rel::Own => (self.tree.sibling_city.clone(), self.tree.province.clone()),
                    Rel::Child => (self.city_annex.clone(), self.tree.city.clone()),
                    Rel::Parent => (self.city_annex.clone(), String::new()),
                    Rel::Sibling => (self.city_annex.clone(), self.tree.province.clone()),
                };
                let (s, l) = send(
                    self.req(who, M::POST, &format!("/api/v1/orgs/{org}/move"))
                        .json(&json!({ "parent_id": dest })),
                )
                .await;
                if (200..300).contains(&s) {
                    // Put the tree back for the rows that follow.
                    self.op_json(
                        M::POST,
                        &format!("/api/v1/orgs/{org}/move"),
                        json!({ "parent_id": home }),
                    )
                    .await;
                }
                (s, l)
            }
            Ep::UserGet => {
                let uid = &self.targets[&rel];
                send(self.req(who, M::GET, &format!("/api/v1/users/{uid}"))).await
            }
            Ep::UserCreate => {
                let n = self.next();
                send(self.req(who, M::POST, "/api/v1/users").json(&json!({
                    "login": format!("new-user-{n}"), "display_name": "新用户",
                    "password": PASSWORD, "grants": [{ "role": "member", "org_id": org }],
                })))
                .await
            }
            Ep::GrantAdd => {
                let uid = &self.targets[&rel];
                send(
                    self.req(who, M::POST, &format!("/api/v1/users/{uid}/grants"))
                        .json(&json!({ "role": "reviewer", "org_id": org })),
                )
                .await
            }
            Ep::GrantRemove => {
                let uid = self.targets[&rel].clone();
                self.op_json(
                    M::POST,
                    &format!("/api/v1/users/{uid}/grants"),
                    json!({ "role": "editor", "org_id": org }),
                )
                .await;
                let (s, l) = send(self.req(
                    who,
                    M::DELETE,
                    &format!("/api/v1/users/{uid}/grants/editor/{org}"),
                ))
                .await;
                let v = self
                    .op_json(M::GET, &format!("/api/v1/users/{uid}"), Value::Null)
                    .await;
                let still = v["grants"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|g| g["role"] == "editor" && g["org_id"] == org.as_str());
                assert_eq!(
                    still,
                    !(200..300).contains(&s),
                    "{ep:?} {who:?} {rel:?}: {v}"
                );
                (s, l)
            }
            Ep::AuditRead => {
                // A fresh entry of the target organisation, then: does the caller see it?
                let id = self.draft(&org).await;
                let r = self
                    .req(who, M::GET, "/api/v1/audit")
                    .query(&[("action", "lesson.create"), ("limit", "50")])
                    .send()
                    .await
                    .unwrap();
                self.listed(r, "target_id", &id).await
            }
            Ep::ReviewQueue => {
                let (id, _) = self.submitted(&org).await;
                let r = self
                    .req(who, M::GET, "/api/v1/review/queue")
                    .send()
                    .await
                    .unwrap();
                self.listed(r, "lesson_id", &id).await
            }
        }
    }
}

#[tokio::test]
async fn every_endpoint_allows_exactly_what_the_rules_say() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let mut accounts = BTreeMap::new();
    for (who, role) in [
        (Who::Administrator, "administrator"),
        (Who::Reviewer, "reviewer"),
        (Who::Editor, "editor"),
        (Who::Member, "member"),
    ] {
        let a = t
            .account(&format!("city-{role}"), &[(role, &tree.city)])
            .await;
        accounts.insert(who, a);
    }
    let mut targets = BTreeMap::new();
    for rel in Rel::ALL {
        let a = t
            .account(
                &format!("target-{}", rel.name()),
                &[("member", rel.org(&tree))],
            )
            .await;
        targets.insert(rel, a.id);
    }
    let city_annex = t
        .org(&tree.city, "广州市委党校分校", "branch", "440100")
        .await;
    let ctx = Ctx {
        t: &t,
        tree,
        accounts,
        targets,
        city_annex,
        counter: std::cell::Cell::new(0),
    };

    let mut cells: BTreeMap<(Ep, Who, Rel), Cell> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    // Moves first: a subtree with lessons awaiting review cannot move (their approval chains
    // follow the tree), and later rows leave submissions behind.
    let order =
        std::iter::once(Ep::OrgMove).chain(Ep::ALL.into_iter().filter(|e| *e != Ep::OrgMove));
    for ep in order {
        for who in Who::ALL {
            for rel in Rel::ALL {
                let expected_allow = allowed(ep, who).contains(&rel);
                let before = ctx.denied_count(who).await;
                let (status, listed) = ctx.run(ep, who, rel).await;
                let after = ctx.denied_count(who).await;
                let mut cell = Cell {
                    status,
                    listed,
                    expected_allow,
                    problem: None,
                };
                let got_allow = cell.allowed();
                let problem = if !matches!(status, 200..=299 | 401 | 403 | 404 | 409) {
                    Some(format!("unexpected status {status}"))
                } else if got_allow && !expected_allow {
                    Some("UNEXPECTED ALLOW".to_owned())
                } else if !got_allow && expected_allow {
                    Some("unexpected deny".to_owned())
                } else if status == 409 && !conflict_expected(ep, who, rel) {
                    Some("409: the prepared state conflicts".to_owned())
                } else if !expected_allow && !ep.is_listing() {
                    // The right refusal: 401 without credentials, 404 for a lesson one may not
                    // even read (its existence must not leak), 403 otherwise — and audited.
                    let readable = ep
                        .lesson_target()
                        .map(|published| may_read_lesson(who, rel, published));
                    match (who, readable) {
                        (Who::Anonymous, _) if status != 401 && status != 404 => {
                            Some(format!("anonymous refused with {status}"))
                        }
                        (Who::Anonymous, _) => None,
                        (_, Some(false)) if status != 404 => Some(format!(
                            "{status} for a lesson the caller may not read (expected 404)"
                        )),
                        _ if status == 403 && after != before + 1 => Some(format!(
                            "403 without one denied.* audit entry ({} new)",
                            after - before
                        )),
                        _ => None,
                    }
                } else {
                    None
                };
                if let Some(p) = &problem {
                    failures.push(format!(
                        "{} as {} on {}: {} (status {status}, listed {listed:?})",
                        ep.label(),
                        who.name(),
                        rel.name(),
                        p
                    ));
                }
                cell.problem = problem;
                cells.insert((ep, who, rel), cell);
            }
        }
    }

    let unexpected_allows = cells
        .values()
        .filter(|c| c.allowed() && !c.expected_allow)
        .count();
    let unexpected_denies = cells
        .values()
        .filter(|c| !c.allowed() && c.expected_allow)
        .count();
    let mut table = String::new();
    writeln!(
        table,
        "{} rows; unexpected allows: {unexpected_allows}; unexpected denies: \
         {unexpected_denies}; other problems: {}",
        cells.len(),
        failures.len() - unexpected_allows - unexpected_denies
    )
    .unwrap();
    writeln!(
        table,
        "cells: ✓ allowed / ✗ denied, status, +/- listed or not; ! marks a cell that is wrong"
    )
    .unwrap();
    for ep in Ep::ALL {
        writeln!(table, "\n{}", ep.label()).unwrap();
        write!(table, "  {:<14}", "").unwrap();
        for rel in Rel::ALL {
            write!(table, "{:>10}", rel.name()).unwrap();
        }
        writeln!(table).unwrap();
        for who in Who::ALL {
            write!(table, "  {:<14}", who.name()).unwrap();
            for rel in Rel::ALL {
                write!(table, "{:>10}", cells[&(ep, who, rel)].text()).unwrap();
            }
            writeln!(table).unwrap();
        }
    }
    if !failures.is_empty() {
        panic!(
            "the authorisation matrix has {} wrong cells:\n{}\n\n{table}",
            failures.len(),
            failures.join("\n")
        );
    }
    // Visible in `--nocapture` runs: the whole matrix as observed.
    println!("{table}");
}
