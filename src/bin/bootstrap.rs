//! The Lambda entry point: thin glue between the Lambda runtime and [`lambda::App`].

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

use s3_sentinel_connector::Platform;
use s3_sentinel_connector::{App, InvocationContext, init_tracing, retain_freed_memory};

#[tokio::main]
async fn main() -> Result<(), Error> {
    retain_freed_memory();
    let platform = Platform::from_env();
    init_tracing(platform.log_filter.as_deref());
    let app = match App::from_env(platform).await {
        Ok(app) => Arc::new(app),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "cold start failed");
            return Err(e.into());
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let app = app.clone();
        async move {
            let ctx = InvocationContext {
                request_id: event.context.request_id.clone(),
                deadline_ms: event.context.deadline,
            };
            app.handle(event.payload, &ctx).await.map_err(Error::from)
        }
    }))
    .await
}
