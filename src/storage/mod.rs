//! Object storage: the only place that uses `aws-sdk-s3`.
//!
//! Invariants:
//! - Bytes are reached only through the S3 API, also in the single-machine mode, where
//!   [`embedded`] runs an S3 endpoint inside the process.
//! - Objects are never overwritten: every write goes to a freshly generated key, and the catalogue
//!   maps content (by SHA-256) to keys. A replaced file therefore always has a new URL.

pub mod embedded;
mod multipart;

pub use multipart::{MIN_PART_SIZE, PART_SIZE, Part, PartBuffers, PartSink};

use aws_credential_types::Credentials;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use futures::Stream;
use std::time::Duration;

/// A failure talking to the object store. The message says which operation failed; the source
/// holds the SDK's whole story and is logged, never shown to clients.
#[derive(Debug, thiserror::Error)]
#[error("object storage: {op} failed{}", if *.unavailable { " (the store is unavailable)" } else { "" })]
pub struct StorageError {
    op: &'static str,
    /// Whether the store could not be reached or did not answer in time, or answered that it
    /// is failing itself: the caller did nothing wrong and may try again later.
    unavailable: bool,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl StorageError {
    fn new(op: &'static str, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            op,
            unavailable: false,
            source: Box::new(source),
        }
    }

    /// A failed SDK call, classified: no connection, a timeout, a 5xx answer or a missing bucket
    /// (the bucket is Lectern's own configuration, so its absence means the store is not the one
    /// that should be there) make the store unavailable.
    fn sdk<E>(op: &'static str, e: SdkError<E, HttpResponse>) -> Self
    where
        E: std::error::Error + aws_sdk_s3::error::ProvideErrorMetadata + Send + Sync + 'static,
    {
        let unavailable = match &e {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
            SdkError::ResponseError(_) => true,
            SdkError::ServiceError(s) => {
                s.raw().status().as_u16() >= 500 || s.err().code() == Some("NoSuchBucket")
            }
            _ => false,
        };
        Self {
            op,
            unavailable,
            source: Box::new(e),
        }
    }

    /// Whether the store was unavailable (as opposed to refusing this one request).
    pub fn is_unavailable(&self) -> bool {
        self.unavailable
    }

    /// A read of an object's body that stalled for longer than the store's timeout.
    fn stalled(op: &'static str) -> Self {
        Self {
            op,
            unavailable: true,
            source: Box::new(Stalled),
        }
    }

    /// Saved state about stored objects that cannot be read back (a bug or a damaged database).
    pub fn corrupt_state(what: &'static str) -> Self {
        Self::new("read saved upload state", MissingField(what))
    }
}

/// Where the object store is and how to sign for it.
#[derive(Clone)]
pub struct S3Settings {
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    /// How long one request may take before it counts as failed (and is retried, up to three
    /// attempts in all), and how long a body being read may go without bytes. Connecting has
    /// a bound of its own, [`CONNECT_TIMEOUT`].
    pub timeout: Duration,
}

/// How long connecting to the store may take: a store that does not accept a connection in this
/// time is treated as down.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A bucket in an S3-compatible store.
#[derive(Clone, Debug)]
pub struct ObjectStore {
    client: aws_sdk_s3::Client,
    bucket: String,
    /// See [`S3Settings::timeout`].
    timeout: Duration,
    /// Whether request bodies are covered by the SigV4 signature (see [`signs_payloads`]).
    sign_payloads: bool,
    /// The bucket's folder when the store is the embedded endpoint of this process: object
    /// bodies are then read from it directly (see [`ObjectStore::serving_folder`]).
    folder: Option<std::path::PathBuf>,
    /// Buffers for the parts of multipart uploads, reused across uploads (see [`PartSink`]).
    buffers: PartBuffers,
    /// `scheme://host[:port]` of the endpoint: where presigned URLs point.
    origin: String,
}

/// How long completing a multipart upload of `size` bytes may take: the bound of one request,
/// and a second more for every 32 MiB joined.
fn complete_timeout(request: Duration, size: i64) -> Duration {
    request + Duration::from_secs((size.max(0) as u64) / (32 * 1024 * 1024))
}

/// `scheme://authority` of an endpoint URL (empty when it has no scheme).
fn origin_of(endpoint: &str) -> String {
    let Some((scheme, rest)) = endpoint.split_once("://") else {
        return String::new();
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    format!("{}://{authority}", scheme.to_ascii_lowercase())
}

/// Whether bodies sent to `endpoint` should be signed. Signing a body costs a SHA-256 pass over
/// every byte on each side; it guards the body in transit, which matters over plain HTTP across a
/// network. Under TLS the transport already guards it, and on loopback (the embedded endpoint)
/// nothing is in transit; there the body goes as `UNSIGNED-PAYLOAD`. Lectern's own SHA-256 of
/// every file is computed either way.
pub fn signs_payloads(endpoint: &str) -> bool {
    let Some((scheme, rest)) = endpoint.split_once("://") else {
        return true;
    };
    if scheme.eq_ignore_ascii_case("https") {
        return false;
    }
    let authority = rest.split('/').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !loopback
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    /// Unix milliseconds (0 when the store did not say).
    pub modified_ms: i64,
}

/// The body of an object being read.
pub type ObjectBody = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// An `aws-sdk-s3` client for `s`, configured as Lectern uses it: path-style addressing, and no
/// extra CRC32 per request (Lectern computes its own SHA-256 of everything it stores). Public so
/// that tests and benchmarks talk to the same endpoint exactly as Lectern does.
pub fn sdk_client(s: &S3Settings) -> aws_sdk_s3::Client {
    let credentials = Credentials::new(&s.access_key, &s.secret_key, None, None, "lectern");
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(s.region.clone()))
        .endpoint_url(&s.endpoint)
        .credentials_provider(credentials)
        .force_path_style(true)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        // Without these, a store that accepts connections but never answers (a frozen process,
        // a full disk behind it) holds every request that touches it forever.
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT.min(s.timeout))
                .read_timeout(s.timeout)
                .operation_attempt_timeout(s.timeout)
                .build(),
        )
        .interceptor(Observed)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Times every call to object storage (all its attempts) for the metrics:
/// `lectern_s3_request_duration_seconds{operation}` and `lectern_s3_requests_total{operation,
/// result}` (`result` is `error` for anything but a success, a missing object included).
#[derive(Debug)]
struct Observed;

/// When the call began, kept in the call's own configuration bag.
#[derive(Debug, Clone)]
struct Began(std::time::Instant);

impl aws_smithy_types::config_bag::Storable for Began {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

impl aws_sdk_s3::config::Intercept for Observed {
    fn name(&self) -> &'static str {
        "lectern-metrics"
    }

    fn read_before_execution(
        &self,
        _context: &aws_sdk_s3::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        cfg.interceptor_state()
            .store_put(Began(std::time::Instant::now()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &aws_sdk_s3::config::interceptors::FinalizerInterceptorContextRef<'_>,
        _components: &aws_sdk_s3::config::RuntimeComponents,
        cfg: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        let operation = cfg
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
            .map_or_else(|| "unknown".to_owned(), |m| m.name().to_owned());
        let result = match context.output_or_error() {
            Some(Ok(_)) => "ok",
            _ => "error",
        };
        if let Some(Began(at)) = cfg.load::<Began>() {
            metrics::histogram!("lectern_s3_request_duration_seconds", "operation" => operation.clone())
                .record(at.elapsed().as_secs_f64());
        }
        metrics::counter!("lectern_s3_requests_total", "operation" => operation, "result" => result)
            .increment(1);
        Ok(())
    }
}

impl ObjectStore {
    pub fn new(s: &S3Settings) -> Self {
        Self {
            client: sdk_client(s),
            bucket: s.bucket.clone(),
            timeout: s.timeout,
            sign_payloads: signs_payloads(&s.endpoint),
            folder: None,
            buffers: PartBuffers::default(),
            origin: origin_of(&s.endpoint),
        }
    }

    /// `scheme://host[:port]` of the endpoint presigned URLs point at (path-style addressing:
    /// the bucket is in the path), for a page's content security policy.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The pool of part buffers that every upload through this store fills and [`PartSink`]
    /// gives stored parts back to.
    pub fn part_buffers(&self) -> PartBuffers {
        self.buffers.clone()
    }

    /// Reads object bodies straight from `root`, the folder of the embedded endpoint that this
    /// process serves, instead of over loopback HTTP. A download through S3 on loopback crosses
    /// two more HTTP stacks and sockets on the same cores as the endpoint itself: 59 % of a
    /// direct GET, against 100 % read from the file (BENCHMARKS.md). Everything else (writes,
    /// listing, errors: a missing file falls back to S3) still goes through S3.
    pub fn serving_folder(mut self, root: &std::path::Path) -> Self {
        self.folder = Some(root.join(&self.bucket));
        self
    }

    /// Creates the bucket unless it exists.
    pub async fn ensure_bucket(&self) -> Result<(), StorageError> {
        if self
            .client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        match self
            .client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let code = e.as_service_error().and_then(|s| {
                    use aws_sdk_s3::error::ProvideErrorMetadata;
                    s.code().map(str::to_owned)
                });
                match code.as_deref() {
                    Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists") => Ok(()),
                    _ => Err(StorageError::sdk("create bucket", e)),
                }
            }
        }
    }

    /// Checks that the bucket answers.
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StorageError::sdk("head bucket", e))
    }

    /// Writes a small object in one request.
    pub async fn put(
        &self,
        key: &str,
        body: Bytes,
        content_type: &str,
    ) -> Result<(), StorageError> {
        let op = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .customize();
        let op = if self.sign_payloads {
            op
        } else {
            op.disable_payload_signing()
        };
        op.send()
            .await
            .map(|_| ())
            .map_err(|e| StorageError::sdk("put object", e))
    }

    /// Writes a file in one request, streamed from disk (media segments, a finished rendition):
    /// its bytes are never all in memory.
    pub async fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        content_type: &str,
    ) -> Result<(), StorageError> {
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| StorageError::new("read file", e))?;
        let op = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(body)
            .customize();
        let op = if self.sign_payloads {
            op
        } else {
            op.disable_payload_signing()
        };
        op.send()
            .await
            .map(|_| ())
            .map_err(|e| StorageError::sdk("put object", e))
    }

    /// Reads a whole (small) object into memory.
    pub async fn get_bytes(&self, key: &str) -> Result<Bytes, StorageError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| StorageError::sdk("get object", e))?;
        let data = tokio::time::timeout(self.timeout, out.body.collect())
            .await
            .map_err(|_| StorageError::stalled("read object"))?
            .map_err(|e| StorageError::new("read object", e))?;
        Ok(data.into_bytes())
    }

    /// Streams an object, or the inclusive byte range `range` of it.
    pub async fn get(
        &self,
        key: &str,
        range: Option<(u64, u64)>,
    ) -> Result<ObjectBody, StorageError> {
        if let Some(body) = self.read_local(key, range).await {
            return Ok(body);
        }
        let mut req = self.client.get_object().bucket(&self.bucket).key(key);
        if let Some((start, end)) = range {
            req = req.range(format!("bytes={start}-{end}"));
        }
        let out = req
            .send()
            .await
            .map_err(|e| StorageError::sdk("get object", e))?;
        // A body that stops arriving ends with an error after the timeout, rather than holding
        // the download (and its connection) open forever.
        let timeout = self.timeout;
        let stream = futures::stream::unfold(Some(out.body), move |body| async move {
            let mut body = body?;
            match tokio::time::timeout(timeout, body.next()).await {
                Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(body))),
                Ok(Some(Err(e))) => Some((Err(std::io::Error::other(e)), None)),
                Ok(None) => None,
                Err(_) => Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        StorageError::stalled("read object"),
                    )),
                    None,
                )),
            }
        });
        Ok(Box::pin(stream))
    }

    /// The object's bytes from the embedded endpoint's folder, when this store has one and the
    /// file is there and long enough; `None` sends the read through S3.
    async fn read_local(&self, key: &str, range: Option<(u64, u64)>) -> Option<ObjectBody> {
        let path = embedded::object_file(self.folder.as_ref()?, key)?;
        let size = tokio::fs::metadata(&path).await.ok()?.len();
        let (start, end) = range.unwrap_or((0, size.checked_sub(1)?));
        if end >= size || start > end {
            return None;
        }
        let body = embedded::read_file(&path, start, end - start + 1)
            .await
            .ok()?;
        Some(Box::pin(body))
    }

    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StorageError::sdk("delete object", e))
    }

    /// Every key under `prefix` (for operations and tests; paginates through the whole listing).
    pub async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        Ok(self
            .list_objects(prefix)
            .await?
            .into_iter()
            .map(|o| o.key)
            .collect())
    }

    /// Every object under `prefix` with its size and last modification (the whole listing).
    pub async fn list_objects(&self, prefix: &str) -> Result<Vec<Listed>, StorageError> {
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| StorageError::sdk("list objects", e))?;
            objects.extend(out.contents().iter().filter_map(|o| {
                Some(Listed {
                    key: o.key()?.to_owned(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                    modified_ms: o.last_modified().map_or(0, |t| t.to_millis().unwrap_or(0)),
                })
            }));
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => return Ok(objects),
            }
        }
    }

    /// A URL that lets anyone holding it read the object for `ttl`, answered with the given
    /// content type and disposition where the store honours the `response-*` parameters.
    pub async fn presign_get(
        &self,
        key: &str,
        ttl: Duration,
        content_type: &str,
        disposition: &str,
    ) -> Result<String, StorageError> {
        let config =
            PresigningConfig::expires_in(ttl).map_err(|e| StorageError::new("presign", e))?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_type(content_type)
            .response_content_disposition(disposition)
            .presigned(config)
            .await
            .map_err(|e| StorageError::sdk("presign", e))?;
        Ok(req.uri().to_owned())
    }

    pub async fn create_multipart(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<String, StorageError> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| StorageError::sdk("create multipart upload", e))?;
        out.upload_id
            .ok_or_else(|| StorageError::new("create multipart upload", MissingField("UploadId")))
    }

    pub async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        body: Bytes,
    ) -> Result<String, StorageError> {
        let op = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .customize();
        let op = if self.sign_payloads {
            op
        } else {
            op.disable_payload_signing()
        };
        let out = op
            .send()
            .await
            .map_err(|e| StorageError::sdk("upload part", e))?;
        out.e_tag
            .ok_or_else(|| StorageError::new("upload part", MissingField("ETag")))
    }

    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[Part],
    ) -> Result<(), StorageError> {
        use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
        let size: i64 = parts.iter().map(|p| p.size).sum();
        let parts = parts
            .iter()
            .map(|p| {
                CompletedPart::builder()
                    .part_number(p.number)
                    .e_tag(&p.etag)
                    .build()
            })
            .collect();
        // Completing joins every part into one object: a store may take seconds per GiB (the
        // embedded one copies the bytes), so the attempt may take longer than one request's
        // bound — a second more for every 32 MiB. A 4 GiB upload on a busy machine overran the
        // plain bound, and the retry then found the upload already completed (and refused).
        let patience = complete_timeout(self.timeout, size);
        let done = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .customize()
            .config_override(
                aws_sdk_s3::config::Builder::default().timeout_config(
                    TimeoutConfig::builder()
                        .connect_timeout(CONNECT_TIMEOUT.min(self.timeout))
                        .read_timeout(patience)
                        .operation_attempt_timeout(patience)
                        .build(),
                ),
            )
            .send()
            .await;
        match done {
            Ok(_) => Ok(()),
            // An attempt that timed out may have completed the upload all the same, and the
            // retry is then refused (the upload is gone): the object is there, whole.
            Err(e) if self.object_size(key).await == Some(size) => {
                tracing::warn!(
                    key,
                    error = %aws_sdk_s3::error::DisplayErrorContext(&e),
                    "completing a multipart upload was refused after it had completed; the object is whole"
                );
                Ok(())
            }
            Err(e) => Err(StorageError::sdk("complete multipart upload", e)),
        }
    }

    /// The size of object `key`, if it exists (`None` too when the store cannot say).
    async fn object_size(&self, key: &str) -> Option<i64> {
        self.client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .ok()
            .and_then(|h| h.content_length())
    }

    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), StorageError> {
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StorageError::sdk("abort multipart upload", e))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the response had no {0}")]
struct MissingField(&'static str);

#[derive(Debug, thiserror::Error)]
#[error("no bytes arrived within the storage timeout")]
struct Stalled;

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    /// Every read of the embedded endpoint's objects gives the same bytes: over S3 (whole, and
    /// ranges that s3s-fs used to read past) and straight from its folder.
    #[tokio::test]
    async fn the_embedded_folder_serves_the_same_bytes_over_s3_and_from_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let server = embedded::EmbeddedS3::start(dir.path(), "127.0.0.1:0", "ak", "sk-secret")
            .await
            .unwrap();
        let settings = S3Settings {
            endpoint: server.endpoint(),
            region: "us-east-1".into(),
            bucket: "lectern-test".into(),
            access_key: "ak".into(),
            secret_key: "sk-secret".into(),
            timeout: Duration::from_secs(10),
        };
        let over_s3 = ObjectStore::new(&settings);
        over_s3.ensure_bucket().await.unwrap();
        let local = ObjectStore::new(&settings).serving_folder(&server.root);
        // Three and a half read chunks of distinct bytes.
        let data: Vec<u8> = (0..(3 * 1024 * 1024 + 512 * 1024) as u32)
            .map(|i| (i % 251) as u8)
            .collect();
        over_s3
            .put(
                "objects/x",
                Bytes::from(data.clone()),
                "application/octet-stream",
            )
            .await
            .unwrap();
        let n = data.len() as u64;
        for range in [
            None,
            Some((0, 0)),
            Some((5, 1_048_580)),
            Some((n - 10, n - 1)),
        ] {
            let want = match range {
                None => &data[..],
                Some((a, b)) => &data[a as usize..=b as usize],
            };
            for store in [&over_s3, &local] {
                let body: Vec<Bytes> = store
                    .get("objects/x", range)
                    .await
                    .unwrap()
                    .try_collect()
                    .await
                    .unwrap();
                assert_eq!(
                    body.concat(),
                    want,
                    "{range:?} local={}",
                    store.folder.is_some()
                );
            }
        }
        // A key that is not plain path parts never reaches the folder.
        assert!(embedded::object_file(&server.root, "../etc/passwd").is_none());
        assert!(embedded::object_file(&server.root, "/etc/passwd").is_none());
    }

    #[test]
    fn bodies_are_signed_only_over_plain_http_across_a_network() {
        assert!(signs_payloads("http://garage.internal:3900"));
        assert!(signs_payloads("http://10.0.0.5:9000"));
        assert!(!signs_payloads("https://s3.amazonaws.com"));
        assert!(!signs_payloads("http://127.0.0.1:8081"));
        assert!(!signs_payloads("http://localhost:5055"));
        assert!(!signs_payloads("http://[::1]:9000"));
        assert!(signs_payloads("garbage"));
    }

    #[test]
    fn the_origin_is_the_scheme_and_authority_of_the_endpoint() {
        assert_eq!(origin_of("http://127.0.0.1:8081"), "http://127.0.0.1:8081");
        assert_eq!(
            origin_of("HTTPS://s3.example.org/base?x"),
            "https://s3.example.org"
        );
        assert_eq!(origin_of("http://[::1]:9000/"), "http://[::1]:9000");
        assert_eq!(origin_of("garbage"), "");
    }

    #[test]
    fn completing_a_large_upload_may_take_longer_than_one_request() {
        let request = Duration::from_secs(30);
        assert_eq!(complete_timeout(request, 0), request);
        assert_eq!(
            complete_timeout(request, 4 * 1024 * 1024 * 1024),
            Duration::from_secs(30 + 128)
        );
    }
}
