//! Packing rows into gzip bodies by compressed size, against the baseline of gzipping the
//! same rows as one stream (the least work any gzip sender must do). The ratio of the two
//! is the cost of staying under the wire limit; the printed request counts are what it
//! buys over packing by raw size.
//!
//! `cargo bench --bench packer`

use std::io::Write;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use flate2::Compression;
use flate2::write::GzEncoder;

use s3_sentinel_connector::Row;
use s3_sentinel_connector::packer;

#[path = "../tests/delivery_support/mod.rs"]
mod support;

const LIMIT: usize = 1_048_576;

fn rows() -> Vec<Row> {
    support::cloudtrail_rows(30_000, "s3://bench/trail.json.gz", 7)
}

fn gzip_all(rows: &[Row]) -> usize {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(b"[").unwrap();
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            gz.write_all(b",").unwrap();
        }
        gz.write_all(row.json.as_bytes()).unwrap();
    }
    gz.write_all(b"]").unwrap();
    gz.finish().unwrap().len()
}

fn report_packing() {
    let rows = rows();
    let raw: usize = rows.iter().map(|r| r.json.len() + 1).sum();
    let one_stream = gzip_all(&rows);
    let packed = packer::pack(rows, LIMIT, Compression::default());
    let bodies: Vec<usize> = packed.chunks.iter().map(|c| c.body.len()).collect();
    let total: usize = bodies.iter().sum();
    let full = &bodies[..bodies.len() - 1];
    let fill = full.iter().sum::<usize>() as f64 / (full.len() * LIMIT) as f64;
    eprintln!(
        "packer: {} rows, {raw} raw bytes; one gzip stream {one_stream} bytes; \
         packed into {} bodies ({total} bytes, max {}, full bodies {:.1}% of the limit, \
         {:.2}% over one stream); packing by raw size would need {} requests",
        30_000,
        bodies.len(),
        bodies.iter().max().unwrap(),
        fill * 100.0,
        (total as f64 / one_stream as f64 - 1.0) * 100.0,
        raw.div_ceil(LIMIT),
    );
}

fn bench(c: &mut Criterion) {
    report_packing();
    let rows = rows();
    let raw: usize = rows.iter().map(|r| r.json.len() + 1).sum();
    let mut group = c.benchmark_group("pack_30k_cloudtrail_rows");
    group.throughput(Throughput::Bytes(raw as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("baseline_gzip_one_stream", |b| {
        b.iter_batched(
            || rows.clone(),
            |rows| gzip_all(&rows),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("pack_by_compressed_size_1MiB", |b| {
        b.iter_batched(
            || rows.clone(),
            |rows| {
                packer::pack(rows, LIMIT, Compression::default())
                    .chunks
                    .len()
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
