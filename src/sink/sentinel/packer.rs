//! Rows into gzip JSON array bodies, each at most `limit` bytes on the wire.
//!
//! The limit applies to the compressed body, so packing by raw size would either waste
//! most of each request (logs compress 5-20x) or overshoot. The packer streams rows into
//! one gzip encoder and keeps an upper bound of the finished size: the bytes already
//! flushed plus a worst-case deflate bound of the input since the last flush. Only when
//! that bound would cross the limit does it sync-flush to learn the exact size, so a body
//! fills to within one row of the limit with a handful of flushes.

use std::io::Write;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::record::Row;

/// What finishing a body can still add: `]`, the final empty deflate block and the 8-byte
/// gzip trailer, with room to spare.
const FINISH_RESERVE: usize = 32;

/// Worst-case deflate output for `raw` new input bytes after a sync flush: stored blocks
/// cost 5 bytes per block of up to 64 KiB, plus the next flush marker. This is zlib's
/// `deflateBound` per-byte allowance, which is looser than either backend needs.
fn deflate_bound(raw: usize) -> usize {
    raw + (raw >> 12) + (raw >> 14) + 16
}

/// One request body and the rows in it, in order.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// The rows in the body.
    pub rows: Vec<Row>,
    /// The gzip JSON array, as sent.
    pub body: Bytes,
    /// Uncompressed JSON bytes of the array.
    pub raw_bytes: usize,
}

/// A row that does not fit in a request even alone.
#[derive(Debug, Clone)]
pub struct Oversize {
    /// The row.
    pub row: Row,
    /// Its size alone in a body, gzip-compressed, in bytes.
    pub compressed_bytes: usize,
}

/// What [`pack`] made of a stream's rows.
#[derive(Debug, Default)]
pub struct Packed {
    /// Request bodies, rows in their order.
    pub chunks: Vec<Chunk>,
    /// Rows too large for any body.
    pub oversize: Vec<Oversize>,
}

struct Open {
    encoder: GzEncoder<Vec<u8>>,
    rows: Vec<Row>,
    raw_bytes: usize,
    /// Input written since the last sync flush (not yet reflected in the output size).
    unflushed: usize,
}

impl Open {
    fn new(level: Compression) -> Open {
        Open {
            encoder: GzEncoder::new(Vec::with_capacity(64 * 1024), level),
            rows: Vec::new(),
            raw_bytes: 0,
            unflushed: 0,
        }
    }

    fn flushed_len(&self) -> usize {
        self.encoder.get_ref().len()
    }

    fn upper_bound_with(&self, extra: usize) -> usize {
        self.flushed_len() + deflate_bound(self.unflushed + extra) + FINISH_RESERVE
    }

    fn sync_flush(&mut self) {
        // Writing to a Vec cannot fail.
        self.encoder.flush().expect("gzip into memory");
        self.unflushed = 0;
    }

    fn append(&mut self, row: Row) {
        let separator: &[u8] = if self.rows.is_empty() { b"[" } else { b"," };
        self.encoder
            .write_all(separator)
            .and_then(|_| self.encoder.write_all(row.json.as_bytes()))
            .expect("gzip into memory");
        let added = 1 + row.json.len();
        self.raw_bytes += added;
        self.unflushed += added;
        self.rows.push(row);
    }

    fn finish(mut self) -> Chunk {
        self.encoder.write_all(b"]").expect("gzip into memory");
        let body = self.encoder.finish().expect("gzip into memory");
        Chunk {
            rows: self.rows,
            body: Bytes::from(body),
            raw_bytes: self.raw_bytes + 1,
        }
    }
}

/// Packs `rows` (all bound for one stream) into bodies of at most `limit` bytes, keeping
/// their order. Rows too large for any body come back in `oversize`.
pub fn pack(rows: Vec<Row>, limit: usize, level: Compression) -> Packed {
    let mut packed = Packed::default();
    let mut open = Open::new(level);
    for row in rows {
        let added = row.json.len() + 1;
        if !open.rows.is_empty() && open.upper_bound_with(added) > limit {
            if open.unflushed > 0 {
                open.sync_flush();
            }
            if open.upper_bound_with(added) > limit {
                let full = std::mem::replace(&mut open, Open::new(level));
                finish_into(full, limit, level, &mut packed);
            }
        }
        let was_empty = open.rows.is_empty();
        open.append(row);
        if was_empty && open.upper_bound_with(0) > limit {
            // A big first row: measure it exactly before building on it.
            open.sync_flush();
            if open.flushed_len() + FINISH_RESERVE > limit {
                // One row: a body of its own, or oversize.
                let alone = std::mem::replace(&mut open, Open::new(level));
                finish_into(alone, limit, level, &mut packed);
            }
        }
    }
    if !open.rows.is_empty() {
        finish_into(open, limit, level, &mut packed);
    }
    packed
}

/// Finishes a body; the bound makes an overshoot impossible in practice, but should one
/// happen the rows are packed again in halves rather than sent over the limit.
fn finish_into(open: Open, limit: usize, level: Compression, packed: &mut Packed) {
    let chunk = open.finish();
    if chunk.body.len() <= limit {
        packed.chunks.push(chunk);
        return;
    }
    if chunk.rows.len() == 1 {
        let compressed_bytes = chunk.body.len();
        packed
            .oversize
            .extend(chunk.rows.into_iter().map(|row| Oversize {
                row,
                compressed_bytes,
            }));
        return;
    }
    let mut rows = chunk.rows;
    let second = rows.split_off(rows.len() / 2);
    for half in [rows, second] {
        let sub = pack(half, limit, level);
        packed.chunks.extend(sub.chunks);
        packed.oversize.extend(sub.oversize);
    }
}

/// All `rows` in one body, whatever its size (used when a server's 413 makes the client
/// split a body into halves).
pub fn pack_one(rows: Vec<Row>, level: Compression) -> Chunk {
    let mut open = Open::new(level);
    for row in rows {
        open.append(row);
    }
    open.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{LogType, RecordId};
    use flate2::read::GzDecoder;
    use std::io::Read;
    use std::sync::Arc;

    fn row(i: u64, payload: &str) -> Row {
        Row {
            log_type: LogType::CloudWatch,
            table: LogType::CloudWatch.table(),
            record_id: RecordId(i as u128),
            source_object: Arc::from("s3://b/k"),
            ordinal: i,
            json: format!("{{\"RecordId\":\"{i}\",\"Message\":\"{payload}\"}}"),
        }
    }

    fn decode(chunk: &Chunk) -> Vec<serde_json::Value> {
        let mut text = String::new();
        GzDecoder::new(&chunk.body[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text.len(), chunk.raw_bytes);
        serde_json::from_str(&text).unwrap()
    }

    /// Pseudo-random text that compresses about as badly as base64 data.
    fn noise(seed: u64, len: usize) -> String {
        let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                alphabet[(x % 64) as usize] as char
            })
            .collect()
    }

    #[test]
    fn bodies_stay_under_the_limit_and_keep_every_row_in_order() {
        let limit = 64 * 1024;
        let rows: Vec<Row> = (0..3000)
            .map(|i| {
                let payload = if i % 3 == 0 {
                    noise(i, 300)
                } else {
                    format!("user {} did thing {}", i % 17, i % 5)
                };
                row(i, &payload)
            })
            .collect();
        let packed = pack(rows, limit, Compression::default());
        assert!(packed.oversize.is_empty());
        assert!(packed.chunks.len() > 2);
        let mut next = 0u64;
        for (n, chunk) in packed.chunks.iter().enumerate() {
            assert!(chunk.body.len() <= limit, "{} > {limit}", chunk.body.len());
            if n + 1 < packed.chunks.len() {
                // Packing by compressed size fills bodies nearly to the limit.
                assert!(chunk.body.len() > limit * 9 / 10, "{}", chunk.body.len());
            }
            for (value, row) in decode(chunk).iter().zip(&chunk.rows) {
                assert_eq!(value["RecordId"], next.to_string());
                assert_eq!(row.record_id, RecordId(next as u128));
                next += 1;
            }
        }
        assert_eq!(next, 3000);
    }

    #[test]
    fn compressible_rows_pack_far_beyond_the_raw_limit() {
        let limit = 16 * 1024;
        let rows: Vec<Row> = (0..2000).map(|i| row(i, "GET /index.html 200")).collect();
        let packed = pack(rows, limit, Compression::default());
        let chunk = &packed.chunks[0];
        assert!(chunk.raw_bytes > 4 * limit, "raw {}", chunk.raw_bytes);
    }

    #[test]
    fn a_row_too_big_alone_is_set_aside_and_the_rest_still_packs() {
        let limit = 8 * 1024;
        let rows = vec![
            row(0, "small"),
            row(1, &noise(1, 20_000)),
            row(2, &"x".repeat(50_000)), // big but compresses well: fits
            row(3, "small again"),
        ];
        let packed = pack(rows, limit, Compression::default());
        assert_eq!(packed.oversize.len(), 1);
        assert_eq!(packed.oversize[0].row.record_id, RecordId(1));
        assert!(packed.oversize[0].compressed_bytes > limit);
        let ids: Vec<u128> = packed
            .chunks
            .iter()
            .flat_map(|c| c.rows.iter().map(|r| r.record_id.0))
            .collect();
        assert_eq!(ids, vec![0, 2, 3]);
        for chunk in &packed.chunks {
            assert!(chunk.body.len() <= limit);
            decode(chunk);
        }
    }

    #[test]
    fn pack_one_makes_a_single_valid_body() {
        let chunk = pack_one(vec![row(0, "a"), row(1, "b")], Compression::fast());
        assert_eq!(decode(&chunk).len(), 2);
    }
}
