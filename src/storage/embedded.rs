//! The embedded S3 endpoint: an S3-compatible server (s3s over a local folder) running inside the
//! process on loopback, so the single-machine mode goes through exactly the same S3 code path as
//! a deployment on Garage, MinIO, Ceph or AWS.

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::dto::*;
use s3s::service::S3ServiceBuilder;
use s3s::{S3, S3Request, S3Response, S3Result};
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running embedded endpoint; it stops when this is dropped.
pub struct EmbeddedS3 {
    pub addr: SocketAddr,
    /// The folder it serves (canonical); a bucket is a folder in it.
    pub root: PathBuf,
    task: JoinHandle<()>,
}

impl EmbeddedS3 {
    /// Serves the folder `root` (created if missing) on `bind`, accepting only requests signed
    /// with `access_key`/`secret_key`.
    pub async fn start(
        root: &Path,
        bind: &str,
        access_key: &str,
        secret_key: &str,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root)?;
        let fs = Folder::new(root)?;
        let root = fs.root.clone();
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(access_key, secret_key));
        let service = Cors(builder.build());
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let conn = http
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        });
        tracing::info!(%addr, root = %root.display(), "embedded S3 endpoint listening");
        Ok(Self { addr, root, task })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The endpoint answers browsers on any page: a player (hls.js) reads a ladder's segments from
/// their presigned URLs with `fetch`, which needs `Access-Control-Allow-Origin`. Every read needs
/// a valid signature all the same; no credentials (cookies) are sent or allowed, so `*` lets a
/// page read only what a presigned URL already grants.
#[derive(Clone)]
struct Cors(s3s::service::S3Service);

impl hyper::service::Service<axum::http::Request<hyper::body::Incoming>> for Cors {
    type Response = axum::http::Response<s3s::Body>;
    type Error = s3s::HttpError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn call(&self, req: axum::http::Request<hyper::body::Incoming>) -> Self::Future {
        use axum::http::{HeaderValue, Method, StatusCode, header};
        let preflight = req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let inner = self.0.clone();
        Box::pin(async move {
            let mut response = if preflight {
                let mut r = axum::http::Response::new(s3s::Body::empty());
                *r.status_mut() = StatusCode::NO_CONTENT;
                let h = r.headers_mut();
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static("GET, HEAD"),
                );
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static("range"),
                );
                h.insert(
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from_static("86400"),
                );
                r
            } else {
                hyper::service::Service::call(&inner, req).await?
            };
            let h = response.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            h.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("content-length, content-range, etag"),
            );
            Ok(response)
        })
    }
}

impl Drop for EmbeddedS3 {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How much one read of an object's file takes for a download: large enough that a GiB is a
/// thousand reads, small enough that a download holds little memory.
const READ_CHUNK: usize = 1024 * 1024;

/// s3s-fs's folder, with object bodies read in large chunks that stop at the end of the range.
///
/// s3s-fs streams a GET in 4 KiB reads, each a round trip to tokio's blocking pool, and reads a
/// ranged GET on to the end of the file (yielding empty chunks past the range): on two cores
/// that, not the network, bounded every download. Everything else is s3s-fs's own.
struct Folder {
    inner: s3s_fs::FileSystem,
    root: PathBuf,
}

impl Folder {
    fn new(root: &Path) -> anyhow::Result<Self> {
        let inner = s3s_fs::FileSystem::new(root).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok(Self {
            inner,
            root: root.canonicalize()?,
        })
    }

    /// The file of an object, as s3s-fs lays it out; `None` for names s3s-fs resolves itself.
    fn object_path(&self, bucket: &str, key: &str) -> Option<PathBuf> {
        object_file(&self.root.join(plain(bucket)?), key)
    }
}

/// `name` when it is plain path parts (no `..`, no root): what can be joined under a folder.
fn plain(name: &str) -> Option<&str> {
    let ok = !name.is_empty()
        && Path::new(name)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    ok.then_some(name)
}

/// Where the object `key` of a bucket whose folder is `bucket_dir` lives (s3s-fs's layout:
/// `root/bucket/key`), or `None` for a key that is not plain path parts.
pub fn object_file(bucket_dir: &Path, key: &str) -> Option<PathBuf> {
    Some(bucket_dir.join(plain(key)?))
}

/// `len` bytes from `start` of the file at `path`, read in large chunks.
pub async fn read_file(
    path: &Path,
    start: u64,
    len: u64,
) -> std::io::Result<tokio_util::io::ReaderStream<tokio::io::Take<tokio::fs::File>>> {
    let mut file = tokio::fs::File::open(path).await?;
    file.seek(std::io::SeekFrom::Start(start)).await?;
    Ok(tokio_util::io::ReaderStream::with_capacity(
        file.take(len),
        READ_CHUNK,
    ))
}

/// Forwards S3 operations to s3s-fs unchanged.
macro_rules! forward {
    ($($op:ident: $input:ty => $output:ty;)*) => {
        $(
            // What `#[async_trait]` makes of an `async fn` (it cannot see into a macro).
            fn $op<'life0, 'async_trait>(
                &'life0 self,
                req: S3Request<$input>,
            ) -> std::pin::Pin<
                Box<dyn std::future::Future<Output = S3Result<S3Response<$output>>> + Send + 'async_trait>,
            >
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                Box::pin(self.inner.$op(req))
            }
        )*
    };
}

#[async_trait::async_trait]
impl S3 for Folder {
    forward! {
        create_bucket: CreateBucketInput => CreateBucketOutput;
        copy_object: CopyObjectInput => CopyObjectOutput;
        delete_bucket: DeleteBucketInput => DeleteBucketOutput;
        delete_object: DeleteObjectInput => DeleteObjectOutput;
        delete_objects: DeleteObjectsInput => DeleteObjectsOutput;
        get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput;
        head_bucket: HeadBucketInput => HeadBucketOutput;
        head_object: HeadObjectInput => HeadObjectOutput;
        list_buckets: ListBucketsInput => ListBucketsOutput;
        list_objects: ListObjectsInput => ListObjectsOutput;
        list_objects_v2: ListObjectsV2Input => ListObjectsV2Output;
        put_object: PutObjectInput => PutObjectOutput;
        create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput;
        upload_part: UploadPartInput => UploadPartOutput;
        upload_part_copy: UploadPartCopyInput => UploadPartCopyOutput;
        list_parts: ListPartsInput => ListPartsOutput;
        complete_multipart_upload: CompleteMultipartUploadInput => CompleteMultipartUploadOutput;
        abort_multipart_upload: AbortMultipartUploadInput => AbortMultipartUploadOutput;
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let path = self.object_path(&req.input.bucket, &req.input.key);
        let range = req.input.range;
        // s3s-fs answers everything (headers, range checks, errors); only its body is replaced.
        let mut response = self.inner.get_object(req).await?;
        let Some(path) = path else {
            return Ok(response);
        };
        let len = response.output.content_length.unwrap_or(0).max(0) as u64;
        let file_len = match tokio::fs::metadata(&path).await {
            Ok(m) => m.len(),
            Err(_) => return Ok(response),
        };
        let start = match range.map(|r| r.check(file_len)) {
            None => 0,
            Some(Ok(r)) => r.start,
            Some(Err(_)) => return Ok(response),
        };
        if let Ok(body) = read_file(&path, start, len).await {
            response.output.body = Some(StreamingBlob::wrap(body));
        }
        Ok(response)
    }
}
