//! Streaming decompression chosen by magic bytes (never by file extension), with limits
//! that stop decompression bombs before they exhaust memory or the function's time.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use smart_default::SmartDefault;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    Zstd,
    Plain,
}

impl Encoding {
    pub fn sniff(head: &[u8]) -> Encoding {
        match head {
            [0x1f, 0x8b, ..] => Encoding::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Encoding::Zstd,
            _ => Encoding::Plain,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Zstd => "zstd",
            Encoding::Plain => "plain",
        }
    }
}

/// Decompression bomb limits for one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, SmartDefault)]
pub struct DecodeLimits {
    /// Most decompressed bytes one object may produce.
    #[default(10 * 1024 * 1024 * 1024)]
    pub max_decompressed_bytes: u64,
    /// Most decompressed bytes per compressed byte, checked once `ratio_grace_bytes` have
    /// come out. Real AWS logs compress 5-30x; a bomb compresses thousands of times.
    #[default(1000)]
    pub max_ratio: u64,
    /// Decompressed bytes before `max_ratio` is checked.
    #[default(64 * 1024 * 1024)]
    pub ratio_grace_bytes: u64,
}

/// Byte counters shared between the decoder chain and whoever reports on it.
#[derive(Debug, Default, Clone)]
pub struct ByteCounters {
    pub compressed: Arc<AtomicU64>,
    pub decompressed: Arc<AtomicU64>,
}

impl ByteCounters {
    pub fn compressed(&self) -> u64 {
        self.compressed.load(Ordering::Relaxed)
    }
    pub fn decompressed(&self) -> u64 {
        self.decompressed.load(Ordering::Relaxed)
    }
}

struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Marker carried inside `io::Error` so callers can tell a limit from an I/O failure.
#[derive(Debug, thiserror::Error)]
pub enum LimitExceeded {
    #[error(
        "decompressed size exceeds the limit of {limit} bytes (a decompression bomb or an object larger than MAX_DECOMPRESSED_BYTES allows)"
    )]
    Size { limit: u64 },
    #[error(
        "decompression ratio exceeds {limit}:1 after {decompressed} bytes from {compressed} compressed bytes (likely a decompression bomb)"
    )]
    Ratio {
        limit: u64,
        decompressed: u64,
        compressed: u64,
    },
    #[error("a nested compressed payload unpacks to more than {limit} bytes")]
    Nested { limit: u64 },
    #[error(
        "the zstd frame needs a window over {} MiB (compressed with --long?); recompress without it",
        (1u64 << MAX_ZSTD_WINDOW_LOG) >> 20
    )]
    ZstdWindow,
}

/// Names the zstd error for a frame over the window cap, which the library reports only
/// as "Frame requires too much memory for decoding".
struct ZstdWindowCheck<R>(R);

impl<R: Read> Read for ZstdWindowCheck<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            if e.to_string().contains("too much memory") {
                io::Error::new(io::ErrorKind::InvalidData, LimitExceeded::ZstdWindow)
            } else {
                e
            }
        })
    }
}

struct LimitedReader<R> {
    inner: R,
    limits: DecodeLimits,
    counters: ByteCounters,
    tripped: bool,
}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.tripped {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        let total = self
            .counters
            .decompressed
            .fetch_add(n as u64, Ordering::Relaxed)
            + n as u64;
        if total > self.limits.max_decompressed_bytes {
            self.tripped = true;
            return Err(io::Error::other(LimitExceeded::Size {
                limit: self.limits.max_decompressed_bytes,
            }));
        }
        if total > self.limits.ratio_grace_bytes {
            let compressed = self.counters.compressed().max(1);
            if total / compressed > self.limits.max_ratio {
                self.tripped = true;
                return Err(io::Error::other(LimitExceeded::Ratio {
                    limit: self.limits.max_ratio,
                    decompressed: total,
                    compressed,
                }));
            }
        }
        Ok(n)
    }
}

/// A decoded object: a buffered reader of the plain bytes plus what was detected.
pub struct Decoded {
    pub reader: Box<dyn BufRead + Send>,
    pub encoding: Encoding,
    pub counters: ByteCounters,
}

const READ_BUFFER: usize = 256 * 1024;

/// Largest zstd window accepted: 2^23 = 8 MiB (the zstd CLI's default level 19 uses 8 MiB).
pub const MAX_ZSTD_WINDOW_LOG: u32 = 23;

/// Nested payloads may expand this much before their ratio is checked.
const NESTED_RATIO_GRACE_BYTES: u64 = 1024 * 1024;

/// Decompresses a gzip payload found inside an object (a CloudWatch subscription's
/// `awslogs.data`): at most `max_bytes`, counted against the object's own limits through
/// `counters`, with its own ratio check, so a small object cannot expand without bound one
/// nested payload at a time.
pub fn gunzip_nested(
    compressed: &[u8],
    limits: &DecodeLimits,
    counters: &ByteCounters,
    max_bytes: u64,
) -> io::Result<Vec<u8>> {
    let left = limits
        .max_decompressed_bytes
        .saturating_sub(counters.decompressed());
    let by_ratio = (compressed.len() as u64)
        .saturating_mul(limits.max_ratio)
        .max(NESTED_RATIO_GRACE_BYTES);
    let allowed = max_bytes.min(left).min(by_ratio);
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(compressed)
        .take(allowed + 1)
        .read_to_end(&mut out)?;
    counters
        .decompressed
        .fetch_add(out.len() as u64, Ordering::Relaxed);
    if out.len() as u64 > allowed {
        let error = if allowed == left {
            LimitExceeded::Size {
                limit: limits.max_decompressed_bytes,
            }
        } else if allowed == by_ratio {
            LimitExceeded::Ratio {
                limit: limits.max_ratio,
                decompressed: out.len() as u64,
                compressed: compressed.len() as u64,
            }
        } else {
            LimitExceeded::Nested { limit: max_bytes }
        };
        return Err(io::Error::other(error));
    }
    Ok(out)
}

/// Wraps a raw object stream in the right decompressor. Memory use is a few buffers
/// whatever the object size.
pub fn decode<R: Read + Send + 'static>(raw: R, limits: DecodeLimits) -> io::Result<Decoded> {
    let counters = ByteCounters::default();
    let counted = CountingReader {
        inner: raw,
        count: counters.compressed.clone(),
    };
    let mut counted = counted;
    // Network streams may deliver the magic bytes over several short reads.
    let mut head = [0u8; 4];
    let mut head_len = 0;
    while head_len < head.len() {
        match counted.read(&mut head[head_len..]) {
            Ok(0) => break,
            Ok(n) => head_len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let encoding = Encoding::sniff(&head[..head_len]);
    let buffered = BufReader::with_capacity(
        READ_BUFFER,
        io::Cursor::new(head[..head_len].to_vec()).chain(counted),
    );
    let plain: Box<dyn Read + Send> = match encoding {
        // Multi-member: Firehose and `cat a.gz b.gz` both produce several gzip members.
        Encoding::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Encoding::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(buffered)?;
            // A frame may ask for a window of up to 2 GiB (`zstd --long=31`): refuse
            // anything beyond what a log object needs instead of allocating it.
            decoder.window_log_max(MAX_ZSTD_WINDOW_LOG)?;
            Box::new(ZstdWindowCheck(decoder))
        }
        Encoding::Plain => Box::new(buffered),
    };
    let limited = LimitedReader {
        inner: plain,
        limits,
        counters: counters.clone(),
        tripped: false,
    };
    Ok(Decoded {
        reader: Box::new(BufReader::with_capacity(READ_BUFFER, limited)),
        encoding,
        counters,
    })
}

/// Whether an I/O error came from a decode limit.
pub fn limit_error(err: &io::Error) -> Option<&LimitExceeded> {
    err.get_ref()?.downcast_ref::<LimitExceeded>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn read_all(mut d: Decoded) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        d.reader.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn detects_by_magic_bytes() {
        let plain = b"hello\nworld\n".to_vec();
        let d = decode(io::Cursor::new(plain.clone()), DecodeLimits::default()).unwrap();
        assert_eq!(d.encoding, Encoding::Plain);
        assert_eq!(read_all(d).unwrap(), plain);

        let d = decode(io::Cursor::new(gzip(&plain)), DecodeLimits::default()).unwrap();
        assert_eq!(d.encoding, Encoding::Gzip);
        assert_eq!(read_all(d).unwrap(), plain);

        let z = zstd::encode_all(&plain[..], 3).unwrap();
        let d = decode(io::Cursor::new(z), DecodeLimits::default()).unwrap();
        assert_eq!(d.encoding, Encoding::Zstd);
        assert_eq!(read_all(d).unwrap(), plain);
    }

    /// A zstd frame that declares a window of 2^`window_log` bytes.
    fn zstd_with_window(plain: &[u8], window_log: u32) -> Vec<u8> {
        let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        enc.set_parameter(zstd::zstd_safe::CParameter::EnableLongDistanceMatching(
            true,
        ))
        .unwrap();
        enc.set_parameter(zstd::zstd_safe::CParameter::WindowLog(window_log))
            .unwrap();
        enc.write_all(plain).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn a_zstd_window_over_the_cap_is_an_error_not_an_allocation() {
        let plain = b"line of a log\n".repeat(100_000);
        let within = zstd_with_window(&plain, MAX_ZSTD_WINDOW_LOG);
        let d = decode(io::Cursor::new(within), DecodeLimits::default()).unwrap();
        assert_eq!(read_all(d).unwrap(), plain);

        // `zstd --long=27`: a 128 MiB window asked for by a 1.4 MB object.
        let long = zstd_with_window(&plain, 27);
        let err = decode(io::Cursor::new(long), DecodeLimits::default())
            .and_then(read_all)
            .unwrap_err();
        assert!(
            matches!(limit_error(&err), Some(LimitExceeded::ZstdWindow)),
            "{err}"
        );
    }

    #[test]
    fn reads_every_gzip_member() {
        let mut both = gzip(b"first\n");
        both.extend(gzip(b"second\n"));
        let d = decode(io::Cursor::new(both), DecodeLimits::default()).unwrap();
        assert_eq!(read_all(d).unwrap(), b"first\nsecond\n");
    }

    #[test]
    fn empty_object_is_plain_and_empty() {
        let d = decode(io::Cursor::new(Vec::new()), DecodeLimits::default()).unwrap();
        assert_eq!(d.encoding, Encoding::Plain);
        assert!(read_all(d).unwrap().is_empty());
    }

    #[test]
    fn stops_size_and_ratio_bombs() {
        let bomb = gzip(&vec![b'a'; 4 * 1024 * 1024]);
        let limits = DecodeLimits {
            max_decompressed_bytes: 1024 * 1024,
            ..DecodeLimits::default()
        };
        let err = read_all(decode(io::Cursor::new(bomb.clone()), limits).unwrap()).unwrap_err();
        assert!(matches!(
            limit_error(&err),
            Some(LimitExceeded::Size { .. })
        ));

        let limits = DecodeLimits {
            max_ratio: 100,
            ratio_grace_bytes: 512 * 1024,
            ..DecodeLimits::default()
        };
        let err = read_all(decode(io::Cursor::new(bomb), limits).unwrap()).unwrap_err();
        assert!(
            matches!(limit_error(&err), Some(LimitExceeded::Ratio { .. })),
            "{err}"
        );
    }

    #[test]
    fn truncated_gzip_yields_the_prefix_then_an_error() {
        let data: Vec<u8> = (0..20000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let gz = gzip(&data);
        let cut = gz[..gz.len() / 2].to_vec();
        let mut d = decode(io::Cursor::new(cut), DecodeLimits::default()).unwrap();
        let mut out = Vec::new();
        let err = d.reader.read_to_end(&mut out).unwrap_err();
        assert!(!out.is_empty());
        assert!(data.starts_with(&out));
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
    }
}
