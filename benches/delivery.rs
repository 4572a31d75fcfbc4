//! Delivery through the client to the local emulator with 20 ms of latency per request:
//! one request in flight (the baseline, measured in the same run) against the bounded
//! parallelism the client uses by default and more.
//!
//! `cargo bench --bench delivery`

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use s3_sentinel_connector::vars;
use s3_sentinel_connector::{EmulatorOptions, FaultPlan};

#[path = "../tests/delivery_support/mod.rs"]
mod support;

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let emulator = runtime.block_on(support::start_emulator(EmulatorOptions::default()));
    emulator.apply(&FaultPlan {
        latency_ms: Some(20),
        ..FaultPlan::default()
    });
    let rows = support::cloudtrail_rows(20_000, "s3://bench/trail.json.gz", 3);
    let mut group = c.benchmark_group("deliver_20k_rows_64KiB_bodies_20ms_latency");
    group.throughput(Throughput::Elements(rows.len() as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for parallel in ["1", "4", "8"] {
        let client = runtime.block_on(support::client(
            &emulator.url(),
            &[
                (vars::MAX_REQUEST_BYTES, "65536"),
                (vars::MAX_PARALLEL_REQUESTS, parallel),
            ],
        ));
        let name = if parallel == "1" {
            "baseline_1_in_flight".to_string()
        } else {
            format!("{parallel}_in_flight")
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                emulator.reset();
                emulator.apply(&FaultPlan {
                    latency_ms: Some(20),
                    ..FaultPlan::default()
                });
                let report = runtime.block_on(client.send(rows.clone(), support::far_deadline()));
                assert!(report.is_complete());
                report.requests
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
