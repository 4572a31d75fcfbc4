//! Shared test support: the reference data folder and a real local AWS server (moto).
#![allow(dead_code)]

pub mod function;
pub mod runtime_api;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// `../shared` (or `$S3_SENTINEL_SHARED`), or `None` with a message when absent: tests that
/// need it return early.
pub fn shared_dir() -> Option<PathBuf> {
    let candidate = std::env::var_os("S3_SENTINEL_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    if candidate.is_dir() {
        Some(candidate)
    } else {
        eprintln!(
            "skipping: reference data not found at {} (set S3_SENTINEL_SHARED)",
            candidate.display()
        );
        None
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Moto {
    endpoint: String,
    _child: Option<Child>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(child) = self._child.as_mut() {
            let _ = child.kill();
        }
    }
}

static MOTO: OnceLock<Moto> = OnceLock::new();

/// The endpoint of a running moto server: `$S3_SENTINEL_MOTO_ENDPOINT` when the test
/// script started one, else one started (and installed if needed) for this process.
pub fn moto_endpoint() -> String {
    MOTO.get_or_init(|| {
        if let Ok(endpoint) = std::env::var("S3_SENTINEL_MOTO_ENDPOINT") {
            return Moto {
                endpoint,
                _child: None,
            };
        }
        let port = free_port();
        let child = spawn_moto(port);
        let endpoint = format!("http://127.0.0.1:{port}");
        wait_for_port(port, Duration::from_secs(60));
        Moto {
            endpoint,
            _child: Some(child),
        }
    })
    .endpoint
    .clone()
}

fn spawn_moto(port: u16) -> Child {
    let start = || {
        Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
    };
    match start() {
        Ok(child) => child,
        Err(_) => {
            let status = Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", "moto[server]"])
                .status()
                .expect("python3 is needed to install moto[server]");
            assert!(status.success(), "pip install moto[server] failed");
            start().expect("moto_server after installing moto[server]")
        }
    }
}

pub fn wait_for_port(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing listening on port {port} after {timeout:?}");
}

/// A moto server of one test's own, for a test that changes what the whole server does
/// (IAM enforcement); stopped when dropped.
pub struct OwnMoto {
    pub endpoint: String,
    child: Child,
}

impl OwnMoto {
    pub fn start() -> OwnMoto {
        let port = free_port();
        let child = spawn_moto(port);
        wait_for_port(port, Duration::from_secs(60));
        OwnMoto {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
        }
    }
}

impl Drop for OwnMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An SDK configuration pointing at moto with dummy credentials.
pub async fn moto_config() -> aws_config::SdkConfig {
    moto_config_at(&moto_endpoint()).await
}

/// An SDK configuration pointing at the moto server at `endpoint`.
pub async fn moto_config_at(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
}

/// An S3 client for a local server (path-style addressing: `bucket.127.0.0.1` does not
/// resolve).
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}

/// A fresh bucket with a unique name.
pub async fn new_bucket(client: &aws_sdk_s3::Client, hint: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!(
        "{}-{}-{}",
        hint.to_ascii_lowercase().replace('_', "-"),
        std::process::id(),
        n
    );
    client.create_bucket().bucket(&name).send().await.unwrap();
    name
}
