//! Who may see and change what: the one place that decides.
//!
//! Invariant: API handlers, pages, downloads, the change log and the workflow never decide access
//! themselves; they ask this module — [`read_scope`] for listings (the database layer turns the
//! scope into a `WHERE` clause), [`library_scope`] for the members' library, [`may`] for one lesson, [`may_administer`] and
//! [`may_review_level`] for organisations, accounts and approvals. Publication scopes for
//! downstream platforms are added here and every caller follows.
//!
//! Rules:
//! - A role granted on an organisation applies to it and its whole subtree, never above or beside.
//! - Anonymous callers and members read published lessons only.
//! - Editors, reviewers and administrators also read every lesson of their subtrees.
//! - Editors create, edit, upload to, submit, publish (once approved), withdraw and recommend
//!   their subtrees' lessons; reviewers approve and reject, publish, withdraw and recommend;
//!   administrators manage organisations and accounts and read the audit log.
//! - Operator tokens (`lectern token create`) act for the instance itself: everything.
//! - A downstream platform (calling with its key) reads exactly the lessons it receives
//!   ([`receives`]): published, inside the lesson's scope and audience, named if the lesson
//!   names platforms, and passing the platform's filters. Nothing else, and it changes nothing:
//!   the staff side of the service (every endpoint that needs an account or an operator token,
//!   and every page) refuses its key outright ([`may_use_staff_side`]).

use super::lesson::LessonStatus;
use super::org;
use super::platform::Filters;
use serde::Serialize;

/// A role of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Administrator,
    Reviewer,
    Editor,
    Member,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Self::Administrator,
        Self::Reviewer,
        Self::Editor,
        Self::Member,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Administrator => "administrator",
            Self::Reviewer => "reviewer",
            Self::Editor => "editor",
            Self::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Result<Self, super::Invalid> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                super::Invalid::new(
                    "role",
                    "must be one of administrator, reviewer, editor, member",
                )
            })
    }
}

/// A role on an organisation's subtree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub role: Role,
    pub org_id: String,
    /// The organisation's materialised path (see `domain::org`).
    #[serde(skip)]
    pub org_path: String,
}

/// How a signed-in user reached us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A web session; unsafe requests must carry its CSRF token.
    Session { csrf_token: String },
    /// A personal API token.
    Token { token_id: String },
}

/// A signed-in account with its role grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub login: String,
    pub display_name: String,
    pub grants: Vec<Grant>,
    pub via: Via,
}

impl User {
    /// Whether one of `roles` is granted on `path` or above it.
    pub fn holds_on(&self, roles: &[Role], path: &str) -> bool {
        self.grants
            .iter()
            .any(|g| roles.contains(&g.role) && org::within(path, &g.org_path))
    }

    /// The subtrees (paths) where one of `roles` is granted.
    pub fn subtrees(&self, roles: &[Role]) -> Vec<String> {
        let mut paths: Vec<String> = self
            .grants
            .iter()
            .filter(|g| roles.contains(&g.role))
            .map(|g| g.org_path.clone())
            .collect();
        paths.sort();
        // Drop paths inside another: they add nothing.
        let mut kept: Vec<String> = Vec::new();
        for p in paths {
            if !kept.iter().any(|k| org::within(&p, k)) {
                kept.push(p);
            }
        }
        kept
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No credentials were presented.
    Anonymous,
    /// An operator's API token (see `lectern token create`): full access to this instance.
    Operator { token_id: String },
    /// A signed-in account.
    User(User),
    /// A downstream platform, by one of its keys.
    Platform(Platform),
}

/// A downstream platform calling with one of its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub id: String,
    pub key_id: String,
    /// The path of the organisation the platform is registered under.
    pub org_path: String,
    pub filters: Filters,
}

impl Caller {
    pub fn user(&self) -> Option<&User> {
        match self {
            Self::User(u) => Some(u),
            _ => None,
        }
    }

    /// The id recorded as the actor of a change (users only; operators are recorded by label).
    pub fn user_id(&self) -> Option<&str> {
        self.user().map(|u| u.id.as_str())
    }

    /// How the audit log names this caller.
    pub fn label(&self) -> String {
        match self {
            Self::Anonymous => "anonymous".into(),
            Self::Operator { token_id } => format!("operator-token:{token_id}"),
            Self::User(u) => format!("user:{}", u.login),
            Self::Platform(p) => format!("platform:{}", p.id),
        }
    }
}

/// Roles that may read unpublished lessons of their subtree.
const STAFF: [Role; 3] = [Role::Administrator, Role::Reviewer, Role::Editor];

/// What a caller may read, in the form a listing query can apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadScope {
    /// Only published lessons.
    PublishedOnly,
    /// Published lessons, and every lesson whose organisation lies in one of these subtrees.
    PublishedOrWithin(Vec<String>),
    /// Every lesson in any state.
    Everything,
    /// What this platform receives (see [`receives`]); the database layer turns it into SQL.
    Platform(Platform),
}

impl ReadScope {
    /// Whether a lesson in `status`, owned at `org_path` ("" when it has no organisation), is
    /// readable under this scope.
    pub fn allows(&self, status: LessonStatus, org_path: &str) -> bool {
        match self {
            Self::Everything => true,
            Self::PublishedOnly => status == LessonStatus::Published,
            Self::PublishedOrWithin(paths) => {
                status == LessonStatus::Published || paths.iter().any(|p| org::within(org_path, p))
            }
            // Necessary, not sufficient: the rest of [`receives`] needs the lesson's publication.
            Self::Platform(_) => status == LessonStatus::Published,
        }
    }
}

/// The one decision of what `caller` may read.
pub fn read_scope(caller: &Caller) -> ReadScope {
    match caller {
        Caller::Anonymous => ReadScope::PublishedOnly,
        Caller::Operator { .. } => ReadScope::Everything,
        Caller::Platform(p) => ReadScope::Platform(p.clone()),
        Caller::User(u) => {
            let paths = u.subtrees(&STAFF);
            if paths.is_empty() {
                ReadScope::PublishedOnly
            } else {
                ReadScope::PublishedOrWithin(paths)
            }
        }
    }
}

/// What the members' library shows `caller`: published lessons only, whoever asks. Staff read
/// their drafts on the editors' pages; the library is what members see (a lesson page may still
/// preview an unpublished lesson to someone [`may`] let read it, saying so). A platform's key
/// has no library (pages refuse it before this is asked).
pub fn library_scope(_caller: &Caller) -> ReadScope {
    ReadScope::PublishedOnly
}

/// The account whose own learning `caller` records and reads (where it stopped in a lesson; its
/// learning records): a signed-in account, by session or personal token. Operators and
/// platforms act for no learner.
pub fn learner(caller: &Caller) -> Option<&str> {
    caller.user().map(|u| u.id.as_str())
}

/// What one may do to a lesson.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    /// Change fields, upload and remove assets.
    Edit,
    /// Send the working revision to review.
    Submit,
    /// Approve or reject (which levels, see [`may_review_level`]).
    Review,
    /// Make an approved revision live, now or at a set time.
    Publish,
    Withdraw,
    Delete,
    /// Recommend upward to the parent organisation.
    Recommend,
}

/// The facts about a lesson that access depends on.
#[derive(Debug, Clone, Copy)]
pub struct LessonAccess<'a> {
    pub status: LessonStatus,
    /// The owning organisation's path; "" for a lesson that has none (made by an operator before
    /// any organisation existed), which only operators may change.
    pub org_path: &'a str,
    /// To whom it is published.
    pub publication: Publication<'a>,
}

/// The facts about a lesson that decide which platforms receive it.
#[derive(Debug, Clone, Copy)]
pub struct Publication<'a> {
    pub kind: &'a str,
    pub tags: &'a [String],
    pub series: Option<&'a str>,
    /// The path of the subtree it is published to (its scope, else its owner); "" for a lesson
    /// outside any organisation, which is published to the whole tree.
    pub scope_path: &'a str,
    /// A narrower subtree inside the scope, when the publisher chose one.
    pub audience_path: Option<&'a str>,
    /// Named platforms: when any are named, only those receive it.
    pub platforms: &'a [String],
}

/// The one decision of whether platform `p` receives a lesson: it is published; the platform's
/// organisation lies inside the lesson's scope and, if one was chosen, its audience subtree; the
/// lesson names no platforms or names this one; and the platform's filters let it through.
/// Named platforms outside the scope receive nothing: a publication is never wider than its scope.
pub fn receives(p: &Platform, lesson: LessonAccess<'_>) -> bool {
    let pb = lesson.publication;
    let inside = |path: &str| path.is_empty() || org::within(&p.org_path, path);
    lesson.status == LessonStatus::Published
        && inside(pb.scope_path)
        && pb.audience_path.is_none_or(inside)
        && (pb.platforms.is_empty() || pb.platforms.contains(&p.id))
        && p.filters.admit(pb.kind, pb.tags, pb.series)
}

/// Whether platform `p` may report learning records (xAPI statements) of a member holding
/// `grants`: only of members inside the platform's organisation's subtree (a grant there).
pub fn may_report_on(p: &Platform, grants: &[Grant]) -> bool {
    grants.iter().any(|g| org::within(&g.org_path, &p.org_path))
}

/// The one decision of whether `caller` may do `action` to a lesson.
pub fn may(caller: &Caller, action: Action, lesson: LessonAccess<'_>) -> bool {
    let user = match caller {
        Caller::Operator { .. } => return true,
        Caller::Anonymous => {
            return action == Action::Read && lesson.status == LessonStatus::Published;
        }
        Caller::Platform(p) => return action == Action::Read && receives(p, lesson),
        Caller::User(u) => u,
    };
    let on = |roles: &[Role]| user.holds_on(roles, lesson.org_path);
    match action {
        Action::Read => read_scope(caller).allows(lesson.status, lesson.org_path),
        Action::Edit | Action::Submit => on(&[Role::Editor]),
        Action::Review => on(&[Role::Reviewer]),
        Action::Publish | Action::Withdraw | Action::Recommend => {
            on(&[Role::Editor, Role::Reviewer])
        }
        Action::Delete => on(&[Role::Editor]) && lesson.status != LessonStatus::Published,
    }
}

/// Whether `caller` may use the staff side of the service at all: the API endpoints that need
/// credentials (everything that changes something, and the listings of organisations, accounts,
/// reviews, platforms and the audit log) and every web page. Accounts and operator tokens may —
/// each endpoint then decides what they may do there. A downstream platform's key may not: it is
/// for the reads a platform is meant for (its feed and snapshot, OAI-PMH, podcast feeds, and the
/// lessons, assets and search results it [`receives`]), and answering it elsewhere with empty
/// lists would only hide that it is used where it does not belong. Anonymous callers are not
/// refused here but asked to sign in, by whoever calls this.
pub fn may_use_staff_side(caller: &Caller) -> bool {
    match caller {
        Caller::Operator { .. } | Caller::User(_) => true,
        Caller::Anonymous | Caller::Platform(_) => false,
    }
}

/// Whether `caller` may create lessons owned by the organisation at `org_path`.
pub fn may_create_in(caller: &Caller, org_path: &str) -> bool {
    match caller {
        Caller::Operator { .. } => true,
        Caller::Anonymous | Caller::Platform(_) => false,
        Caller::User(u) => u.holds_on(&[Role::Editor], org_path),
    }
}

/// Whether `caller` may approve or reject at the level of the organisation at `level_path`, in a
/// review whose levels are `chain` (organisation ids, owner first). A reviewer of that
/// organisation may, and so may a reviewer above it — unless their own organisation is another
/// level of the same chain: then each level is decided by its own reviewers, so that a lesson
/// that must pass the county and the city really is seen by both.
pub fn may_review_level(caller: &Caller, level_path: &str, chain: &[String]) -> bool {
    match caller {
        Caller::Operator { .. } => true,
        Caller::Anonymous | Caller::Platform(_) => false,
        Caller::User(u) => u.grants.iter().any(|g| {
            g.role == Role::Reviewer
                && org::within(level_path, &g.org_path)
                && (g.org_path == level_path || !chain.contains(&g.org_id))
        }),
    }
}

/// A decision a reviewer is about to make on one level of a submitted revision: the facts the
/// review rules depend on.
#[derive(Debug, Clone, Copy)]
pub struct ReviewDecision<'a> {
    /// The path of the organisation whose level awaits a decision.
    pub level_path: &'a str,
    /// The review's levels (organisation ids, owner first).
    pub chain: &'a [String],
    /// Who submitted the revision.
    pub submitted_by: Option<&'a str>,
    /// Who approved the levels already passed.
    pub approved_by: &'a [&'a str],
    /// Whether the level's organisation lets a reviewer approve their own submission.
    pub self_approval: bool,
    /// Approving (rather than rejecting).
    pub approving: bool,
}

/// Why a reviewer may not decide a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewRefusal {
    /// Not a reviewer of this level or above it (see [`may_review_level`]).
    NotTheirLevel,
    /// They approved another level of this revision already: one reviewer, one level (neither
    /// approving nor rejecting a second one).
    AlreadyApprovedALevel,
    /// Their own submission, where the level's organisation forbids approving one's own work.
    OwnSubmission,
}

impl ReviewRefusal {
    /// The action the audit log records the refused attempt as.
    pub fn action(self, approving: bool) -> &'static str {
        match (self, approving) {
            (Self::OwnSubmission, _) => "approve_own_submission",
            (Self::AlreadyApprovedALevel, _) => "decide_second_level",
            (Self::NotTheirLevel, true) => "approve",
            (Self::NotTheirLevel, false) => "reject",
        }
    }
}

/// Whether `reviewer` is still free to approve a level of a revision whose earlier levels were
/// approved by `approved_by`: each level of a review is approved by a different person, so that a
/// lesson that must pass the county and the city is seen by two pairs of eyes. The database
/// checks this again under the lesson's lock, where two approvals may race.
pub fn one_level_each(reviewer: Option<&str>, approved_by: &[&str]) -> bool {
    reviewer.is_none_or(|r| !approved_by.contains(&r))
}

/// Whether `caller` may take `decision`: a reviewer of the level (or from above it, see
/// [`may_review_level`]), who approved no other level of the same revision, and who — where the
/// organisation forbids it — does not approve their own submission. Operators may always.
pub fn may_decide(caller: &Caller, decision: &ReviewDecision<'_>) -> Result<(), ReviewRefusal> {
    if !may_review_level(caller, decision.level_path, decision.chain) {
        return Err(ReviewRefusal::NotTheirLevel);
    }
    let uid = caller.user_id();
    if !one_level_each(uid, decision.approved_by) {
        return Err(ReviewRefusal::AlreadyApprovedALevel);
    }
    if decision.approving
        && !decision.self_approval
        && uid.is_some()
        && decision.submitted_by == uid
    {
        return Err(ReviewRefusal::OwnSubmission);
    }
    Ok(())
}

/// Whether `caller` may administer the organisation at `org_path`: change it, create children,
/// manage the accounts and grants on it, read its audit log.
pub fn may_administer(caller: &Caller, org_path: &str) -> bool {
    match caller {
        Caller::Operator { .. } => true,
        Caller::Anonymous | Caller::Platform(_) => false,
        Caller::User(u) => u.holds_on(&[Role::Administrator], org_path),
    }
}

/// Whether `caller` may change what holds for the whole installation (the search synonyms):
/// operators, and administrators of a top-level organisation — the province that runs it.
pub fn may_manage_installation(caller: &Caller) -> bool {
    match caller {
        Caller::Operator { .. } => true,
        Caller::Anonymous | Caller::Platform(_) => false,
        Caller::User(u) => u
            .grants
            .iter()
            .any(|g| g.role == Role::Administrator && org::ids(&g.org_path).len() == 1),
    }
}

/// Whether `caller` may have a lesson's media processed again (reprocess): its editors and the
/// administrators of its organisation (or above), whatever its status — reprocessing changes no
/// content, only re-makes what is derived from it. Operators may; platforms and anonymous
/// callers may not.
pub fn may_reprocess(caller: &Caller, lesson: LessonAccess<'_>) -> bool {
    match caller {
        Caller::Operator { .. } => true,
        Caller::Anonymous | Caller::Platform(_) => false,
        Caller::User(u) => u.holds_on(&[Role::Editor, Role::Administrator], lesson.org_path),
    }
}

/// Whether `caller` may move or rename the organisation at `org_path` itself: only from strictly
/// above it, so that nobody lifts their own organisation out from under their administrators.
pub fn may_restructure(caller: &Caller, org_path: &str) -> bool {
    match caller {
        Caller::Operator { .. } => true,
        Caller::Anonymous | Caller::Platform(_) => false,
        Caller::User(u) => u.grants.iter().any(|g| {
            g.role == Role::Administrator
                && org::within(org_path, &g.org_path)
                && org_path != g.org_path
        }),
    }
}

/// Whether `caller` may change an account itself (reset its password, disable it), given the
/// paths of the organisations it holds roles in: only by administering all of them, so that an
/// administrator cannot lock out someone who also works above or beside them. An account with
/// no role at all is the operators' to manage.
pub fn may_manage_account(caller: &Caller, account_org_paths: &[&str]) -> bool {
    match caller {
        Caller::Operator { .. } => true,
        Caller::Anonymous | Caller::Platform(_) => false,
        Caller::User(_) => {
            !account_org_paths.is_empty()
                && account_org_paths.iter().all(|p| may_administer(caller, p))
        }
    }
}

/// Whether `caller` may change their own password (giving the current one): a signed-in
/// account. An operator token has no password of its own.
pub fn may_change_own_password(caller: &Caller) -> bool {
    matches!(caller, Caller::User(_))
}

/// Whether `caller` may set a new password on account `account_id` (working in
/// `account_org_paths`) without knowing the current one — an administrator's reset. Never on
/// one's own account: that asks for the current password ([`may_change_own_password`]), so a
/// stolen session or token cannot take the account over.
pub fn may_reset_password(caller: &Caller, account_id: &str, account_org_paths: &[&str]) -> bool {
    caller.user_id() != Some(account_id) && may_manage_account(caller, account_org_paths)
}

/// Whether `caller` may disable account `account_id` (working in `account_org_paths`). Never
/// one's own: an administrator who did would be locked out with nobody below to undo it.
pub fn may_disable_account(caller: &Caller, account_id: &str, account_org_paths: &[&str]) -> bool {
    caller.user_id() != Some(account_id) && may_manage_account(caller, account_org_paths)
}

/// Which administration pages the navigation offers a caller: only those it can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AdminLinks {
    /// The editors' and reviewers' pages: staff of some organisation (and operators).
    pub staff: bool,
    /// The organisation tree and its accounts: administrators (and operators).
    pub orgs: bool,
    pub users: bool,
    /// The platforms the caller administers.
    pub platforms: bool,
    /// The background jobs ([`job_scope`]).
    pub jobs: bool,
    /// The installation's search synonyms ([`may_manage_installation`]).
    pub synonyms: bool,
    /// The learning reports of the organisations administered.
    pub reports: bool,
}

/// The administration pages `caller` may use, for the page navigation.
pub fn admin_links(caller: &Caller) -> AdminLinks {
    let administers = administered_subtrees(caller).is_none_or(|s| !s.is_empty());
    let staff = match caller {
        Caller::Operator { .. } => true,
        Caller::User(u) => !u.subtrees(&STAFF).is_empty(),
        Caller::Anonymous | Caller::Platform(_) => false,
    };
    AdminLinks {
        staff,
        orgs: administers,
        users: administers,
        platforms: administers,
        jobs: job_scope(caller).is_some(),
        synonyms: may_manage_installation(caller),
        reports: administers,
    }
}

/// Whether `caller` may see the platforms registered at `org_path` (to publish to them by name):
/// staff of that subtree. Managing them is [`may_administer`].
pub fn may_list_platforms(caller: &Caller, org_path: &str) -> bool {
    match caller {
        Caller::Operator { .. } => true,
        Caller::Anonymous | Caller::Platform(_) => false,
        Caller::User(u) => u.holds_on(&STAFF, org_path),
    }
}

/// The subtrees whose platforms `caller` may see; `None` means all of them.
pub fn platform_subtrees(caller: &Caller) -> Option<Vec<String>> {
    match caller {
        Caller::Operator { .. } => None,
        Caller::Anonymous | Caller::Platform(_) => Some(Vec::new()),
        Caller::User(u) => Some(u.subtrees(&STAFF)),
    }
}

/// The subtrees whose audit log and accounts `caller` may read; `None` means all of them.
pub fn administered_subtrees(caller: &Caller) -> Option<Vec<String>> {
    match caller {
        Caller::Operator { .. } => None,
        Caller::Anonymous | Caller::Platform(_) => Some(Vec::new()),
        Caller::User(u) => Some(u.subtrees(&[Role::Administrator])),
    }
}

/// Which background jobs `caller` may see and retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobScope {
    /// Every job, the instance's own (no organisation) included.
    All,
    /// The jobs of these subtrees (organisation paths).
    Subtrees(Vec<String>),
}

/// Which jobs `caller` may list and retry: administrators only — operators and administrators
/// of a root organisation all of them (the instance's own jobs, such as the scheduler, belong to
/// no organisation), other administrators those of the subtrees they administer. `None` for
/// everyone else (a platform key never reaches this: it is refused on the staff side).
pub fn job_scope(caller: &Caller) -> Option<JobScope> {
    match caller {
        Caller::Operator { .. } => Some(JobScope::All),
        Caller::Anonymous | Caller::Platform(_) => None,
        Caller::User(u) => {
            let subtrees = u.subtrees(&[Role::Administrator]);
            if subtrees.is_empty() {
                None
            } else if subtrees.iter().any(|p| org::ids(p).len() == 1) {
                Some(JobScope::All)
            } else {
                Some(JobScope::Subtrees(subtrees))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(grants: &[(Role, &str)]) -> Caller {
        Caller::User(User {
            id: "u".into(),
            login: "u".into(),
            display_name: "u".into(),
            grants: grants
                .iter()
                .map(|(role, path)| Grant {
                    role: *role,
                    org_id: org::ids(path).last().unwrap().to_string(),
                    org_path: path.to_string(),
                })
                .collect(),
            via: Via::Token {
                token_id: "t".into(),
            },
        })
    }

    const EVERYWHERE: Publication<'static> = Publication {
        kind: "video",
        tags: &[],
        series: None,
        scope_path: "",
        audience_path: None,
        platforms: &[],
    };

    fn lesson(status: LessonStatus, org_path: &str) -> LessonAccess<'_> {
        LessonAccess {
            status,
            org_path,
            publication: EVERYWHERE,
        }
    }

    fn platform(id: &str, org_path: &str, filters: Filters) -> Platform {
        Platform {
            id: id.into(),
            key_id: "k".into(),
            org_path: org_path.into(),
            filters,
        }
    }

    #[test]
    fn platforms_receive_what_is_published_to_their_part_of_the_tree() {
        let county = platform("pk", "/p/c/k/", Filters::default());
        let sibling = platform("pd", "/p/d/", Filters::default());
        let named = vec!["pk".to_string()];
        let tags = vec!["党史".to_string()];
        let at =
            |scope: &'static str, audience: Option<&'static str>, platforms: &'static [String]| {
                LessonAccess {
                    status: LessonStatus::Published,
                    org_path: "/p/c/",
                    publication: Publication {
                        kind: "audio",
                        tags: &[],
                        series: None,
                        scope_path: scope,
                        audience_path: audience,
                        platforms,
                    },
                }
            };
        // Scope: the city's subtree reaches its county, not the sibling city.
        assert!(receives(&county, at("/p/c/", None, &[])));
        assert!(!receives(&sibling, at("/p/c/", None, &[])));
        // The province's scope reaches both; an audience narrows it.
        assert!(receives(&sibling, at("/p/", None, &[])));
        assert!(!receives(&sibling, at("/p/", Some("/p/c/"), &[])));
        // Outside any organisation: the whole tree.
        assert!(receives(&sibling, at("", None, &[])));
        // Drafts and withdrawn lessons reach nobody.
        let mut draft = at("/p/", None, &[]);
        draft.status = LessonStatus::Withdrawn;
        assert!(!receives(&county, draft));
        // Named platforms only, and never beyond the scope.
        let mut only = at("/p/", None, &[]);
        only.publication.platforms = &named;
        assert!(receives(&county, only));
        assert!(!receives(&sibling, only));
        only.publication.scope_path = "/p/d/";
        assert!(!receives(&county, only));
        // Filters.
        let audio_only = platform(
            "pa",
            "/p/c/",
            Filters::parse(&["audio".into()], &["党史".into()], &[]).unwrap(),
        );
        let mut tagged = at("/p/", None, &[]);
        assert!(!receives(&audio_only, tagged));
        tagged.publication.tags = &tags;
        assert!(receives(&audio_only, tagged));
        // What a platform reads is exactly what it receives; it changes nothing.
        let caller = Caller::Platform(county.clone());
        assert!(may(&caller, Action::Read, at("/p/c/", None, &[])));
        assert!(!may(&caller, Action::Read, at("/p/d/", None, &[])));
        assert!(!may(&caller, Action::Edit, at("/p/c/", None, &[])));
        assert!(!may_create_in(&caller, "/p/c/k/"));
        assert!(!may_use_staff_side(&caller));
        assert!(may_use_staff_side(&user(&[(Role::Member, "/p/")])));
    }

    #[test]
    fn anonymous_callers_see_only_published_lessons() {
        let scope = read_scope(&Caller::Anonymous);
        assert!(scope.allows(LessonStatus::Published, "/p/"));
        assert!(!scope.allows(LessonStatus::Draft, "/p/"));
        assert!(!scope.allows(LessonStatus::Withdrawn, "/p/"));
        let draft = lesson(LessonStatus::Draft, "/p/");
        assert!(!may(&Caller::Anonymous, Action::Edit, draft));
        assert!(!may(&Caller::Anonymous, Action::Read, draft));
    }

    #[test]
    fn operators_see_and_change_everything() {
        let op = Caller::Operator {
            token_id: "t".into(),
        };
        assert!(read_scope(&op).allows(LessonStatus::Draft, ""));
        assert!(may(&op, Action::Edit, lesson(LessonStatus::Draft, "")));
    }

    #[test]
    fn roles_reach_down_the_tree_but_never_up_or_sideways() {
        let editor = user(&[(Role::Editor, "/p/c/")]);
        let own = lesson(LessonStatus::Draft, "/p/c/");
        let child = lesson(LessonStatus::Draft, "/p/c/k/");
        let parent = lesson(LessonStatus::Draft, "/p/");
        let sibling = lesson(LessonStatus::Draft, "/p/d/");
        for (l, allowed) in [
            (own, true),
            (child, true),
            (parent, false),
            (sibling, false),
        ] {
            assert_eq!(may(&editor, Action::Edit, l), allowed, "{}", l.org_path);
            assert_eq!(may(&editor, Action::Read, l), allowed, "{}", l.org_path);
            assert!(!may(&editor, Action::Review, l));
        }
        assert!(may(
            &editor,
            Action::Read,
            lesson(LessonStatus::Published, "/p/d/")
        ));
        let member = user(&[(Role::Member, "/p/")]);
        assert!(!may(&member, Action::Read, own));
        assert_eq!(read_scope(&member), ReadScope::PublishedOnly);
    }

    #[test]
    fn administrators_restructure_only_strictly_below_their_grant() {
        let admin = user(&[(Role::Administrator, "/p/c/")]);
        assert!(may_administer(&admin, "/p/c/"));
        assert!(may_administer(&admin, "/p/c/k/"));
        assert!(!may_administer(&admin, "/p/"));
        assert!(!may_restructure(&admin, "/p/c/"));
        assert!(may_restructure(&admin, "/p/c/k/"));
        assert!(!may(
            &admin,
            Action::Edit,
            lesson(LessonStatus::Draft, "/p/c/")
        ));
        assert!(may(
            &admin,
            Action::Read,
            lesson(LessonStatus::Draft, "/p/c/")
        ));
    }

    #[test]
    fn each_level_of_a_chain_is_decided_by_its_own_reviewers() {
        let chain = vec!["k".to_string(), "c".to_string()];
        let city = user(&[(Role::Reviewer, "/p/c/")]);
        let county = user(&[(Role::Reviewer, "/p/c/k/")]);
        let province = user(&[(Role::Reviewer, "/p/")]);
        assert!(!may_review_level(&city, "/p/c/k/", &chain));
        assert!(may_review_level(&city, "/p/c/", &chain));
        assert!(may_review_level(&county, "/p/c/k/", &chain));
        assert!(!may_review_level(&county, "/p/c/", &chain));
        // From above the chain one may stand in for a level below.
        assert!(may_review_level(&province, "/p/c/k/", &chain));
        // Outside a chain, reviewers decide for their whole subtree.
        assert!(may_review_level(&city, "/p/c/k/", &[]));
    }

    #[test]
    fn accounts_are_managed_only_by_administrators_of_all_their_organisations() {
        let admin = user(&[(Role::Administrator, "/p/c/")]);
        assert!(may_manage_account(&admin, &["/p/c/k/"]));
        assert!(!may_manage_account(&admin, &["/p/c/k/", "/p/d/"]));
        assert!(!may_manage_account(&admin, &[]));
        assert!(!may_manage_account(&Caller::Anonymous, &["/p/c/"]));
    }

    #[test]
    fn nested_grants_collapse_to_the_widest_subtree() {
        let u = user(&[
            (Role::Editor, "/p/c/k/"),
            (Role::Reviewer, "/p/c/"),
            (Role::Editor, "/p/e/"),
        ]);
        match read_scope(&u) {
            ReadScope::PublishedOrWithin(paths) => assert_eq!(paths, vec!["/p/c/", "/p/e/"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nobody_resets_or_disables_their_own_account_and_only_accounts_change_their_password() {
        let admin = user(&[(Role::Administrator, "/p/c/")]);
        let me = admin.user_id().unwrap().to_owned();
        // Another account of the administered subtree: reset and disable allowed.
        assert!(may_reset_password(&admin, "other", &["/p/c/k/"]));
        assert!(may_disable_account(&admin, "other", &["/p/c/k/"]));
        // One's own account: neither, though the administrator administers its organisation.
        assert!(may_manage_account(&admin, &["/p/c/"]));
        assert!(!may_reset_password(&admin, &me, &["/p/c/"]));
        assert!(!may_disable_account(&admin, &me, &["/p/c/"]));
        // An account that also works outside the administered subtree: neither.
        assert!(!may_reset_password(&admin, "other", &["/p/c/k/", "/p/d/"]));
        assert!(!may_disable_account(&admin, "other", &["/p/c/k/", "/p/d/"]));
        // Operators manage every account; they have no password of their own.
        let op = Caller::Operator {
            token_id: "t".into(),
        };
        assert!(may_reset_password(&op, "other", &[]));
        assert!(may_disable_account(&op, "other", &[]));
        assert!(!may_change_own_password(&op));
        assert!(may_change_own_password(&admin));
        assert!(!may_change_own_password(&Caller::Anonymous));
        let editor = user(&[(Role::Editor, "/p/c/")]);
        assert!(!may_reset_password(&editor, "other", &["/p/c/"]));
        assert!(!may_disable_account(&editor, "other", &["/p/c/"]));
    }

    #[test]
    fn the_navigation_offers_only_the_administration_pages_a_caller_can_use() {
        let none = AdminLinks {
            staff: false,
            orgs: false,
            users: false,
            platforms: false,
            jobs: false,
            synonyms: false,
            reports: false,
        };
        let staff_only = AdminLinks {
            staff: true,
            ..none
        };
        let all = AdminLinks {
            staff: true,
            orgs: true,
            users: true,
            platforms: true,
            jobs: true,
            synonyms: true,
            reports: true,
        };
        assert_eq!(admin_links(&user(&[(Role::Editor, "/p/c/")])), staff_only);
        assert_eq!(
            admin_links(&user(&[(Role::Reviewer, "/p/"), (Role::Member, "/p/")])),
            staff_only
        );
        assert_eq!(admin_links(&user(&[(Role::Member, "/p/")])), none);
        // The city's administrator manages the city, not what holds for the whole installation.
        assert_eq!(
            admin_links(&user(&[(Role::Administrator, "/p/c/")])),
            AdminLinks {
                synonyms: false,
                ..all
            }
        );
        assert_eq!(admin_links(&user(&[(Role::Administrator, "/p/")])), all);
        let op = Caller::Operator {
            token_id: "t".into(),
        };
        assert_eq!(admin_links(&op), all);
        assert_eq!(admin_links(&Caller::Anonymous), none);
        assert_eq!(library_scope(&Caller::Anonymous), ReadScope::PublishedOnly);
        assert_eq!(
            library_scope(&op),
            ReadScope::PublishedOnly,
            "drafts are not on the library shelf"
        );
        // Every link offered leads to a page its rule lets the caller use.
        let admin = user(&[(Role::Administrator, "/p/c/")]);
        assert!(job_scope(&admin).is_some());
        assert!(administered_subtrees(&admin).is_some_and(|s| !s.is_empty()));
    }

    #[test]
    fn each_level_is_decided_by_its_own_reviewer_and_never_twice_by_one() {
        let county = "/p/c/k/";
        let chain = ["k".to_owned(), "c".to_owned()];
        let reviewer = user(&[(Role::Reviewer, county)]);
        let decision =
            |approved_by: &'static [&'static str], submitted_by, self_approval| ReviewDecision {
                level_path: county,
                chain: &[],
                submitted_by,
                approved_by,
                self_approval,
                approving: true,
            };
        assert_eq!(may_decide(&reviewer, &decision(&[], None, false)), Ok(()));
        assert_eq!(
            may_decide(&reviewer, &decision(&["u"], None, false)),
            Err(ReviewRefusal::AlreadyApprovedALevel)
        );
        assert_eq!(
            may_decide(&reviewer, &decision(&[], Some("u"), false)),
            Err(ReviewRefusal::OwnSubmission)
        );
        assert_eq!(
            may_decide(&reviewer, &decision(&[], Some("u"), true)),
            Ok(())
        );
        // Rejecting one's own submission is allowed; deciding a second level is not.
        let reject = |approved_by| ReviewDecision {
            approving: false,
            ..decision(approved_by, Some("u"), false)
        };
        assert_eq!(may_decide(&reviewer, &reject(&[])), Ok(()));
        assert_eq!(
            may_decide(&reviewer, &reject(&["u"])),
            Err(ReviewRefusal::AlreadyApprovedALevel)
        );
        // A city reviewer may not decide the county level of a chain the city is part of.
        let city = user(&[(Role::Reviewer, "/p/c/")]);
        let county_level = ReviewDecision {
            chain: &chain,
            ..decision(&[], None, false)
        };
        assert_eq!(
            may_decide(&city, &county_level),
            Err(ReviewRefusal::NotTheirLevel)
        );
        assert!(
            may_decide(
                &Caller::Operator {
                    token_id: "t".into()
                },
                &county_level
            )
            .is_ok()
        );
    }
}
