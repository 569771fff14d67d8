//! The job runner: the attempt budget and retries by hand (API and command line), who may see
//! and retry jobs, lanes, fairness and leases at the SQL boundary, two runners sharing one
//! database, and a worker killed with SIGKILL in the middle of a job.

use crate::common::{
    Service, TestApp, command, fresh_postgres, problem, test_config, use_postgres,
};
use futures::StreamExt;
use lectern::db::Db;
use lectern::db::jobs::NewJob;
use lectern::domain::job::{JobKind, JobState, Lane};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Waits (polling, up to a generous minute) until `done` holds.
async fn until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn probe(org: &str, payload: Value) -> NewJob {
    NewJob::now(JobKind::Probe, "probe", org, payload.to_string())
}

async fn state_of(db: &Db, id: &str) -> (JobState, i64) {
    let j = db.job(id).await.unwrap().expect("the job exists");
    (j.state, j.attempts)
}

fn runs(t: &TestApp, id: &str) -> u32 {
    t.app().work().probe_runs().get(id).copied().unwrap_or(0)
}

#[tokio::test]
async fn a_job_that_always_fails_ends_dead_and_is_retried_by_hand() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let city_admin = t
        .account("city-admin", &[("administrator", &tree.city)])
        .await;
    let sibling_admin = t
        .account("sibling-admin", &[("administrator", &tree.sibling_city)])
        .await;
    let member = t.account("member", &[("member", &tree.county)]).await;
    let id = lectern::db::new_id();
    t.db()
        .enqueue_jobs(&[NewJob {
            id: Some(id.clone()),
            ..probe(&tree.county, json!({ "fail": true }))
        }])
        .await
        .unwrap();
    let budget = JobKind::Probe.retry_policy().max_attempts;
    until("the job to be dead", || async {
        state_of(t.db(), &id).await.0 == JobState::Dead
    })
    .await;
    assert_eq!(state_of(t.db(), &id).await.1, budget);
    assert_eq!(runs(&t, &id), budget as u32, "one run per attempt");

    // Administrators above the job's organisation see it, with its error; others do not.
    let listed = t
        .r#as(&city_admin)
        .json("/api/v1/jobs?state=dead&kind=probe")
        .await;
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["id"], id.as_str());
    assert_eq!(items[0]["attempts"], budget);
    assert_eq!(items[0]["org_id"], tree.county.as_str());
    assert!(
        items[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("asked to fail")
    );
    let beside = t.r#as(&sibling_admin).json("/api/v1/jobs").await;
    assert!(
        !beside["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["id"] == id.as_str()),
        "{beside}"
    );
    let r = t.r#as(&member).get("/api/v1/jobs").send().await.unwrap();
    assert_eq!(r.status(), 403);
    problem(r).await;
    let r = t
        .r#as(&sibling_admin)
        .post(&format!("/api/v1/jobs/{id}/retry"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        404,
        "another subtree's job is not there for them"
    );
    let r = t.get("/api/v1/jobs?state=failed").send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(problem(r).await["code"], "invalid_request");

    // Retried by hand through the API: the whole budget again.
    let r = t
        .r#as(&city_admin)
        .post(&format!("/api/v1/jobs/{id}/retry"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    until("the retried job to be dead again", || async {
        state_of(t.db(), &id).await.0 == JobState::Dead && runs(&t, &id) == 2 * budget as u32
    })
    .await;
    assert_eq!(state_of(t.db(), &id).await.1, budget);
    let audit = t.json("/api/v1/audit?action=job.retry").await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");

    // A job waiting for its time is not retried: nothing to retry.
    let later = lectern::db::new_id();
    t.db()
        .enqueue_jobs(&[NewJob {
            id: Some(later.clone()),
            run_at: lectern::db::now_ms() + 3_600_000,
            ..probe(&tree.county, json!({}))
        }])
        .await
        .unwrap();
    let r = t
        .post(&format!("/api/v1/jobs/{later}/retry"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    problem(r).await;

    // Retried in bulk through the command line (the real binary, on the same database).
    let mut c = command(&t.config);
    c.args(["jobs", "retry", "--kind", "probe"]);
    let out = crate::common::output(c).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 job(s) queued again"));
    until("the job to be dead a third time", || async {
        state_of(t.db(), &id).await.0 == JobState::Dead && runs(&t, &id) == 3 * budget as u32
    })
    .await;
    let mut c = command(&t.config);
    c.args(["jobs", "list", "--state", "dead"]);
    let out = crate::common::output(c).await;
    assert!(out.status.success());
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        listing.contains(&id) && listing.contains("asked to fail"),
        "{listing}"
    );

    // And in bulk through the API.
    let r = t
        .post("/api/v1/jobs/retry?kind=probe")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<Value>().await.unwrap()["retried"], 1);
    until("the job to be dead a fourth time", || async {
        state_of(t.db(), &id).await.0 == JobState::Dead && runs(&t, &id) == 4 * budget as u32
    })
    .await;
}

/// A fresh database of the configured backend, migrated, with no service on it.
async fn bare_db(dir: &std::path::Path) -> Db {
    let url = if use_postgres() {
        fresh_postgres().await
    } else {
        format!("sqlite://{}?mode=rwc", dir.join("jobs.db").display())
    };
    let db = Db::connect(&url, 4).await.unwrap();
    db.migrate().await.unwrap();
    db
}

#[tokio::test]
async fn claims_take_urgent_lanes_first_share_between_organisations_and_reclaim_lost_leases() {
    let dir = tempfile::tempdir().unwrap();
    let db = bare_db(dir.path()).await;
    // A backlog of one organisation, queued first, then one job of another.
    let mut backlog: Vec<NewJob> = (0..30).map(|_| probe("org-a", json!({}))).collect();
    backlog.push(probe("org-b", json!({})));
    db.enqueue_jobs(&backlog).await.unwrap();
    let two = db.claim_jobs("w1", 2, Lane::Low, 60_000).await.unwrap();
    let orgs: Vec<&str> = two.iter().map(|j| j.org_id.as_str()).collect();
    assert!(
        orgs.contains(&"org-b"),
        "org-b waited behind org-a's backlog: {orgs:?}"
    );

    // A low-lane job queued before a normal-lane one is claimed after it, and not at all by a
    // claim limited to the normal lane.
    let dir2 = tempfile::tempdir().unwrap();
    let db = bare_db(dir2.path()).await;
    db.enqueue_jobs(&[NewJob::now(JobKind::ExtractText, "sha", "o", "{}".into())])
        .await
        .unwrap();
    db.enqueue_jobs(&[probe("o", json!({}))]).await.unwrap();
    let first = db.claim_jobs("w1", 1, Lane::Low, 60_000).await.unwrap();
    assert_eq!(first[0].kind, JobKind::Probe);
    assert!(
        db.claim_jobs("w1", 1, Lane::Normal, 60_000)
            .await
            .unwrap()
            .is_empty()
    );

    // A lease that runs out (its worker died) lets another worker claim the job; the first
    // worker can no longer settle it.
    let lost = db.claim_jobs("w1", 1, Lane::Low, 1).await.unwrap();
    assert_eq!(lost[0].kind, JobKind::ExtractText);
    assert_eq!(lost[0].state, JobState::Running);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let again = db.claim_jobs("w2", 1, Lane::Low, 60_000).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, lost[0].id);
    assert_eq!(again[0].attempts, 2, "a claim is an attempt");
    assert!(!db.finish_job(&lost[0].id, "w1").await.unwrap());
    assert!(db.finish_job(&lost[0].id, "w2").await.unwrap());
    assert_eq!(state_of(&db, &lost[0].id).await, (JobState::Done, 2));

    // An unknown kind in SQL is an error, not a default.
    sqlx::query("UPDATE jobs SET kind = 'mystery' WHERE id = $1")
        .bind(&lost[0].id)
        .execute(db.pool())
        .await
        .unwrap();
    assert!(db.job(&lost[0].id).await.is_err());
}

#[tokio::test]
async fn two_runners_on_one_database_run_each_of_a_thousand_jobs_exactly_once() {
    let t = TestApp::spawn().await;
    // A second runner with its own connections to the same database: on PostgreSQL as a second
    // instance would have; on SQLite a second pool on the same file.
    let db2 = Db::connect(&t.config.database_url, 8).await.unwrap();
    let ingest = lectern::ingest::Ingest {
        db: db2.clone(),
        store: t.store().clone(),
        max_bytes: t.config.max_upload_bytes,
        upload_expiry_ms: 86_400_000,
        lease_ms: 30_000,
    };
    let work2 = std::sync::Arc::new(t.config.job_work(
        db2.clone(),
        t.store().clone(),
        ingest,
        t.app().work().media.clone(),
    ));
    let runner2 = tokio::spawn(
        lectern::jobs::Runner::new(db2.clone(), work2.clone(), t.config.job_settings())
            .run(Default::default(), std::time::Duration::ZERO),
    );
    // Each job takes a few milliseconds, so neither runner can drain the queue alone before the
    // other wakes; half are queued through each, so each is woken by its own.
    let jobs: Vec<NewJob> = (0..1000)
        .map(|i| probe(&format!("org-{}", i % 7), json!({ "sleep_ms": 3 })))
        .collect();
    for (n, chunk) in jobs.chunks(100).enumerate() {
        let db = if n % 2 == 0 { t.db() } else { &db2 };
        assert_eq!(db.enqueue_jobs(chunk).await.unwrap(), chunk.len());
    }
    let done = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM jobs WHERE kind = 'probe' AND state = 'done'",
        )
        .fetch_one(t.db().pool())
        .await
        .unwrap()
    };
    until("a thousand jobs done", || async { done().await == 1000 }).await;
    runner2.abort();
    let one = t.app().work().probe_runs();
    let two = work2.probe_runs();
    let mut all: HashMap<String, u32> = one.clone();
    for (id, n) in &two {
        *all.entry(id.clone()).or_default() += n;
    }
    assert_eq!(all.len(), 1000);
    let twice: Vec<_> = all.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "run more than once: {twice:?}");
    assert!(
        !one.is_empty() && !two.is_empty(),
        "both runners took part ({} and {})",
        one.len(),
        two.len()
    );
    let attempts: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(attempts), 0) FROM jobs WHERE kind = 'probe'")
            .fetch_one(t.db().pool())
            .await
            .unwrap();
    assert_eq!(attempts, 1, "every job was claimed once");
}

#[tokio::test]
async fn a_worker_killed_mid_job_loses_its_lease_and_the_job_finishes_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path()).await;
    let env = [("LECTERN_JOB_LEASE_SECS", "2")];
    let first = Service::start_with(&config, &env).await;
    let db = Db::connect(&config.database_url, 2).await.unwrap();
    let id = lectern::db::new_id();
    db.enqueue_jobs(&[NewJob {
        id: Some(id.clone()),
        ..probe("", json!({ "sleep_ms": 4000 }))
    }])
    .await
    .unwrap();
    // The first service claims it (within its poll interval) and is killed while running it.
    until("the first service to run the job", || async {
        state_of(&db, &id).await.0 == JobState::Running
    })
    .await;
    let holder = db.job(&id).await.unwrap().unwrap().worker.unwrap();
    first.kill();
    assert_eq!(state_of(&db, &id).await, (JobState::Running, 1));
    let second = Service::start_with(&config, &env).await;
    until("the job to finish elsewhere", || async {
        state_of(&db, &id).await.0 == JobState::Done
    })
    .await;
    let job = db.job(&id).await.unwrap().unwrap();
    assert_eq!(job.attempts, 2, "claimed once by each service");
    assert_ne!(job.worker.as_deref(), Some(holder.as_str()));
    drop(second);
}

#[tokio::test]
async fn the_jobs_page_lists_dead_jobs_with_their_error_and_retries_them_with_the_csrf_token() {
    let t = TestApp::spawn().await;
    let tree = t.tree().await;
    let id = lectern::db::new_id();
    t.db()
        .enqueue_jobs(&[NewJob {
            id: Some(id.clone()),
            ..probe(&tree.city, json!({ "fail": true }))
        }])
        .await
        .unwrap();
    until("the job to be dead", || async {
        state_of(t.db(), &id).await.0 == JobState::Dead
    })
    .await;
    let b = t.browser();
    assert_eq!(
        t.sign_in(&b, "root-admin", crate::fixtures::PASSWORD)
            .await
            .status(),
        303
    );
    let page = t.page(&b, "/admin/jobs?state=dead&kind=probe").await;
    assert!(page.contains(&format!("data-id=\"{id}\"")), "{page}");
    assert!(
        page.contains("asked to fail") && page.contains("已失败"),
        "{page}"
    );
    let csrf = crate::fixtures::hidden(&page, "csrf").expect("the page's forms carry the token");
    // Without the session's token: refused before any work.
    let r = b
        .post(t.url(&format!("/admin/jobs/{id}/retry")))
        .form(&[("csrf", "forged"), ("state", "dead"), ("kind", "probe")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(state_of(t.db(), &id).await.0, JobState::Dead);
    let retry = |path: String| {
        let request = b.post(t.url(&path)).form(&[
            ("csrf", csrf.as_str()),
            ("state", "dead"),
            ("kind", "probe"),
        ]);
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(retry(format!("/admin/jobs/{id}/retry")).await, 303);
    until("the retried job to run again and die", || async {
        state_of(t.db(), &id).await.0 == JobState::Dead
            && runs(&t, &id) == 2 * JobKind::Probe.retry_policy().max_attempts as u32
    })
    .await;
    // The bulk button.
    assert_eq!(retry("/admin/jobs/retry".to_owned()).await, 303);
    until("the job to run a third time", || async {
        runs(&t, &id) == 3 * JobKind::Probe.retry_policy().max_attempts as u32
            && state_of(t.db(), &id).await.0 == JobState::Dead
    })
    .await;
    // A bad filter is the user's mistake, shown on the page.
    let r = b
        .get(t.url("/admin/jobs?state=failed"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

/// A PDF of `size` bytes, streamed in 1 MiB chunks without holding it: a header, one stream
/// object of zeros and a trailer (cheap to make, and no parser would ever finish it quickly).
fn big_pdf(size: usize) -> reqwest::Body {
    let head = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length 0 >>\nstream\n".to_vec();
    let tail = b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n".to_vec();
    let zeros = size - head.len() - tail.len();
    let chunk = 1 << 20;
    let (full, rest) = (zeros / chunk, zeros % chunk);
    let stream = futures::stream::iter([Ok::<_, std::io::Error>(head)])
        .chain(futures::stream::iter(0..full).map(move |_| Ok(vec![0u8; chunk])))
        .chain(futures::stream::iter([Ok(vec![0u8; rest]), Ok(tail)]));
    reqwest::Body::wrap_stream(stream)
}

/// A document lesson with a PDF of `size` bytes as its master, published; its id.
async fn publish_big_pdf(t: &TestApp, size: usize) -> String {
    let big = t.lesson("document").await;
    let r = t
        .post(&format!("/api/v1/lessons/{big}/assets"))
        .query(&[("role", "master"), ("filename", "全年讲义合订本.pdf")])
        .body(big_pdf(size))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = t
        .post(&format!("/api/v1/lessons/{big}/publish"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    big
}

/// A PDF over the extraction budget (64 MiB) is published and indexed without its text: the
/// extraction job refuses it by size, without reading it, and records why for editors.
#[tokio::test]
async fn a_pdf_over_the_extraction_budget_is_refused_by_size_with_the_reason_shown() {
    let t = TestApp::spawn().await;
    let size = (64 << 20) + 1;
    let big = publish_big_pdf(&t, size).await;
    until("the big PDF's extraction to be recorded", || async {
        let l = t.json(&format!("/api/v1/lessons/{big}")).await;
        l["assets"][0]["text"].is_object()
    })
    .await;
    let l = t.json(&format!("/api/v1/lessons/{big}")).await;
    assert_eq!(l["assets"][0]["text"]["status"], "failed", "{l}");
    assert!(
        l["assets"][0]["text"]["error"]
            .as_str()
            .unwrap()
            .contains("64 MiB"),
        "{l}"
    );
    assert_eq!(l["assets"][0]["size"], size as i64);
}

/// A TCP relay in front of the object store that passes requests at full speed and answers
/// slowly: `SLOW_CHUNK` bytes every `SLOW_EVERY`, so reading a few MiB takes tens of seconds
/// while every small answer (a `PUT`'s, a `HEAD`'s) arrives at once.
const SLOW_CHUNK: usize = 16 * 1024;
const SLOW_EVERY: Duration = Duration::from_millis(50);

async fn slow_reading_store(
    upstream: String,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let (mut in_read, mut in_write) = inbound.into_split();
                let (mut out_read, mut out_write) = outbound.into_split();
                let up = async {
                    let _ = tokio::io::copy(&mut in_read, &mut out_write).await;
                    let _ = out_write.shutdown().await;
                };
                let down = async {
                    let mut buf = vec![0u8; SLOW_CHUNK];
                    loop {
                        match out_read.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if in_write.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                                if n == SLOW_CHUNK {
                                    tokio::time::sleep(SLOW_EVERY).await;
                                }
                            }
                        }
                    }
                    let _ = in_write.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    (addr, task)
}

/// A slow extraction does not hold up the indexing of a lesson published after it.
///
/// The first lesson's PDF (8 MiB, within every budget) is read from a store that answers at
/// 320 KiB/s, so its extraction job really runs for about 25 s. While it is `running`, a second
/// lesson is published and must be searchable within 2 s — and the extraction must *still* be
/// running then (asserted), so the test cannot pass by the extraction having finished first.
/// It would fail if extraction ran inside the search index follower (as it did before the job
/// runner): the follower would apply the first lesson's change, wait on its text for ~25 s, and
/// only then reach the second lesson's change, far past the 2 s. The follower reads SQL only;
/// the text arrives later as a change of its own, when the job records it.
#[tokio::test]
async fn a_slow_extraction_does_not_delay_the_indexing_of_a_lesson_published_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let external = std::env::var("LECTERN_TEST_S3_ENDPOINT").ok();
    let embedded = match external {
        Some(_) => None,
        None => Some(
            lectern::storage::embedded::EmbeddedS3::start(
                &dir.path().join("objects"),
                "127.0.0.1:0",
                "slow-key",
                "slow-secret",
            )
            .await
            .unwrap(),
        ),
    };
    let upstream = match (&external, &embedded) {
        (Some(url), _) => url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned(),
        (None, Some(e)) => e.addr.to_string(),
        (None, None) => unreachable!(),
    };
    let (relay, relay_task) = slow_reading_store(upstream).await;
    let t = TestApp::spawn_with(|c| {
        c.s3_endpoint = format!("http://{relay}");
        if embedded.is_some() {
            c.s3_access_key = "slow-key".into();
            c.s3_secret_key = "slow-secret".into();
        }
    })
    .await;
    let big = publish_big_pdf(&t, 8 << 20).await;
    let extracting = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM jobs WHERE kind = 'extract_text' AND state = 'running'",
        )
        .fetch_one(t.db().pool())
        .await
        .unwrap()
            == 1
    };
    until("the big PDF's extraction to start", extracting).await;

    // Published while the extraction runs.
    let r = t
        .post("/api/v1/lessons")
        .json(&json!({ "title": "防汛抗旱应急演练纪实", "kind": "video" }))
        .send()
        .await
        .unwrap();
    let after = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let published_at = Instant::now();
    let r = t
        .post(&format!("/api/v1/lessons/{after}/publish"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    loop {
        let v: Value = t
            .get("/api/v1/search?q=防汛抗旱应急演练")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["hits"]
            .as_array()
            .is_some_and(|h| h.iter().any(|h| h["id"] == after.as_str()))
        {
            break;
        }
        assert!(
            published_at.elapsed() < Duration::from_secs(2),
            "the later lesson is not searchable 2 s after its publication: {v}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = published_at.elapsed();
    eprintln!("published → searchable behind a running slow extraction: {took:?}");
    assert!(
        extracting().await,
        "the extraction ended before the later lesson was searchable: the test proved nothing"
    );
    let l = t.json(&format!("/api/v1/lessons/{big}")).await;
    assert!(l["assets"][0]["text"].is_null(), "{l}");
    drop(t);
    relay_task.abort();
}
