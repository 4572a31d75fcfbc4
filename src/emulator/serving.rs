//! A stand-in server running on a task of its own: the emulator and the STS stand-in both
//! hand one back from `start`.

use std::future::Future;
use std::net::SocketAddr;

use tokio::sync::oneshot;

/// A serving stand-in; dropping it stops the server.
pub struct Serving<S> {
    state: S,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl<S> Serving<S> {
    /// Runs the server that `serve` builds around the stop signal it is given; `name` says
    /// in the log which server stopped on an error.
    pub(crate) fn spawn<F, Fut>(state: S, addr: SocketAddr, name: &'static str, serve: F) -> Self
    where
        F: FnOnce(oneshot::Receiver<()>) -> Fut,
        Fut: Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel();
        let served = serve(stopped);
        let task = tokio::spawn(async move {
            if let Err(e) = served.await {
                tracing::error!(error = %e, "{name} stopped");
            }
        });
        Serving {
            state,
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// `http://127.0.0.1:PORT`: the emulator's ingestion endpoint and authority host, the
    /// STS stand-in's endpoint and issuer.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits for the server to finish after a graceful stop.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        let _ = task.await;
    }
}

impl<S> Drop for Serving<S> {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

impl<S> std::ops::Deref for Serving<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.state
    }
}
