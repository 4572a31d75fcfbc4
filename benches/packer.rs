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

/// The level trade-off on the same rows: bytes on the wire, requests per million rows and
/// CPU per MB of JSON, each level against level 6 (flate2's default) in this run.
fn report_levels() {
    let rows = rows();
    let raw: usize = rows.iter().map(|r| r.json.len() + 1).sum();
    let per_million = 1e6 / rows.len() as f64;
    let mut reference = None;
    eprintln!("level  bodies/1M rows  wire MB/1M rows  ratio  pack ms/MB JSON  CPU vs level 6");
    for level in [6, 1, 2, 3, 4, 9] {
        let mut best = Duration::MAX;
        let mut packed = None;
        for _ in 0..3 {
            let input = rows.clone();
            let started = std::time::Instant::now();
            let result = packer::pack(input, LIMIT, Compression::new(level));
            best = best.min(started.elapsed());
            packed = Some(result);
        }
        let packed = packed.unwrap();
        let wire: usize = packed.chunks.iter().map(|c| c.body.len()).sum();
        let ms_per_mb = best.as_secs_f64() * 1e3 / (raw as f64 / 1e6);
        let reference = *reference.get_or_insert(ms_per_mb);
        eprintln!(
            "{level:>5}  {:>14.0}  {:>15.1}  {:>5.1}  {:>15.2}  {:>13.2}x",
            packed.chunks.len() as f64 * per_million,
            wire as f64 * per_million / 1e6,
            raw as f64 / wire as f64,
            ms_per_mb,
            ms_per_mb / reference,
        );
    }
}

fn bench(c: &mut Criterion) {
    report_packing();
    report_levels();
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
