//! Webhooks: every item of a platform's feed, POSTed to its webhook URL and signed as Standard
//! Webhooks specify (`webhook-id`, `webhook-timestamp`, `webhook-signature` =
//! `v1,` + base64 HMAC-SHA256 over `id.timestamp.body` with the platform's `whsec_` secret).
//!
//! The dispatcher ([`follow`], a follower of the change log) reads each webhook platform's feed
//! from its own cursor (`platforms.webhook_cursor`) and turns items into delivery jobs, moving
//! the cursor in the same transaction (and only if nobody else moved it), so each item is queued
//! exactly once. The job runner (`crate::jobs`) runs them with [`deliver`]; a failure is retried
//! with exponential backoff until `webhook_retry_secs` have passed since the job was queued
//! ([`Settings::retry_at`]), and then the job is dead: listed for administrators and
//! redeliverable by hand.

use super::feed::{Cursor, Feed, Item};
use crate::db::Db;
use crate::db::jobs::NewJob;
use crate::db::platforms::PlatformRecord;
use crate::domain::job::JobKind;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::time::Duration;

/// What a delivery job carries.
#[derive(Debug, Serialize, Deserialize)]
pub struct Delivery {
    /// The message id, stable across attempts (the receiver's idempotency key).
    pub message_id: String,
    pub platform_id: String,
    /// The JSON body, as sent on every attempt.
    pub body: String,
}

/// The Standard Webhooks signature of `body` for message `id` sent at `timestamp` (seconds).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Some(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// What a webhook event announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = WebhookEventType)]
pub enum EventType {
    /// The platform receives the lesson (new or changed): `data` is an upsert.
    #[serde(rename = "lesson.upserted")]
    LessonUpserted,
    /// The platform no longer receives the lesson: `data` is a tombstone.
    #[serde(rename = "lesson.removed")]
    LessonRemoved,
}

/// The body of a webhook message: a feed item with its type and when it was queued.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookEvent {
    #[serde(rename = "type")]
    pub kind: EventType,
    /// RFC 3339.
    pub timestamp: String,
    pub data: Item,
}

/// The event a feed item becomes.
fn event(platform: &PlatformRecord, item: &Item) -> Delivery {
    let kind = match item.op() {
        super::feed::ItemOp::Upsert => EventType::LessonUpserted,
        super::feed::ItemOp::Tombstone => EventType::LessonRemoved,
    };
    let message_id = format!(
        "msg_{}_{}_{}",
        platform.id,
        item.change_id(),
        item.lesson_id()
    );
    let event = WebhookEvent {
        kind,
        timestamp: crate::domain::time::rfc3339(crate::db::now_ms()),
        data: item.clone(),
    };
    // Through a `Value`, whose maps are sorted: the same bytes as ever for the same event.
    let body = serde_json::to_value(&event).unwrap_or_default();
    Delivery {
        message_id,
        platform_id: platform.id.clone(),
        body: body.to_string(),
    }
}

/// The settings of delivery.
#[derive(Debug, Clone)]
pub struct Settings {
    pub retry_for_ms: i64,
    pub backoff_ms: i64,
    pub timeout: Duration,
}

impl Settings {
    /// When to try again after `attempts` failures of a job queued at `created_at`; `None`
    /// once the retry window is over.
    pub fn retry_at(&self, attempts: i64, created_at: i64, now: i64) -> Option<i64> {
        let delay = self
            .backoff_ms
            .saturating_mul(1i64 << attempts.clamp(0, 30))
            .min(3_600_000);
        // Up to a fifth more at random, so receivers that come back are not hit all at once.
        let jitter = rand::random_range(0..=delay / 5 + 1);
        let at = now + delay + jitter;
        (now - created_at < self.retry_for_ms).then_some(at.min(created_at + self.retry_for_ms))
    }
}

/// Queues the feed items of every webhook platform; returns how many were queued.
pub async fn dispatch(feed: &Feed) -> Result<usize, super::feed::FeedError> {
    let db = &feed.db;
    let mut queued = 0;
    for p in db.webhook_platforms().await? {
        let cursor = if p.webhook_cursor.is_empty() {
            // A webhook starts with what happens from now on; the feed has the past.
            let head = Cursor::at(db.change_head().await?);
            db.move_webhook_cursor(&p.id, "", &head.encode(), &[])
                .await?;
            continue;
        } else {
            match Cursor::decode(&p.webhook_cursor) {
                Ok(c) => c,
                Err(_) => Cursor::at(db.change_head().await?),
            }
        };
        let caller = p.caller("webhook");
        let page = match feed.page(&caller, &cursor, 100).await {
            Ok(page) => page,
            Err(super::feed::FeedError::Gone) => {
                tracing::warn!(platform = %p.id, "webhook cursor behind the pruned change log; restarting at the head");
                let head = Cursor::at(db.change_head().await?);
                db.move_webhook_cursor(&p.id, &p.webhook_cursor, &head.encode(), &[])
                    .await?;
                continue;
            }
            Err(e) => return Err(e),
        };
        if page.cursor == cursor {
            continue;
        }
        let jobs: Vec<NewJob> = page
            .items
            .iter()
            .map(|i| {
                let payload = serde_json::to_string(&event(&p, i)).unwrap_or_default();
                NewJob::now(JobKind::Webhook, &p.id, &p.org_id, payload)
            })
            .collect();
        if db
            .move_webhook_cursor(&p.id, &p.webhook_cursor, &page.cursor.encode(), &jobs)
            .await?
        {
            queued += jobs.len();
        }
    }
    Ok(queued)
}

/// Why a delivery did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// Try again later (the receiver failed, or the network did).
    Retry(String),
    /// Trying again cannot help (the platform is gone, disabled, or has no webhook).
    Permanent(String),
}

/// Delivers one delivery job's message (its `payload`): the webhook job's handler, run by the
/// job runner. Idempotent for receivers: every attempt carries the same `webhook-id`.
/// Counted in `lectern_webhook_deliveries_total{result}`: `delivered`, `retry` (to be tried
/// again) or `failed` (never to be tried again).
pub async fn deliver(db: &Db, client: &reqwest::Client, payload: &str) -> Result<(), Failure> {
    let outcome = attempt(db, client, payload).await;
    let result = match &outcome {
        Ok(()) => "delivered",
        Err(Failure::Retry(_)) => "retry",
        Err(Failure::Permanent(_)) => "failed",
    };
    metrics::counter!("lectern_webhook_deliveries_total", "result" => result).increment(1);
    outcome
}

/// One attempt at a delivery (see [`deliver`]).
async fn attempt(db: &Db, client: &reqwest::Client, payload: &str) -> Result<(), Failure> {
    let d: Delivery = serde_json::from_str(payload)
        .map_err(|e| Failure::Permanent(format!("unreadable job: {e}")))?;
    let platform = db
        .platform(&d.platform_id)
        .await
        .map_err(|e| Failure::Retry(format!("database: {e}")))?
        .ok_or_else(|| Failure::Permanent("the platform no longer exists".into()))?;
    if platform.disabled_at.is_some() {
        return Err(Failure::Permanent("the platform is disabled".into()));
    }
    let (Some(url), Some(secret)) = (&platform.webhook_url, &platform.webhook_secret) else {
        return Err(Failure::Permanent("the platform has no webhook URL".into()));
    };
    let timestamp = crate::db::now_ms() / 1000;
    let signature = sign(secret, &d.message_id, timestamp, &d.body)
        .ok_or_else(|| Failure::Permanent("the webhook secret is not valid base64".into()))?;
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &d.message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(d.body)
        .send()
        .await
        .map_err(|e| Failure::Retry(format!("request failed: {e}")))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(Failure::Retry(format!("the receiver answered {status}")))
    }
}

/// The HTTP client deliveries are sent with: no redirects, `timeout` per attempt.
pub fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// Follows the change log for webhooks: queues delivery jobs whenever the head moves (and once
/// a second, for webhooks set since), until the task is aborted. It only reads the change log
/// and queues; the job runner delivers.
pub async fn follow(feed: Feed, mut head: tokio::sync::watch::Receiver<i64>) {
    loop {
        // Queue until idle, so a burst drains at full speed rather than a page per wake-up.
        loop {
            match dispatch(&feed).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not queue webhooks");
                    break;
                }
            }
        }
        tokio::select! {
            changed = head.changed() => {
                if changed.is_err() {
                    // The hub is gone: fall back to polling.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(
            sig.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn retries_back_off_and_stop_after_the_window() {
        let s = Settings {
            retry_for_ms: 24 * 3_600_000,
            backoff_ms: 5000,
            timeout: Duration::from_secs(10),
        };
        let first = s.retry_at(0, 0, 0).unwrap();
        let fifth = s.retry_at(4, 0, 0).unwrap();
        assert!((5000..=6001).contains(&first), "{first}");
        assert!((80_000..=96_001).contains(&fifth), "{fifth}");
        assert!(s.retry_at(40, 0, 0).unwrap() <= 3_600_000 * 6 / 5 + 1);
        assert_eq!(s.retry_at(3, 0, 24 * 3_600_000), None);
        // Never scheduled past the end of the window.
        assert!(s.retry_at(20, 0, 24 * 3_600_000 - 10).unwrap() <= 24 * 3_600_000);
    }
}
