//! The organisation tree (see `domain::org` for paths).

use super::{Db, Tx, new_id, now_ms};
use crate::domain::org;
use sqlx::AssertSqlSafe;

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct OrgRecord {
    pub id: String,
    pub parent_id: Option<String>,
    pub name: String,
    pub level: org::OrgLevel,
    pub region_code: Option<String>,
    #[serde(skip)]
    pub path: String,
    /// Whether a reviewer of this organisation must approve what passes through its level.
    #[sqlx(try_from = "i64")]
    pub review_required: Flag,
    /// Whether a reviewer may approve a revision they submitted themselves.
    #[sqlx(try_from = "i64")]
    pub self_approval: Flag,
    /// The share of a lesson (percent, 50–100) a member must have played for it to count as
    /// learned, for the lessons this organisation owns.
    pub completion_percent: i64,
    pub created_at: i64,
}

/// A BIGINT 0/1 column read as a boolean (both backends store flags this way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Flag(pub bool);

impl From<i64> for Flag {
    fn from(v: i64) -> Self {
        Self(v != 0)
    }
}

/// The fields of a new organisation or of a change to one.
#[derive(Debug, Clone)]
pub struct OrgFields {
    pub name: String,
    pub level: org::OrgLevel,
    pub region_code: Option<String>,
    pub review_required: bool,
    pub self_approval: bool,
    pub completion_percent: i64,
}

const COLUMNS: &str = "id, parent_id, name, level, region_code, path, review_required, \
                       self_approval, completion_percent, created_at";

#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    #[error("an organisation cannot be moved into its own subtree")]
    Cycle,
    #[error("the root organisation cannot be moved")]
    Root,
    #[error(
        "lessons inside this subtree await review; decide them first (their approval chains follow the current tree)"
    )]
    PendingReviews,
    #[error("not allowed")]
    Forbidden,
    #[error("no such organisation")]
    NotFound,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl Db {
    /// Creates an organisation under `parent` (or the root when `None`) inside `tx`.
    pub async fn create_org_in(
        tx: &mut Tx,
        parent: Option<&OrgRecord>,
        f: &OrgFields,
    ) -> Result<OrgRecord, sqlx::Error> {
        let id = new_id();
        let path = org::child_path(parent.map(|p| p.path.as_str()), &id);
        sqlx::query(
            "INSERT INTO orgs (id, parent_id, name, level, region_code, path, review_required, \
             self_approval, completion_percent, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&id)
        .bind(parent.map(|p| p.id.as_str()))
        .bind(&f.name)
        .bind(f.level.as_str())
        .bind(f.region_code.as_deref())
        .bind(&path)
        .bind(f.review_required as i64)
        .bind(f.self_approval as i64)
        .bind(f.completion_percent)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
        sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM orgs WHERE id = $1"
        )))
        .bind(&id)
        .fetch_one(&mut **tx)
        .await
    }

    pub async fn org(&self, id: &str) -> Result<Option<OrgRecord>, sqlx::Error> {
        sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM orgs WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await
    }

    /// Several organisations by id, in no particular order.
    pub async fn orgs_by_id(&self, ids: &[String]) -> Result<Vec<OrgRecord>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM orgs WHERE id IN ({})",
            super::placeholders(1, ids.len())
        );
        let mut q = sqlx::query_as(AssertSqlSafe(sql.as_str()));
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(self.pool()).await
    }

    /// Whether any organisation exists (a fresh install has none until bootstrap).
    pub async fn has_orgs(&self) -> Result<bool, sqlx::Error> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orgs")
            .fetch_one(self.pool())
            .await?;
        Ok(n > 0)
    }

    /// Every organisation inside the subtrees at `paths` (all of them for `None`), in tree order.
    pub async fn orgs_within(
        &self,
        paths: Option<&[String]>,
    ) -> Result<Vec<OrgRecord>, sqlx::Error> {
        let mut sql = format!("SELECT {COLUMNS} FROM orgs");
        if let Some(paths) = paths {
            if paths.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(&format!(
                " WHERE {}",
                super::within_subtrees("path", 1, paths.len())
            ));
        }
        sql.push_str(" ORDER BY path");
        let mut q = sqlx::query_as(AssertSqlSafe(sql.as_str()));
        for p in super::subtree_patterns(paths.unwrap_or_default()) {
            q = q.bind(p);
        }
        q.fetch_all(self.pool()).await
    }

    pub async fn update_org_in(
        tx: &mut Tx,
        id: &str,
        f: &OrgFields,
    ) -> Result<OrgRecord, sqlx::Error> {
        sqlx::query(
            "UPDATE orgs SET name = $2, level = $3, region_code = $4, review_required = $5, \
             self_approval = $6, completion_percent = $7 WHERE id = $1",
        )
        .bind(id)
        .bind(&f.name)
        .bind(f.level.as_str())
        .bind(f.region_code.as_deref())
        .bind(f.review_required as i64)
        .bind(f.self_approval as i64)
        .bind(f.completion_percent)
        .execute(&mut **tx)
        .await?;
        sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM orgs WHERE id = $1"
        )))
        .bind(id)
        .fetch_one(&mut **tx)
        .await
    }

    /// Moves organisation `node_id` with its whole subtree under `parent_id`, rewriting the paths
    /// in one statement. Moves are serialised (on the root's row), and both rows are read again
    /// inside the transaction, so two concurrent moves cannot make a cycle; `allowed` is asked
    /// with those fresh rows. Returns the node before and after.
    pub async fn move_org_in(
        tx: &mut Tx,
        node_id: &str,
        parent_id: &str,
        allowed: &(dyn Fn(&OrgRecord, &OrgRecord) -> bool + Sync),
    ) -> Result<(OrgRecord, OrgRecord), MoveError> {
        sqlx::query("UPDATE orgs SET name = name WHERE parent_id IS NULL")
            .execute(&mut **tx)
            .await?;
        let node: OrgRecord = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM orgs WHERE id = $1"
        )))
        .bind(node_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(MoveError::NotFound)?;
        let new_parent: OrgRecord = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM orgs WHERE id = $1"
        )))
        .bind(parent_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(MoveError::NotFound)?;
        if !allowed(&node, &new_parent) {
            return Err(MoveError::Forbidden);
        }
        let pending: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM lesson_revisions r JOIN lessons l ON l.id = r.lesson_id \
             JOIN orgs o ON o.id = l.org_id WHERE r.state = 'submitted' AND o.path LIKE $1",
        )
        .bind(format!("{}%", node.path))
        .fetch_one(&mut **tx)
        .await?;
        if pending > 0 {
            return Err(MoveError::PendingReviews);
        }
        let node = &node;
        let new_parent = &new_parent;
        if node.parent_id.is_none() {
            return Err(MoveError::Root);
        }
        if org::within(&new_parent.path, &node.path) {
            return Err(MoveError::Cycle);
        }
        let new_path = org::child_path(Some(&new_parent.path), &node.id);
        sqlx::query("UPDATE orgs SET parent_id = $2 WHERE id = $1")
            .bind(&node.id)
            .bind(&new_parent.id)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "UPDATE orgs SET path = $1 || substr(path, CAST($2 AS INTEGER)) \
             WHERE substr(path, 1, CAST($3 AS INTEGER)) = $4",
        )
        .bind(&new_path)
        .bind(node.path.len() as i64 + 1)
        .bind(node.path.len() as i64)
        .bind(&node.path)
        .execute(&mut **tx)
        .await?;
        let moved: OrgRecord = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM orgs WHERE id = $1"
        )))
        .bind(&node.id)
        .fetch_one(&mut **tx)
        .await?;
        // Platforms inside the moved subtree now sit elsewhere in the tree: what they receive
        // may change, so their feeds re-evaluate. (Platforms outside it are unaffected: they
        // were outside every scope inside it before the move and still are.)
        let platforms: Vec<String> = sqlx::query_scalar(
            "SELECT p.id FROM platforms p JOIN orgs o ON o.id = p.org_id WHERE o.path LIKE $1 \
             ORDER BY p.id",
        )
        .bind(format!("{}%", moved.path))
        .fetch_all(&mut **tx)
        .await?;
        for p in platforms {
            super::platforms::append_resync(tx, &p).await?;
        }
        Ok((node.clone(), moved))
    }
}
