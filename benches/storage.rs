//! Storage benchmark: upload/download throughput through Lectern versus direct S3, and the peak
//! RSS of the service while it ingests large files. See BENCHMARKS.md.
//!
//! Needs a release build of the service first:
//!
//! ```text
//! cargo build --release && cargo bench --bench storage
//! ```
//!
//! Settings (environment variables, all optional):
//! - `LECTERN_BENCH_SIZE_MIB`      size of the throughput file (default 1024)
//! - `LECTERN_BENCH_RUNS`          repetitions of each throughput measurement (default 3)
//! - `LECTERN_BENCH_RANGE_MIB`     length of the ranged download (default 256)
//! - `LECTERN_BENCH_TUS_CHUNK_MIB` body size of each tus PATCH (default 32)
//! - `LECTERN_BENCH_RSS_SIZES_MIB` comma-separated upload sizes for the RSS test (default 1024,4096)
//! - `LECTERN_BENCH_RSS_RUNS`      repetitions of each RSS measurement (default 2)
//! - `LECTERN_BENCH_RSS_MODES`     `plain`, `tus` or both, comma-separated (default plain,tus)
//! - `LECTERN_BENCH_SKIP`          comma-separated sections to skip: upload, download, rss
//! - `LECTERN_BENCH_DIR`           where the temporary folder is created (default: system temp)
//! - `LECTERN_BENCH_BIN`           the `lectern` binary (default: target/release/lectern)
//! - `LECTERN_BENCH_S3_ENDPOINT`   also run everything against this external S3 endpoint, with
//!   `LECTERN_BENCH_S3_ACCESS_KEY`, `LECTERN_BENCH_S3_SECRET_KEY`, `LECTERN_BENCH_S3_BUCKET`
//!   (defaults bench, benchsecret, lectern-bench)

use anyhow::{Context, Result, anyhow, bail, ensure};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use base64::Engine;
use bytes::BytesMut;
use futures::StreamExt;
use std::collections::VecDeque;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::task::JoinHandle;

const MIB: u64 = 1024 * 1024;
/// What Lectern uses: 8 MiB parts, two in flight.
const PART_SIZE: u64 = 8 * MIB;
const IN_FLIGHT: usize = 2;
/// A valid MP4 `ftyp` box followed by an empty `free` box; Lectern's sniffer accepts this.
const MP4_HEAD: &[u8] = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom\x00\x00\x00\x08free";
/// Where the per-upload counter is written, so no two uploads have the same bytes (and SHA-256).
const VARY_AT: u64 = 4096;

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, got {v:?}")),
        _ => default,
    }
}

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

struct Settings {
    size: u64,
    runs: usize,
    range_len: u64,
    tus_chunk: u64,
    rss_sizes: Vec<u64>,
    rss_runs: usize,
    rss_modes: Vec<String>,
    skip: Vec<String>,
    bin: PathBuf,
}

impl Settings {
    fn load() -> Self {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let bin = std::env::var("LECTERN_BENCH_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|_| manifest.join("target/release/lectern"));
        Self {
            size: env_u64("LECTERN_BENCH_SIZE_MIB", 1024) * MIB,
            runs: env_u64("LECTERN_BENCH_RUNS", 3).max(1) as usize,
            range_len: env_u64("LECTERN_BENCH_RANGE_MIB", 256) * MIB,
            tus_chunk: env_u64("LECTERN_BENCH_TUS_CHUNK_MIB", 32).max(1) * MIB,
            rss_sizes: env_list("LECTERN_BENCH_RSS_SIZES_MIB", "1024,4096")
                .iter()
                .map(|s| {
                    s.parse::<u64>()
                        .expect("LECTERN_BENCH_RSS_SIZES_MIB: whole MiB numbers")
                        * MIB
                })
                .collect(),
            rss_runs: env_u64("LECTERN_BENCH_RSS_RUNS", 2).max(1) as usize,
            rss_modes: env_list("LECTERN_BENCH_RSS_MODES", "plain,tus"),
            skip: env_list("LECTERN_BENCH_SKIP", ""),
            bin,
        }
    }

    fn runs_section(&self, name: &str) -> bool {
        !self.skip.iter().any(|s| s == name)
    }
}

/// Where the objects live and how the bench reaches them directly.
#[derive(Clone)]
struct Target {
    label: String,
    /// `None`: the service's embedded endpoint.
    external_endpoint: Option<String>,
    bucket: String,
    access_key: String,
    secret_key: String,
}

// ---------------------------------------------------------------------------------------------
// Test file

/// Writes `len` bytes: the MP4 signature, then xorshift64 noise.
fn generate_file(path: &Path, len: u64) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(4 * 1024 * 1024, file);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut written = 0u64;
    let mut block = vec![0u8; MIB as usize];
    while written < len {
        for chunk in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        if written == 0 {
            block[..MP4_HEAD.len()].copy_from_slice(MP4_HEAD);
        }
        let n = (len - written).min(block.len() as u64) as usize;
        out.write_all(&block[..n])?;
        written += n as u64;
    }
    out.flush()?;
    Ok(())
}

/// Makes the next upload's bytes differ from every earlier one (Lectern deduplicates by SHA-256).
fn vary(path: &Path, counter: &mut u64) -> Result<()> {
    *counter += 1;
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    file.write_all_at(&counter.to_le_bytes(), VARY_AT)?;
    Ok(())
}

/// The first `len` bytes of `path` as a streaming request body, starting at `offset`.
async fn file_body(path: &Path, offset: u64, len: u64) -> Result<reqwest::Body> {
    let mut file = tokio::fs::File::open(path).await?;
    file.seek(std::io::SeekFrom::Start(offset)).await?;
    let stream = tokio_util::io::ReaderStream::with_capacity(file.take(len), 256 * 1024);
    Ok(reqwest::Body::wrap_stream(stream))
}

// ---------------------------------------------------------------------------------------------
// The service under test

struct Service {
    child: tokio::process::Child,
    pid: u32,
    base: String,
    s3_endpoint: String,
    token: String,
    lesson_id: String,
    http: reqwest::Client,
    log: PathBuf,
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Service {
    async fn start(settings: &Settings, target: &Target, dir: &Path, name: &str) -> Result<Self> {
        if !settings.bin.exists() {
            bail!(
                "{} does not exist: build the service first with `cargo build --release` \
                 (or point LECTERN_BENCH_BIN at a lectern binary)",
                settings.bin.display()
            );
        }
        let root = dir.join(name);
        std::fs::create_dir_all(&root)?;
        let port = free_port()?;
        let s3_port = free_port()?;
        let mut envs: Vec<(&str, String)> = vec![
            ("LECTERN_BIND", format!("127.0.0.1:{port}")),
            ("LECTERN_DATA_DIR", root.join("data").display().to_string()),
            (
                "LECTERN_INDEX_DIR",
                root.join("index").display().to_string(),
            ),
            ("LECTERN_S3_ACCESS_KEY", target.access_key.clone()),
            ("LECTERN_S3_SECRET_KEY", target.secret_key.clone()),
            ("LECTERN_S3_BUCKET", target.bucket.clone()),
            ("LECTERN_S3_REGION", "us-east-1".into()),
            ("RUST_LOG", "warn".into()),
        ];
        let s3_endpoint = match &target.external_endpoint {
            Some(url) => {
                envs.push(("LECTERN_S3_ENDPOINT", url.clone()));
                url.clone()
            }
            None => {
                envs.push(("LECTERN_S3_ENDPOINT", String::new()));
                envs.push(("LECTERN_S3_EMBEDDED_BIND", format!("127.0.0.1:{s3_port}")));
                format!("http://127.0.0.1:{s3_port}")
            }
        };
        let log = root.join("service.log");
        let log_file = std::fs::File::create(&log)?;
        let mut cmd = tokio::process::Command::new(&settings.bin);
        cmd.arg("serve")
            .env_remove("LECTERN_CONFIG")
            .current_dir(&root)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true);
        for (k, v) in &envs {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", settings.bin.display()))?;
        let pid = child
            .id()
            .ok_or_else(|| anyhow!("the service exited at once"))?;
        let http = reqwest::Client::builder().no_proxy().build()?;
        let base = format!("http://127.0.0.1:{port}");

        let mut service = Self {
            child,
            pid,
            base,
            s3_endpoint,
            token: String::new(),
            lesson_id: String::new(),
            http,
            log,
        };
        service.wait_ready().await?;

        let mut token_cmd = tokio::process::Command::new(&settings.bin);
        token_cmd
            .args(["token", "create", "--name", "bench"])
            .env_remove("LECTERN_CONFIG")
            .current_dir(&root)
            .stdin(Stdio::null());
        for (k, v) in &envs {
            token_cmd.env(k, v);
        }
        let out = token_cmd
            .output()
            .await
            .context("running `lectern token create`")?;
        ensure!(
            out.status.success(),
            "`lectern token create` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        service.token = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .ok_or_else(|| anyhow!("`lectern token create` printed nothing"))?
            .trim()
            .to_owned();

        let resp = service
            .http
            .post(format!("{}/api/v1/lessons", service.base))
            .bearer_auth(&service.token)
            .json(&serde_json::json!({ "title": "基准测试", "kind": "video" }))
            .send()
            .await?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        ensure!(
            status.as_u16() == 201,
            "POST /api/v1/lessons answered {status}: {body}"
        );
        service.lesson_id = body["id"]
            .as_str()
            .ok_or_else(|| anyhow!("POST /api/v1/lessons: no id in {body}"))?
            .to_owned();
        Ok(service)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the service exited with {status}; log:\n{}",
                    self.log_tail()
                );
            }
            if let Ok(r) = self
                .http
                .get(format!("{}/health/ready", self.base))
                .send()
                .await
                && r.status().as_u16() == 200
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the service was not ready within 60 s; log:\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }

    fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("the service died ({status}); log:\n{}", self.log_tail());
        }
        Ok(())
    }

    /// `VmHWM` and `VmRSS` of the service, in bytes.
    fn memory(&self) -> Result<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let field = |name: &str| -> Result<u64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .ok_or_else(|| anyhow!("no {name} in /proc/{}/status", self.pid))?;
            let kb: u64 = line[name.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .with_context(|| format!("parsing {line:?}"))?;
            Ok(kb * 1024)
        };
        Ok((field("VmHWM:")?, field("VmRSS:")?))
    }

    /// Resets the service's peak RSS (`VmHWM`) to its current RSS.
    fn reset_peak(&self) -> Result<()> {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5")
            .with_context(|| format!("writing 5 to /proc/{}/clear_refs", self.pid))
    }

    /// Plain streaming upload; returns the asset id.
    async fn upload_plain(&self, path: &Path, len: u64) -> Result<String> {
        let url = format!(
            "{}/api/v1/lessons/{}/assets?role=master&filename=x.mp4",
            self.base, self.lesson_id
        );
        let resp = self
            .http
            .post(&url)
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_LENGTH, len)
            .header(reqwest::header::CONTENT_TYPE, "video/mp4")
            .body(file_body(path, 0, len).await?)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        ensure!(
            status.as_u16() == 201,
            "POST {url} answered {status}: {body}"
        );
        let size = body["size"].as_u64();
        ensure!(
            size.is_none_or(|s| s == len),
            "POST {url}: asset size {size:?}, sent {len}"
        );
        body["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("POST {url}: no id in {body}"))
    }

    /// tus upload in `chunk`-byte PATCHes; returns the asset id.
    async fn upload_tus(&self, path: &Path, len: u64, chunk: u64) -> Result<String> {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let metadata = format!(
            "lesson_id {},role {},filename {}",
            b64(&self.lesson_id),
            b64("master"),
            b64("x.mp4")
        );
        let url = format!("{}/api/v1/uploads", self.base);
        let resp = self
            .http
            .post(&url)
            .bearer_auth(&self.token)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", len)
            .header("Upload-Metadata", metadata)
            .send()
            .await?;
        let status = resp.status();
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = resp.text().await.unwrap_or_default();
        ensure!(
            status.as_u16() == 201,
            "POST {url} answered {status}: {text}"
        );
        let location = location.ok_or_else(|| anyhow!("POST {url}: no Location"))?;
        let patch_url = if location.starts_with("http") {
            location
        } else {
            format!("{}{}", self.base, location)
        };
        let mut offset = 0u64;
        loop {
            let n = chunk.min(len - offset);
            let resp = self
                .http
                .patch(&patch_url)
                .bearer_auth(&self.token)
                .header("Tus-Resumable", "1.0.0")
                .header("Upload-Offset", offset)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/offset+octet-stream",
                )
                .header(reqwest::header::CONTENT_LENGTH, n)
                .body(file_body(path, offset, n).await?)
                .send()
                .await
                .with_context(|| format!("PATCH {patch_url} at {offset}"))?;
            let status = resp.status();
            let new_offset = resp
                .headers()
                .get("upload-offset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let asset = resp
                .headers()
                .get("lectern-asset-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let text = resp.text().await.unwrap_or_default();
            ensure!(
                status.as_u16() == 204,
                "PATCH {patch_url} (Upload-Offset {offset}, {n} bytes) answered {status}: {text}"
            );
            ensure!(
                new_offset == Some(offset + n),
                "PATCH {patch_url}: Upload-Offset {new_offset:?}, expected {}",
                offset + n
            );
            offset += n;
            if offset == len {
                return asset
                    .ok_or_else(|| anyhow!("final PATCH {patch_url}: no Lectern-Asset-Id"));
            }
        }
    }

    /// The object key behind asset `id`, read off its presigned URL.
    async fn object_key(&self, id: &str, bucket: &str) -> Result<String> {
        let url = format!("{}/api/v1/assets/{id}/url", self.base);
        let resp = self.http.get(&url).bearer_auth(&self.token).send().await?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        ensure!(status.is_success(), "GET {url} answered {status}: {body}");
        let presigned = body["url"]
            .as_str()
            .ok_or_else(|| anyhow!("GET {url}: no url in {body}"))?;
        let path = presigned
            .split_once("://")
            .map(|(_, rest)| rest)
            .and_then(|rest| rest.split_once('/'))
            .map(|(_, path)| path.split('?').next().unwrap_or(path))
            .ok_or_else(|| anyhow!("cannot parse presigned URL {presigned}"))?;
        let key = path.strip_prefix(&format!("{bucket}/")).ok_or_else(|| {
            anyhow!("presigned URL {presigned} is not path-style for bucket {bucket}")
        })?;
        Ok(percent_decode(key))
    }

    /// Deletes an asset and its object (every upload in the bench is unique, so nothing else
    /// refers to the object); keeps the disk from filling up over many GiB of uploads.
    async fn discard(&self, s3: &aws_sdk_s3::Client, bucket: &str, id: &str) -> Result<()> {
        let key = self.object_key(id, bucket).await?;
        let url = format!("{}/api/v1/assets/{id}", self.base);
        let resp = self
            .http
            .delete(&url)
            .bearer_auth(&self.token)
            .send()
            .await?;
        ensure!(
            resp.status().is_success(),
            "DELETE {url} answered {}",
            resp.status()
        );
        s3.delete_object().bucket(bucket).key(&key).send().await?;
        Ok(())
    }

    /// Downloads asset `id` (or the inclusive `range` of it); returns the bytes received.
    async fn download(&self, id: &str, range: Option<(u64, u64)>) -> Result<u64> {
        let url = format!("{}/api/v1/assets/{id}/content", self.base);
        let mut req = self.http.get(&url).bearer_auth(&self.token);
        if let Some((a, b)) = range {
            req = req.header(reqwest::header::RANGE, format!("bytes={a}-{b}"));
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let expected = if range.is_some() { 206 } else { 200 };
        ensure!(
            status == expected,
            "GET {url} (range {range:?}) answered {status}"
        );
        let mut stream = resp.bytes_stream();
        let mut n = 0u64;
        while let Some(chunk) = stream.next().await {
            n += chunk.with_context(|| format!("reading GET {url}"))?.len() as u64;
        }
        Ok(n)
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

// ---------------------------------------------------------------------------------------------
// Direct S3

fn s3_client(endpoint: &str, target: &Target) -> aws_sdk_s3::Client {
    lectern::storage::sdk_client(&lectern::storage::S3Settings {
        endpoint: endpoint.to_owned(),
        region: "us-east-1".into(),
        bucket: target.bucket.clone(),
        access_key: target.access_key.clone(),
        secret_key: target.secret_key.clone(),
        timeout: std::time::Duration::from_secs(30),
    })
}

/// Multipart upload of the first `len` bytes of `path`, 8 MiB parts, two in flight.
/// Returns (total time, time of CompleteMultipartUpload alone).
async fn direct_upload(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    path: &Path,
    len: u64,
) -> Result<(Duration, Duration)> {
    let start = Instant::now();
    let created = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .content_type("video/mp4")
        .send()
        .await
        .context("CreateMultipartUpload")?;
    let upload_id = created
        .upload_id()
        .ok_or_else(|| anyhow!("CreateMultipartUpload: no UploadId"))?
        .to_owned();
    let mut file = tokio::fs::File::open(path).await?;
    let mut in_flight: VecDeque<JoinHandle<Result<CompletedPart>>> = VecDeque::new();
    let mut parts = Vec::new();
    let mut offset = 0u64;
    let mut number = 1i32;
    while offset < len {
        let n = PART_SIZE.min(len - offset) as usize;
        let mut buf = BytesMut::zeroed(n);
        file.read_exact(&mut buf).await?;
        offset += n as u64;
        if in_flight.len() >= IN_FLIGHT {
            parts.push(in_flight.pop_front().expect("non-empty").await??);
        }
        let (s3, bucket, key, upload_id) = (
            s3.clone(),
            bucket.to_owned(),
            key.to_owned(),
            upload_id.clone(),
        );
        in_flight.push_back(tokio::spawn(async move {
            let out = s3
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(buf.freeze()))
                .send()
                .await
                .with_context(|| format!("UploadPart {number}"))?;
            Ok(CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag().map(str::to_owned))
                .build())
        }));
        number += 1;
    }
    while let Some(h) = in_flight.pop_front() {
        parts.push(h.await??);
    }
    let complete_start = Instant::now();
    s3.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .context("CompleteMultipartUpload")?;
    Ok((start.elapsed(), complete_start.elapsed()))
}

async fn direct_download(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    range: Option<(u64, u64)>,
) -> Result<u64> {
    let mut req = s3.get_object().bucket(bucket).key(key);
    if let Some((a, b)) = range {
        req = req.range(format!("bytes={a}-{b}"));
    }
    let mut out = req
        .send()
        .await
        .with_context(|| format!("GetObject {key} {range:?}"))?;
    let mut n = 0u64;
    while let Some(chunk) = out.body.next().await {
        n += chunk.context("reading GetObject body")?.len() as u64;
    }
    Ok(n)
}

// ---------------------------------------------------------------------------------------------
// Reporting

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn mib_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / MIB as f64 / d.as_secs_f64()
}

fn fmt_runs(xs: &[f64]) -> String {
    xs.iter()
        .map(|x| format!("{x:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

struct ThroughputRow {
    what: String,
    bytes: u64,
    lectern: Vec<f64>,
    direct: Vec<f64>,
    target: f64,
}

struct RssRow {
    mode: String,
    bytes: u64,
    baseline: Vec<f64>,
    peak: Vec<f64>,
    throughput: Vec<f64>,
}

fn print_tables(label: &str, rows: &[ThroughputRow], rss: &[RssRow], notes: &[String]) {
    println!();
    println!("### {label}");
    println!();
    if !rows.is_empty() {
        println!(
            "| Measurement | Size | Lectern MiB/s (median) | Direct S3 MiB/s (median) | Lectern / direct | Target | Met | Lectern runs | Direct runs |"
        );
        println!("|---|---:|---:|---:|---:|---:|:-:|---|---|");
        for r in rows {
            let (l, d) = (median(&r.lectern), median(&r.direct));
            let ratio = l / d;
            println!(
                "| {} | {} MiB | {:.0} | {:.0} | {:.0}% | ≥ {:.0}% | {} | {} | {} |",
                r.what,
                r.bytes / MIB,
                l,
                d,
                ratio * 100.0,
                r.target * 100.0,
                if ratio >= r.target { "yes" } else { "**no**" },
                fmt_runs(&r.lectern),
                fmt_runs(&r.direct),
            );
        }
        println!();
    }
    if !rss.is_empty() {
        println!(
            "| Peak RSS while uploading | Size | VmRSS before (MiB, median) | Peak VmHWM (MiB, median) | Peak VmHWM max (MiB) | Target | Met | Upload MiB/s (median) | Peak runs (MiB) |"
        );
        println!("|---|---:|---:|---:|---:|---:|:-:|---:|---|");
        for r in rss {
            let peak_max = r.peak.iter().cloned().fold(0.0, f64::max);
            println!(
                "| {} | {} MiB | {:.1} | {:.1} | {:.1} | < 150 MiB | {} | {:.0} | {} |",
                r.mode,
                r.bytes / MIB,
                median(&r.baseline),
                median(&r.peak),
                peak_max,
                if peak_max < 150.0 { "yes" } else { "**no**" },
                median(&r.throughput),
                r.peak
                    .iter()
                    .map(|x| format!("{x:.1}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
        println!();
    }
    for n in notes {
        println!("- {n}");
    }
}

// ---------------------------------------------------------------------------------------------
// The runs

async fn run_target(
    settings: &Settings,
    target: &Target,
    dir: &Path,
    file: &Path,
    counter: &mut u64,
) -> Result<()> {
    let mut rows = Vec::new();
    let mut rss_rows = Vec::new();
    let mut notes = Vec::new();
    let size = settings.size;
    let bucket = target.bucket.clone();

    let need_throughput = settings.runs_section("upload") || settings.runs_section("download");
    if need_throughput {
        eprintln!("[{}] starting the service for throughput", target.label);
        let mut service = Service::start(
            settings,
            target,
            dir,
            &format!("{}-throughput", target.label),
        )
        .await?;
        let s3 = s3_client(&service.s3_endpoint, target);
        let mut keep_asset: Option<String> = None;

        if settings.runs_section("upload") {
            let (mut plain, mut tus, mut direct) = (Vec::new(), Vec::new(), Vec::new());
            let mut completes = Vec::new();
            for run in 0..settings.runs {
                // Interleaved, so a drift of the machine affects all three alike.
                let key = format!("bench/direct-{}", uuid::Uuid::new_v4());
                let (t, c) = direct_upload(&s3, &bucket, &key, file, size).await?;
                direct.push(mib_s(size, t));
                completes.push(c.as_secs_f64());
                s3.delete_object().bucket(&bucket).key(&key).send().await?;
                eprintln!(
                    "[{}] run {run}: direct S3 upload {:.0} MiB/s (complete {:.2} s)",
                    target.label,
                    mib_s(size, t),
                    c.as_secs_f64()
                );

                vary(file, counter)?;
                let t0 = Instant::now();
                let id = service.upload_plain(file, size).await;
                let t = t0.elapsed();
                service.check_alive()?;
                let id = id?;
                plain.push(mib_s(size, t));
                eprintln!(
                    "[{}] run {run}: Lectern plain upload {:.0} MiB/s",
                    target.label,
                    mib_s(size, t)
                );
                if keep_asset.is_none() {
                    keep_asset = Some(id);
                } else {
                    service.discard(&s3, &bucket, &id).await?;
                }

                vary(file, counter)?;
                let t0 = Instant::now();
                let id = service.upload_tus(file, size, settings.tus_chunk).await;
                let t = t0.elapsed();
                service.check_alive()?;
                let id = id?;
                tus.push(mib_s(size, t));
                eprintln!(
                    "[{}] run {run}: Lectern tus upload {:.0} MiB/s",
                    target.label,
                    mib_s(size, t)
                );
                service.discard(&s3, &bucket, &id).await?;
            }
            rows.push(ThroughputRow {
                what: "Upload, plain streaming POST".into(),
                bytes: size,
                lectern: plain,
                direct: direct.clone(),
                target: 0.8,
            });
            rows.push(ThroughputRow {
                what: format!("Upload, tus ({} MiB PATCHes)", settings.tus_chunk / MIB),
                bytes: size,
                lectern: tus,
                direct,
                target: 0.8,
            });
            notes.push(format!(
                "Direct S3 upload: CompleteMultipartUpload alone took {} s (median {:.2} s).",
                completes
                    .iter()
                    .map(|c| format!("{c:.2}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                median(&completes)
            ));
        }

        if settings.runs_section("download") {
            let id = match keep_asset.take() {
                Some(id) => id,
                None => {
                    vary(file, counter)?;
                    service.upload_plain(file, size).await?
                }
            };
            let key = service.object_key(&id, &bucket).await?;
            let range_len = settings.range_len.min(size / 2).max(1);
            let start = (size / 4).min(size - range_len);
            let range = (start, start + range_len - 1);
            let (mut lf, mut df, mut lr, mut dr) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for run in 0..settings.runs {
                let t0 = Instant::now();
                let n = direct_download(&s3, &bucket, &key, None).await?;
                ensure!(
                    n == size,
                    "direct GetObject returned {n} bytes, expected {size}"
                );
                df.push(mib_s(n, t0.elapsed()));

                let t0 = Instant::now();
                let n = service.download(&id, None).await;
                service.check_alive()?;
                let n = n?;
                ensure!(n == size, "GET content returned {n} bytes, expected {size}");
                lf.push(mib_s(n, t0.elapsed()));

                let t0 = Instant::now();
                let n = direct_download(&s3, &bucket, &key, Some(range)).await?;
                ensure!(
                    n == range_len,
                    "direct ranged GetObject returned {n} bytes, expected {range_len}"
                );
                dr.push(mib_s(n, t0.elapsed()));

                let t0 = Instant::now();
                let n = service.download(&id, Some(range)).await;
                service.check_alive()?;
                let n = n?;
                ensure!(
                    n == range_len,
                    "ranged GET content returned {n} bytes, expected {range_len}"
                );
                lr.push(mib_s(n, t0.elapsed()));
                eprintln!(
                    "[{}] run {run}: download full {:.0} vs direct {:.0}; range {:.0} vs direct {:.0} MiB/s",
                    target.label, lf[run], df[run], lr[run], dr[run]
                );
            }
            rows.push(ThroughputRow {
                what: "Download, full GET".into(),
                bytes: size,
                lectern: lf,
                direct: df,
                target: 0.9,
            });
            rows.push(ThroughputRow {
                what: format!("Download, Range bytes={}-{}", range.0, range.1),
                bytes: range_len,
                lectern: lr,
                direct: dr,
                target: 0.9,
            });
        }
        service.stop().await;
    }

    if settings.runs_section("rss") {
        eprintln!(
            "[{}] starting a fresh service for the RSS test",
            target.label
        );
        let mut service =
            Service::start(settings, target, dir, &format!("{}-rss", target.label)).await?;
        let s3 = s3_client(&service.s3_endpoint, target);
        let (_, idle) = service.memory()?;
        notes.push(format!(
            "RSS test: a fresh service; idle VmRSS after start, token and lesson creation {:.1} MiB.",
            idle as f64 / MIB as f64
        ));
        for &bytes in &settings.rss_sizes {
            for mode in &settings.rss_modes {
                let mut row = RssRow {
                    mode: match mode.as_str() {
                        "tus" => format!("tus ({} MiB PATCHes)", settings.tus_chunk / MIB),
                        _ => "plain streaming POST".into(),
                    },
                    bytes,
                    baseline: Vec::new(),
                    peak: Vec::new(),
                    throughput: Vec::new(),
                };
                for run in 0..settings.rss_runs {
                    vary(file, counter)?;
                    service.reset_peak()?;
                    let (_, before) = service.memory()?;
                    let t0 = Instant::now();
                    let id = match mode.as_str() {
                        "plain" => service.upload_plain(file, bytes).await,
                        "tus" => service.upload_tus(file, bytes, settings.tus_chunk).await,
                        other => bail!("LECTERN_BENCH_RSS_MODES: unknown mode {other:?}"),
                    };
                    let t = t0.elapsed();
                    service.check_alive()?;
                    let id = id?;
                    let (hwm, _) = service.memory()?;
                    row.baseline.push(before as f64 / MIB as f64);
                    row.peak.push(hwm as f64 / MIB as f64);
                    row.throughput.push(mib_s(bytes, t));
                    eprintln!(
                        "[{}] rss run {run}: {mode} {} MiB: before {:.1} MiB, peak {:.1} MiB, {:.0} MiB/s",
                        target.label,
                        bytes / MIB,
                        before as f64 / MIB as f64,
                        hwm as f64 / MIB as f64,
                        mib_s(bytes, t)
                    );
                    service.discard(&s3, &bucket, &id).await?;
                }
                rss_rows.push(row);
            }
        }
        service.stop().await;
    }

    print_tables(&target.label, &rows, &rss_rows, &notes);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let settings = Settings::load();
    if !settings.bin.exists() {
        eprintln!(
            "error: {} not found. Build the service first: `cargo build --release` \
             (or set LECTERN_BENCH_BIN).",
            settings.bin.display()
        );
        std::process::exit(2);
    }
    let tmp = match std::env::var_os("LECTERN_BENCH_DIR") {
        Some(d) => tempfile::Builder::new()
            .prefix("lectern-bench-")
            .tempdir_in(d)?,
        None => tempfile::Builder::new()
            .prefix("lectern-bench-")
            .tempdir()?,
    };
    let file = tmp.path().join("input.mp4");
    let largest = settings
        .rss_sizes
        .iter()
        .copied()
        .chain(std::iter::once(settings.size))
        .max()
        .unwrap_or(settings.size);
    eprintln!(
        "generating {} MiB of test data in {}",
        largest / MIB,
        tmp.path().display()
    );
    let t0 = Instant::now();
    generate_file(&file, largest)?;
    eprintln!("generated in {:.1} s", t0.elapsed().as_secs_f64());

    println!("## Lectern storage benchmark");
    println!();
    println!(
        "throughput size {} MiB, {} runs (median reported); ranged download {} MiB; tus PATCH {} MiB; \
         RSS sizes {} MiB x {} runs; modes {}",
        settings.size / MIB,
        settings.runs,
        settings.range_len / MIB,
        settings.tus_chunk / MIB,
        settings
            .rss_sizes
            .iter()
            .map(|s| (s / MIB).to_string())
            .collect::<Vec<_>>()
            .join(", "),
        settings.rss_runs,
        settings.rss_modes.join(", ")
    );

    let mut targets = vec![Target {
        label: "embedded".into(),
        external_endpoint: None,
        bucket: "lectern".into(),
        access_key: "bench".into(),
        secret_key: "benchsecret".into(),
    }];
    if let Ok(endpoint) = std::env::var("LECTERN_BENCH_S3_ENDPOINT")
        && !endpoint.trim().is_empty()
    {
        let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
        targets.push(Target {
            label: "external".into(),
            external_endpoint: Some(endpoint.trim().to_owned()),
            bucket: var("LECTERN_BENCH_S3_BUCKET", "lectern-bench"),
            access_key: var("LECTERN_BENCH_S3_ACCESS_KEY", "bench"),
            secret_key: var("LECTERN_BENCH_S3_SECRET_KEY", "benchsecret"),
        });
    }
    let mut counter = 0u64;
    let mut failed = false;
    for target in &targets {
        if let Err(e) = run_target(&settings, target, tmp.path(), &file, &mut counter).await {
            eprintln!("[{}] FAILED: {e:#}", target.label);
            println!("\n### {}\n\nFAILED: {e:#}", target.label);
            failed = true;
        }
    }
    drop(tmp);
    if failed {
        std::process::exit(1);
    }
    Ok(())
}
