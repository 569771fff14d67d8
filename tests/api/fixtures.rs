//! Fixtures for organisations and accounts: an organisation tree, accounts with roles and
//! personal tokens, and web sign-in.
//!
//! The tree (every test that calls [`TestApp::tree`] gets a fresh one):
//!
//! ```text
//! province (root)
//! ├── city
//! │   └── county
//! └── sibling_city
//! ```

#![allow(dead_code)]

use crate::common::TestApp;
use serde_json::{Value, json};

pub const PASSWORD: &str = "测试密码-correct-horse";

#[derive(Debug, Clone)]
pub struct Tree {
    pub province: String,
    pub city: String,
    pub county: String,
    pub sibling_city: String,
    /// The root's first administrator (made by bootstrap).
    pub root_admin: Account,
}

/// An account with a personal API token.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub login: String,
    pub token: String,
}

/// Requests as an account (by its personal token).
pub struct As<'a> {
    pub app: &'a TestApp,
    pub token: &'a str,
}

impl As<'_> {
    /// `GET path` as JSON.
    pub async fn json(&self, path: &str) -> Value {
        self.get(path).send().await.unwrap().json().await.unwrap()
    }

    /// `POST path` with a JSON body; the status and the JSON answer (`null` when there is none).
    pub async fn step(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.post(path).json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The states of lesson `id`'s revisions, oldest first.
    pub async fn revision_states(&self, id: &str) -> Vec<String> {
        let revs = self.json(&format!("/api/v1/lessons/{id}/revisions")).await;
        revs["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["state"].as_str().unwrap().to_owned())
            .collect()
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.app
            .client
            .get(self.app.url(path))
            .bearer_auth(self.token)
    }
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.app
            .client
            .post(self.app.url(path))
            .bearer_auth(self.token)
    }
    pub fn put(&self, path: &str) -> reqwest::RequestBuilder {
        self.app
            .client
            .put(self.app.url(path))
            .bearer_auth(self.token)
    }
    pub fn patch(&self, path: &str) -> reqwest::RequestBuilder {
        self.app
            .client
            .patch(self.app.url(path))
            .bearer_auth(self.token)
    }
    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.app
            .client
            .delete(self.app.url(path))
            .bearer_auth(self.token)
    }
}

impl TestApp {
    /// Takes lesson `id` through review and publication: `editor` submits (to the owner's
    /// subtree), `reviewer` approves, `editor` publishes. Returns the published lesson.
    pub async fn through_review(&self, editor: &Account, reviewer: &Account, id: &str) -> Value {
        let (ed, rev) = (self.r#as(editor), self.r#as(reviewer));
        let (s, v) = ed
            .step(&format!("/api/v1/lessons/{id}/submit"), json!({}))
            .await;
        assert_eq!(s, 200, "submit: {v}");
        let body = json!({ "revision": v["revision"] });
        let (s, v) = rev
            .step(&format!("/api/v1/lessons/{id}/approve"), body)
            .await;
        assert_eq!(s, 200, "approve: {v}");
        let (s, v) = ed
            .step(&format!("/api/v1/lessons/{id}/publish"), json!({}))
            .await;
        assert_eq!(s, 200, "publish: {v}");
        v
    }

    /// Requests as `a`.
    pub fn r#as<'a>(&'a self, a: &'a Account) -> As<'a> {
        As {
            app: self,
            token: &a.token,
        }
    }

    /// A personal token for user `id`, stored directly.
    pub async fn personal_token(&self, user_id: &str) -> String {
        let token = lectern::domain::token::generate();
        let mut tx = self.db().begin_write().await.unwrap();
        lectern::db::Db::create_personal_token_in(
            &mut tx,
            user_id,
            "test",
            &lectern::domain::token::hash(&token),
            None,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        token
    }

    /// A first report of Lectern's player by the account with personal token `token`: the
    /// first minute of `lesson` (of 100 s) played — what a first report may add.
    pub async fn played_a_minute(&self, token: &str, lesson: &str) {
        let r = self
            .client
            .put(self.url(&format!("/api/v1/me/positions/{lesson}")))
            .bearer_auth(token)
            .json(&json!({ "position_ms": 60_000, "duration_ms": 100_000,
                            "played": [{ "start_ms": 0, "end_ms": 60_000 }] }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    }

    /// Bootstraps the root and builds the tree above.
    pub async fn tree(&self) -> Tree {
        let (root, admin_id) = lectern::cli::bootstrap(
            self.db(),
            "省委党校",
            "province",
            Some("440000"),
            "root-admin",
            "省管理员",
            PASSWORD,
        )
        .await
        .expect("bootstrap");
        let root_admin = Account {
            token: self.personal_token(&admin_id).await,
            id: admin_id,
            login: "root-admin".into(),
        };
        let city = self.org(&root.id, "广州市委党校", "city", "440100").await;
        let county = self.org(&city, "天河区委党校", "county", "440106").await;
        let sibling_city = self.org(&root.id, "深圳市委党校", "city", "440300").await;
        Tree {
            province: root.id,
            city,
            county,
            sibling_city,
            root_admin,
        }
    }

    /// Creates an organisation with the operator token; its id.
    pub async fn org(&self, parent: &str, name: &str, level: &str, region: &str) -> String {
        let r = self
            .post("/api/v1/orgs")
            .json(&json!({ "parent_id": parent, "name": name, "level": level, "region_code": region }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Creates an account holding `grants` (role, organisation) with the operator token, and a
    /// personal token for it.
    pub async fn account(&self, login: &str, grants: &[(&str, &str)]) -> Account {
        let grants: Vec<Value> = grants
            .iter()
            .map(|(role, org)| json!({ "role": role, "org_id": org }))
            .collect();
        let r = self
            .post("/api/v1/users")
            .json(&json!({ "login": login, "display_name": login, "password": PASSWORD, "grants": grants }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let id = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        Account {
            token: self.personal_token(&id).await,
            id,
            login: login.to_owned(),
        }
    }

    /// A client with its own cookie jar, not signed in.
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// The HTML of page `path` as `client` (a browser with its cookies) gets it.
    pub async fn page(&self, client: &reqwest::Client, path: &str) -> String {
        client
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The login form's hidden CSRF field, fetched with `client` (which keeps the cookie).
    pub async fn login_csrf(&self, client: &reqwest::Client) -> String {
        let page = self.page(client, "/login").await;
        // The login form's own field (a signed-in page also has the logout form's).
        let form = page.find("action=\"/login\"").expect("a login form");
        hidden(&page[form..], "csrf").expect("the login form has a csrf field")
    }

    /// Signs `client` in as `login`; the response to the form post.
    pub async fn sign_in(
        &self,
        client: &reqwest::Client,
        login: &str,
        password: &str,
    ) -> reqwest::Response {
        let csrf = self.login_csrf(client).await;
        client
            .post(self.url("/login"))
            .form(&[
                ("login", login),
                ("password", password),
                ("csrf", &csrf),
                ("next", "/"),
            ])
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token of `client`'s session, from `/api/v1/me`.
    pub async fn session_csrf(&self, client: &reqwest::Client) -> String {
        let me: Value = client
            .get(self.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        me["csrf_token"]
            .as_str()
            .expect("a session has a csrf token")
            .to_owned()
    }
}

/// The value of the hidden input `name` in `html`.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}
