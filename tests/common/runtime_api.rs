//! A Lambda Runtime API emulator: the real `bootstrap` binary polls it exactly as it polls
//! AWS Lambda, so end-to-end tests drive the shipped binary, not a library call.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{Notify, oneshot};

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Response(serde_json::Value),
    Error(serde_json::Value),
}

struct Pending {
    id: String,
    payload: Vec<u8>,
    deadline_ms: i64,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Pending>,
    waiting: HashMap<String, oneshot::Sender<Outcome>>,
    init_error: Option<serde_json::Value>,
    next_polls: u64,
}

#[derive(Clone, Default)]
pub struct RuntimeApi {
    inner: Arc<Mutex<Inner>>,
    notify: Arc<Notify>,
}

impl RuntimeApi {
    /// Starts the emulator on a free loopback port; returns it and its `host:port`.
    pub async fn start() -> (RuntimeApi, SocketAddr) {
        let api = RuntimeApi::default();
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(api.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        (api, addr)
    }

    /// Queues one invocation and waits for the function's answer.
    pub async fn invoke(&self, payload: &serde_json::Value, timeout: Duration) -> Outcome {
        let id = format!("req-{}", uuid_like());
        let (tx, rx) = oneshot::channel();
        {
            let mut inner = self.inner.lock().unwrap();
            inner.waiting.insert(id.clone(), tx);
            inner.queue.push_back(Pending {
                id,
                payload: serde_json::to_vec(payload).unwrap(),
                deadline_ms: chrono::Utc::now().timestamp_millis() + timeout.as_millis() as i64,
            });
        }
        self.notify.notify_waiters();
        self.notify.notify_one();
        tokio::time::timeout(timeout + Duration::from_secs(30), rx)
            .await
            .expect("the function did not answer in time")
            .expect("runtime API dropped the invocation")
    }

    pub fn init_error(&self) -> Option<serde_json::Value> {
        self.inner.lock().unwrap().init_error.clone()
    }

    /// How many times the function asked for its next invocation (1 = cold start done).
    pub fn next_polls(&self) -> u64 {
        self.inner.lock().unwrap().next_polls
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{:08x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

async fn next(State(api): State<RuntimeApi>) -> Response {
    api.inner.lock().unwrap().next_polls += 1;
    loop {
        let notified = api.notify.notified();
        if let Some(p) = api.inner.lock().unwrap().queue.pop_front() {
            let mut headers = HeaderMap::new();
            headers.insert(
                "Lambda-Runtime-Aws-Request-Id",
                HeaderValue::from_str(&p.id).unwrap(),
            );
            headers.insert(
                "Lambda-Runtime-Deadline-Ms",
                HeaderValue::from_str(&p.deadline_ms.to_string()).unwrap(),
            );
            headers.insert(
                "Lambda-Runtime-Invoked-Function-Arn",
                HeaderValue::from_static(
                    "arn:aws:lambda:us-east-1:123456789012:function:s3-sentinel-test",
                ),
            );
            headers.insert(
                "Lambda-Runtime-Trace-Id",
                HeaderValue::from_static("Root=1-00000000-000000000000000000000000"),
            );
            return (StatusCode::OK, headers, p.payload).into_response();
        }
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
}

fn finish(api: &RuntimeApi, id: &str, outcome: Outcome) -> StatusCode {
    match api.inner.lock().unwrap().waiting.remove(id) {
        Some(tx) => {
            let _ = tx.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

fn json_or_text(body: &Bytes) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(body).into()))
}

async fn response(
    State(api): State<RuntimeApi>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    finish(&api, &id, Outcome::Response(json_or_text(&body)))
}

async fn error(State(api): State<RuntimeApi>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    finish(&api, &id, Outcome::Error(json_or_text(&body)))
}

async fn init_error(State(api): State<RuntimeApi>, body: Bytes) -> StatusCode {
    api.inner.lock().unwrap().init_error = Some(json_or_text(&body));
    StatusCode::ACCEPTED
}
