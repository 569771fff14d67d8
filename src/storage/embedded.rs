//! The embedded S3 endpoint: an S3-compatible server (s3s over a local folder) running inside the
//! process on loopback, so the single-machine mode goes through exactly the same S3 code path as
//! a deployment on Garage, MinIO, Ceph or AWS.

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use std::net::SocketAddr;
use std::path::Path;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running embedded endpoint; it stops when this is dropped.
pub struct EmbeddedS3 {
    pub addr: SocketAddr,
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
        let fs = s3s_fs::FileSystem::new(root).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(access_key, secret_key));
        let service = builder.build();
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
        Ok(Self { addr, task })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for EmbeddedS3 {
    fn drop(&mut self) {
        self.task.abort();
    }
}
