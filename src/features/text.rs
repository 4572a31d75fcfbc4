//! Free text: CloudWatch Logs messages, plain text lines and generic JSON (the `Message`
//! of AWSCloudWatch and S3SentinelLogs_CL). One pass over the words: level markers, word
//! classes, token shapes.

use super::common::{log_scale, text};
use super::{F, Slots};
use crate::record::Record;

#[derive(Default)]
struct Counts {
    level: f32,
    level_seen: bool,
    failure: u32,
    security: u32,
    perf: u32,
    lifecycle: u32,
    trace: u32,
    tokens: u32,
    hex_tokens: u32,
    digits: u32,
    chars: u32,
}

pub fn extract(r: &Record, s: &mut Slots<'_>) {
    let Some(message) = text(r, "Message") else {
        return;
    };
    let c = scan(message);
    if c.level_seen {
        s.set(F::TextLevel, c.level);
        s.flag(F::TextWarn, (0.45..0.7).contains(&c.level));
        s.flag(F::TextError, (0.7..0.9).contains(&c.level));
        s.flag(F::TextFatal, c.level >= 0.9);
    }
    let scale = |n: u32| (n as f32 / 2.0).min(1.0);
    s.set(F::TextFailureWords, scale(c.failure));
    s.set(F::TextSecurityWords, scale(c.security));
    s.set(F::TextPerfWords, scale(c.perf));
    s.set(F::TextLifecycle, scale(c.lifecycle));
    s.set(F::TextTrace, scale(c.trace));
    if c.chars > 0 {
        s.set(F::TextDigitRatio, c.digits as f32 / c.chars as f32);
    }
    if c.tokens > 0 {
        s.set(
            F::TextHexTokens,
            (c.hex_tokens as f32 / c.tokens as f32 * 4.0).min(1.0),
        );
    }
    s.set(F::TextTokens, log_scale(c.tokens as f64, 256.0));
    s.set(F::Size, log_scale(message.len() as f64, 64.0 * 1024.0));
    // Text has no status code: its level and words stand in for the universal facts.
    s.flag(F::Failure, c.failure > 0 || c.level >= 0.7);
    s.flag(F::ServerError, c.level >= 0.7);
    s.flag(F::Denied, c.security > 0);
    s.flag(F::Throttled, c.perf > 0);
    s.set(F::Severity, if c.level_seen { c.level } else { 0.0 });
}

/// Severity of a level word, `None` when the word is not a level.
fn level_of(word: &[u8]) -> Option<f32> {
    Some(match word {
        b"trace" | b"debug" | b"dbg" | b"verbose" => 0.05,
        b"info" | b"information" | b"informational" => 0.2,
        b"notice" => 0.3,
        b"warn" | b"warning" => 0.5,
        b"error" | b"err" | b"severe" => 0.75,
        b"crit" | b"critical" | b"fatal" | b"emerg" | b"emergency" | b"alert" | b"panic"
        | b"failure" => 1.0,
        _ => return None,
    })
}

fn is_level_key(word: &[u8]) -> bool {
    matches!(
        word,
        b"level" | b"severity" | b"lvl" | b"loglevel" | b"log_level"
    )
}

fn scan(message: &str) -> Counts {
    let bytes = message.as_bytes();
    let mut c = Counts {
        chars: bytes.len() as u32,
        ..Counts::default()
    };
    let mut prev = [0u8; 16];
    let mut prev_len = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_digit() {
            c.digits += 1;
        }
        if !(b.is_ascii_alphanumeric() || b == b'_') {
            if b == b'\t' && bytes[i + 1..].starts_with(b"at ") {
                c.trace += 1;
            }
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            if bytes[i].is_ascii_digit() {
                c.digits += 1;
            }
            i += 1;
        }
        let word = &bytes[start..i];
        c.tokens += 1;
        if is_hex_token(word) {
            c.hex_tokens += 1;
        }
        // `NullPointerException`, `OutOfMemoryError`: class names of thrown errors.
        if word.len() > 9
            && word[0].is_ascii_uppercase()
            && (word.ends_with(b"Exception") || word.ends_with(b"Error"))
        {
            c.trace += 1;
            c.failure += 1;
        }
        if word.len() > 16 {
            prev_len = 0;
            continue;
        }
        let mut lower = [0u8; 16];
        for (d, s) in lower.iter_mut().zip(word) {
            *d = s.to_ascii_lowercase();
        }
        let w = &lower[..word.len()];
        let p = &prev[..prev_len];

        let all_upper = word.iter().all(|b| !b.is_ascii_lowercase());
        if let Some(level) = level_of(w)
            && (all_upper || is_level_key(p))
        {
            c.level_seen = true;
            c.level = c.level.max(level);
        }
        classify_word(w, p, word, &mut c);

        prev[..w.len()].copy_from_slice(w);
        prev_len = w.len();
    }
    c
}

fn classify_word(w: &[u8], prev: &[u8], original: &[u8], c: &mut Counts) {
    match w {
        b"fail" | b"failed" | b"failing" | b"failure" | b"failures" | b"error" | b"errors"
        | b"exception" | b"fatal" | b"abort" | b"aborted" | b"aborting" | b"crash" | b"crashed"
        | b"panic" | b"panicked" | b"segfault" | b"corrupt" | b"corrupted" | b"corruption"
        | b"unable" | b"cannot" | b"refused" | b"unreachable" | b"broken" | b"died" | b"fault"
        | b"faulty" => c.failure += 1,
        _ => {}
    }
    match (prev, w) {
        (b"permission" | b"access", b"denied")
        | (b"invalid", b"user" | b"password" | b"credentials" | b"token")
        | (b"failed", b"password" | b"login" | b"publickey" | b"authentication")
        | (b"authentication", b"failure" | b"failed" | b"failures")
        | (b"possible", b"break")
        | (b"root", b"login")
        | (b"not", b"authorized" | b"permitted") => c.security += 1,
        (_, b"unauthorized" | b"forbidden" | b"intrusion" | b"malware" | b"bruteforce")
        | (_, b"sudo" | b"illegal" | b"suspicious" | b"blacklisted" | b"blocklisted") => {
            c.security += 1
        }
        _ => {}
    }
    match (prev, w) {
        (b"timed", b"out")
        | (b"of", b"memory")
        | (b"high", b"load" | b"latency" | b"cpu")
        | (b"queue", b"full")
        | (b"deadline", b"exceeded")
        | (b"too", b"many")
        | (b"gc", b"pause")
        | (b"memory", b"pressure") => c.perf += 1,
        (
            _,
            b"timeout" | b"timeouts" | b"slow" | b"slowly" | b"latency" | b"outofmemoryerror"
            | b"oom" | b"throttled" | b"throttling" | b"backlog" | b"exhausted" | b"congestion"
            | b"backpressure" | b"lag" | b"overloaded" | b"stalled" | b"outofmemory",
        ) => c.perf += 1,
        _ => {}
    }
    match w {
        b"restart" | b"restarted" | b"restarting" | b"reboot" | b"rebooting" | b"shutdown"
        | b"shutting" | b"terminated" | b"terminating" | b"killed" | b"exited" | b"respawn"
        | b"respawning" | b"halted" => c.lifecycle += 1,
        _ => {}
    }
    if (w == b"traceback" || w == b"caused") && original.first().is_some_and(u8::is_ascii_uppercase)
    {
        c.trace += 1;
    }
}

/// Hex identifiers and addresses: `0x1f2e`, `deadbeef01`, block and request ids.
fn is_hex_token(word: &[u8]) -> bool {
    if word.len() > 2 && (word.starts_with(b"0x") || word.starts_with(b"0X")) {
        return word[2..].iter().all(u8::is_ascii_hexdigit);
    }
    word.len() >= 8
        && word.iter().all(u8::is_ascii_hexdigit)
        && word.iter().any(u8::is_ascii_digit)
        && word.iter().any(u8::is_ascii_alphabetic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_need_upper_case_or_a_level_key() {
        let c = scan("RAS KERNEL INFO instruction cache parity error corrected");
        assert!(c.level_seen);
        assert!((c.level - 0.2).abs() < 1e-6);
        assert_eq!(c.failure, 1);
        let c = scan("RAS KERNEL FATAL data TLB error interrupt");
        assert!(c.level >= 0.9);
        let c = scan(r#"{"level":"error","msg":"db down"}"#);
        assert!((c.level - 0.75).abs() < 1e-6);
        let c = scan("an error happened");
        assert!(!c.level_seen);
    }

    #[test]
    fn word_classes() {
        let c = scan("sshd[123]: Failed password for invalid user admin from 1.2.3.4");
        assert_eq!(c.security, 2);
        let c = scan("request timed out after 30s; queue full");
        assert_eq!(c.perf, 2);
        let c = scan("java.lang.NullPointerException\n\tat com.example.Foo(Foo.java:1)");
        assert!(c.trace >= 2);
        let c = scan("block blk_-1608999687919862906 at 0x00ab12ff");
        assert_eq!(c.hex_tokens, 1);
    }
}
