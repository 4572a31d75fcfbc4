//! Generic masking of variable parts in a log message.
//!
//! A message is split on whitespace into tokens; each token is split further into segments
//! at structural delimiters (`=`, `:`, `/`, `(`, `,`, `.`, ...). A segment is variable when
//! it looks like data rather than a word: numbers, hex, identifiers with numeric parts
//! (`blk_-123`, `attempt_01_m_2`), versions, IPs and host names with digits, absolute paths,
//! URLs with digits, MAC addresses, booleans and the usual account names. Runs of
//! variable segments joined by `.`, `-`, `:` or `/` collapse into a single `<*>`, so an
//! `ip:port` or a version `2.6.5-1.358` is one variable. A date written as several tokens
//! (`Fri Jun 17 07:07:00 2005`) is one variable too.
//!
//! The output joins tokens with single spaces, which is also how templates are printed.
//! No rule depends on the source of the log: the same defaults apply to every input.

/// The placeholder for a variable part.
pub const WILDCARD: &str = "<*>";

/// Reusable masking state (token offsets), so masking allocates nothing per message.
#[derive(Debug, Default)]
pub struct Masker {
    spans: Vec<Span>,
}

#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    /// Union of the [`CLASS`] bits of the token's bytes.
    classes: u8,
}

const DIGIT: u8 = 1;
/// Bytes that can make a digit-free token variable: paths, `key=value`, `scheme://`.
const STRUCTURE: u8 = 2;
const SPACE: u8 = 4;

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = DIGIT;
        c += 1;
    }
    t[b'/' as usize] = STRUCTURE;
    t[b'\\' as usize] = STRUCTURE;
    t[b'=' as usize] = STRUCTURE;
    t[b':' as usize] = STRUCTURE;
    t[b' ' as usize] = SPACE;
    t[b'\t' as usize] = SPACE;
    t[b'\n' as usize] = SPACE;
    t[b'\r' as usize] = SPACE;
    t[0x0b] = SPACE;
    t[0x0c] = SPACE;
    t
};

impl Masker {
    pub fn new() -> Self {
        Masker::default()
    }

    /// Writes the masked `message` into `out` (cleared first) and returns the number of
    /// tokens.
    pub fn mask(&mut self, message: &str, out: &mut String) -> usize {
        out.clear();
        self.spans.clear();
        let bytes = message.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            while i < bytes.len() && CLASS[bytes[i] as usize] == SPACE {
                i += 1;
            }
            let start = i;
            let mut classes = 0;
            while i < bytes.len() {
                let c = CLASS[bytes[i] as usize];
                if c == SPACE {
                    break;
                }
                classes |= c;
                i += 1;
            }
            if start < i {
                self.spans.push(Span {
                    start,
                    end: i,
                    classes,
                });
            }
        }
        let mut tokens = 0;
        let mut t = 0;
        while t < self.spans.len() {
            if tokens > 0 {
                out.push(' ');
            }
            tokens += 1;
            let span = self.spans[t];
            let token = &message[span.start..span.end];
            if span.classes == 0 && !(token.len() == 3 && is_month_or_weekday(token)) {
                // A plain word: only a value word (`root`, `true`) can be variable.
                if token.len() >= 4
                    && may_start_value_word(token)
                    && is_value_word(token.trim_end_matches(TRAILING_CHARS))
                {
                    out.push_str(WILDCARD);
                    out.push_str(&token[token.trim_end_matches(TRAILING_CHARS).len()..]);
                } else {
                    out.push_str(token);
                }
                t += 1;
                continue;
            }
            let rest = &self.spans[t..];
            if let Some(len) = date_span(message, rest) {
                out.push_str(WILDCARD);
                t += len;
                continue;
            }
            if let Some(len) = size_with_unit(message, rest) {
                let last = rest[len - 1];
                out.push_str(WILDCARD);
                out.push_str(trailing_punct(&message[last.start..last.end]));
                t += len;
                continue;
            }
            mask_token(token, span.classes & DIGIT != 0, out);
            t += 1;
        }
        tokens
    }
}

#[cfg(test)]
/// Masks one message into a new string (convenience for tests and one-off use).
pub fn mask_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    Masker::new().mask(message, &mut out);
    out
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn is_one_of(token: &str, names: &[&str]) -> bool {
    token.len() == 3 && names.iter().any(|n| token.eq_ignore_ascii_case(n))
}

fn is_month_or_weekday(token: &str) -> bool {
    is_one_of(token, &MONTHS) || is_one_of(token, &WEEKDAYS)
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `hh:mm:ss` with optional fraction.
fn is_clock(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 8
        && b[2] == b':'
        && b[5] == b':'
        && b[..2].iter().all(u8::is_ascii_digit)
        && b[3..5].iter().all(u8::is_ascii_digit)
        && b[6..8].iter().all(u8::is_ascii_digit)
        && (b.len() == 8 || (matches!(b[8], b'.' | b',') && all_digits(&s[9..])))
}

/// `yyyy-mm-dd` or `yyyy/mm/dd`.
fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && matches!(b[4], b'-' | b'/')
        && b[7] == b[4]
        && all_digits(&s[..4])
        && all_digits(&s[5..7])
        && all_digits(&s[8..])
}

/// A date spread over several tokens: `[Weekday] Month Day hh:mm:ss [TZ] [Year]` or
/// `yyyy-mm-dd hh:mm:ss`. Returns how many tokens it covers (at least two).
fn date_span(msg: &str, spans: &[Span]) -> Option<usize> {
    let tok = |i: usize| spans.get(i).map(|s| &msg[s.start..s.end]);
    let first = tok(0)?;
    if is_iso_date(first) {
        return tok(1).filter(|t| is_clock(t)).map(|_| 2);
    }
    let mut i = 0;
    if is_one_of(first, &WEEKDAYS) {
        i = 1;
    }
    if !is_one_of(tok(i)?, &MONTHS) {
        return None;
    }
    let day = tok(i + 1)?;
    if !(day.len() <= 2 && all_digits(day) && is_clock(tok(i + 2)?)) {
        return None;
    }
    i += 3;
    if let Some(tz) = tok(i)
        && (3..=4).contains(&tz.len())
        && tz.bytes().all(|b| b.is_ascii_uppercase())
        && tok(i + 1).is_some_and(|y| y.len() == 4 && all_digits(y))
    {
        i += 1;
    }
    if let Some(year) = tok(i)
        && year.len() == 4
        && all_digits(year)
    {
        i += 1;
    }
    Some(i)
}

/// A number followed by a data-size unit (`5.2 KB,`): one quantity, one variable.
fn size_with_unit(msg: &str, spans: &[Span]) -> Option<usize> {
    let (first, second) = (spans.first()?, spans.get(1)?);
    if first.classes & DIGIT == 0 {
        return None;
    }
    let number = &msg[first.start..first.end];
    if number.is_empty()
        || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || !number.as_bytes()[0].is_ascii_digit()
    {
        return None;
    }
    let unit_token = &msg[second.start..second.end];
    let unit = unit_token.trim_end_matches([',', ';', ')', ']', '.']);
    // A unit at the very end of a message reads as a label ("capacity 17.7 GB"), one
    // followed by punctuation as part of a list of quantities.
    if unit.len() == unit_token.len() {
        return None;
    }
    const UNITS: [&str; 10] = [
        "B", "KB", "MB", "GB", "TB", "PB", "KiB", "MiB", "GiB", "TiB",
    ];
    UNITS.contains(&unit).then_some(2)
}

fn trailing_punct(token: &str) -> &str {
    let core = token.trim_end_matches([',', ';', ')', ']', '.']);
    &token[core.len()..]
}

/// Words that are values whatever their shape: booleans, null and the usual account names.
fn is_value_word(s: &str) -> bool {
    const WORDS: [&str; 5] = ["true", "false", "null", "root", "admin"];
    (4..=5).contains(&s.len()) && WORDS.iter().any(|w| s.eq_ignore_ascii_case(w))
}

/// A cheap first-letter test that spares most plain words the trailing-punctuation trim.
#[inline]
fn may_start_value_word(token: &str) -> bool {
    matches!(
        token.as_bytes()[0].to_ascii_lowercase(),
        b't' | b'f' | b'n' | b'r' | b'a'
    )
}

const LEADING: &[u8] = b"([{'\"<:";
const TRAILING: &[u8] = b")]}'\",;:.!?";
const TRAILING_CHARS: &[char] = &[')', ']', '}', '\'', '"', ',', ';', ':', '.', '!', '?'];

/// Appends the masked form of one whitespace-free token.
pub fn mask_token(token: &str, has_digit: bool, out: &mut String) {
    let b = token.as_bytes();
    let mut lo = 0;
    while lo < b.len() && LEADING.contains(&b[lo]) {
        lo += 1;
    }
    let mut hi = b.len();
    // An absolute path may end with a dot (`part-00590.`); elsewhere it closes a sentence.
    let path = lo < b.len() && (b[lo] == b'/' || is_windows_path(&b[lo..]));
    while hi > lo && TRAILING.contains(&b[hi - 1]) && !(path && b[hi - 1] == b'.') {
        hi -= 1;
    }
    if lo == hi {
        out.push_str(token);
        return;
    }
    let core = &token[lo..hi];
    let cb = core.as_bytes();
    if !has_digit
        && !path
        && !cb
            .iter()
            .any(|&c| matches!(c, b'=' | b':' | b'/' | b'@' | b','))
        && !is_value_word(core)
    {
        out.push_str(token);
        return;
    }
    // A URL without digits names a resource (`http://wiki.example.org/Topic`).
    if !has_digit && find_scheme_separator(cb).is_some() {
        out.push_str(token);
        return;
    }
    out.push_str(&token[..lo]);
    if whole_value(core, has_digit, path) {
        out.push_str(WILDCARD);
    } else {
        mask_segments(core, out);
    }
    out.push_str(&token[hi..]);
}

/// Position of the first `://`: tokens are short, so a `memchr` for `:` beats building a
/// substring searcher per token.
#[inline]
fn find_scheme_separator(b: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memchr(b':', b.get(from..)?) {
        let colon = from + i;
        if b.get(colon + 1..colon + 3) == Some(b"//") {
            return Some(colon);
        }
        from = colon + 1;
    }
    None
}

fn is_windows_path(b: &[u8]) -> bool {
    b.len() > 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\'
}

/// Values recognised as one unit before segment splitting.
fn whole_value(core: &str, has_digit: bool, path: bool) -> bool {
    let b = core.as_bytes();
    if path {
        // A lone `/` is punctuation, not a path.
        return b.len() > 1 && !(b.len() == 2 && b[1] == b'/');
    }
    if is_value_word(core) {
        return true;
    }
    if !has_digit {
        return false;
    }
    if let Some(p) = find_scheme_separator(b) {
        return p > 0
            && b[..p]
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'+');
    }
    is_host_port(core) || is_mac(core) || is_uuid(core)
}

/// `8f5b4b9e-5a1e-4a55-9e7e-3a3c1e2f5b6d`, whatever its letters.
fn is_uuid(core: &str) -> bool {
    let b = core.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `host:port` or `host/ip:port` where the host part has a digit or a dot.
fn is_host_port(core: &str) -> bool {
    let b = core.as_bytes();
    let Some(colon) = b.iter().rposition(|&c| c == b':') else {
        return false;
    };
    if b.len() - colon > 6 {
        return false;
    }
    let Some((host, port)) = core.rsplit_once(':') else {
        return false;
    };
    if !(1..=5).contains(&port.len()) || !all_digits(port) || host.is_empty() {
        return false;
    }
    let host_ok = |h: &str| {
        !h.is_empty()
            && h.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
            && h.as_bytes()[0].is_ascii_alphanumeric()
    };
    let (name, addr) = match host.split_once('/') {
        Some((n, a)) => (n, Some(a)),
        None => (host, None),
    };
    host_ok(name)
        && addr.is_none_or(|a| !a.is_empty() && a.bytes().all(|c| c.is_ascii_digit() || c == b'.'))
        && name.bytes().any(|c| c.is_ascii_digit() || c == b'.')
}

fn is_mac(core: &str) -> bool {
    let b = core.as_bytes();
    b.len() >= 17
        && b.len() % 3 == 2
        && b.chunks(3).all(|chunk| {
            chunk[0].is_ascii_hexdigit()
                && chunk[1].is_ascii_hexdigit()
                && (chunk.len() == 2 || matches!(chunk[2], b':' | b'-'))
        })
}

static DELIMITER: [bool; 256] = {
    let mut t = [false; 256];
    let set = b"=:/@#()[]{},;|'\".\\";
    let mut i = 0;
    while i < set.len() {
        t[set[i] as usize] = true;
        i += 1;
    }
    t
};

#[inline]
fn is_delimiter(b: &[u8], i: usize) -> bool {
    let c = b[i];
    if c == b'-' {
        // A dash between alphanumerics separates words (`jetty-6.1`); one after other
        // punctuation is a sign (`blk_-42`, `vCores:-17`).
        return i > 0 && b[i - 1].is_ascii_alphanumeric();
    }
    DELIMITER[c as usize]
}

/// Delimiters across which adjacent variable segments form one value.
#[inline]
fn joins(c: u8) -> bool {
    matches!(c, b'.' | b'-' | b':' | b'/')
}

/// Masks a token core segment by segment.
fn mask_segments(core: &str, out: &mut String) {
    let b = core.as_bytes();
    // Host names with digits (`FNANLI5.fareast.corp.microsoft.com`, `5.36.59.76.dsl.example.net`)
    // are one value.
    let mut i = 0;
    // Whether the last thing written was a wildcard that a joining delimiter could extend.
    let mut open_var = false;
    let mut pending_join: Option<usize> = None;
    while i < b.len() {
        if is_delimiter(b, i) {
            let c = b[i];
            // A path after `:` or `=` (`jar:file:/D:/x`, `dir=/tmp`) is one value.
            if c == b'/' && i > 0 && matches!(b[i - 1], b':' | b'=') && i + 1 < b.len() {
                flush_join(core, &mut pending_join, out);
                if !open_var {
                    out.push_str(WILDCARD);
                }
                return;
            }
            if open_var && joins(c) && pending_join.is_none() {
                pending_join = Some(i);
            } else {
                flush_join(core, &mut pending_join, out);
                open_var = false;
                out.push(c as char);
            }
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_delimiter(b, i) {
            i += 1;
        }
        // Extend a host-name run: labels joined by dots, at least three, with a digit.
        let mut end = i;
        if i < b.len()
            && b[i] == b'.'
            && let Some(host_end) = host_name_end(b, start)
        {
            end = host_end;
        }
        let segment = &core[start..end];
        let is_key = end < b.len() && b[end] == b'=';
        let variable = !is_key && (end > i || is_variable_segment(segment));
        if variable {
            if open_var && pending_join.is_some() {
                pending_join = None;
            } else {
                flush_join(core, &mut pending_join, out);
                out.push_str(WILDCARD);
            }
            open_var = true;
        } else {
            flush_join(core, &mut pending_join, out);
            out.push_str(segment);
            open_var = false;
        }
        i = end;
    }
    flush_join(core, &mut pending_join, out);
}

fn flush_join(core: &str, pending: &mut Option<usize>, out: &mut String) {
    if let Some(p) = pending.take() {
        out.push_str(&core[p..p + 1]);
    }
}

/// The end of a host name starting at `start` (labels of alphanumerics and `_` joined
/// by dots; at least three labels; a digit somewhere; last label alphabetic), if any.
fn host_name_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    let mut labels = 0;
    let mut digit = false;
    let mut last_label_alpha;
    loop {
        let label_start = i;
        let mut alpha = true;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            if b[i].is_ascii_digit() {
                digit = true;
            }
            if !b[i].is_ascii_alphabetic() {
                alpha = false;
            }
            i += 1;
        }
        if i == label_start {
            return None;
        }
        labels += 1;
        last_label_alpha = alpha && (2..=6).contains(&(i - label_start));
        if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        break;
    }
    let lower_tld = last_label_alpha && b[i - 1].is_ascii_lowercase();
    (labels >= 3 && digit && lower_tld).then_some(i)
}

/// Whether a delimiter-free segment holds data rather than a word.
fn is_variable_segment(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() {
        return false;
    }
    if is_value_word(s) {
        return true;
    }
    let first = b[0];
    if first.is_ascii_digit() {
        return true;
    }
    if matches!(first, b'-' | b'+') && b.len() > 1 && b[1].is_ascii_digit() {
        return true;
    }
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return false;
    }
    // `v1`, `v2` versions.
    if (first == b'v' || first == b'V') && b[1..].iter().all(u8::is_ascii_digit) {
        return true;
    }
    // Hex of some length (`ffff3000`, `fb0ad7e364e4`).
    if b.len() >= 6 && b.iter().all(u8::is_ascii_hexdigit) {
        return true;
    }
    let mut prev = first;
    let mut run = 0;
    for &c in b {
        if c.is_ascii_digit() {
            // A number glued after punctuation (`blk_42`, `rdd_2_0`) is data.
            if !prev.is_ascii_alphanumeric() {
                return true;
            }
            run += 1;
            // Two or more digits inside a word (`bglio559`, `U11`) are a serial, not a
            // spelling (`ssh2`, `log4j`).
            if run >= 2 {
                return true;
            }
        } else {
            run = 0;
        }
        prev = c;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks each (message, masked message) case.
    fn assert_masks(cases: &[(&str, &str)]) {
        for (message, masked) in cases {
            assert_eq!(mask_message(message), *masked, "{message}");
        }
    }

    #[test]
    fn numbers_ids_and_addresses() {
        assert_masks(&[
            (
                "PacketResponder 1 for block blk_-6952295868487656571 terminating",
                "PacketResponder <*> for block <*> terminating",
            ),
            (
                "10.251.30.85:50010:Got exception while serving blk_1 to /10.251.90.64:",
                "<*>:Got exception while serving <*> to <*>:",
            ),
            (
                "Retrying connect to server: msra-sa-41:8030. Already tried 0 time(s)",
                "Retrying connect to server: <*>. Already tried <*> time(s)",
            ),
            (
                "headroom=<memory:10240, vCores:-17>",
                "headroom=<memory:<*>, vCores:<*>",
            ),
            ("generating core.2275", "generating core.<*>"),
            ("(uid=0) LOGIN(uid=0)", "(uid=<*>) LOGIN(uid=<*>)"),
            (
                "on node MININT-FNANLI5.fareast.corp.microsoft.com",
                "on node MININT-<*>",
            ),
            ("jetty-6.1.26", "jetty-<*>"),
            (
                "Thread[eventHandlingThread,5,main]",
                "Thread[eventHandlingThread,<*>,main]",
            ),
            ("*** info [mice.c(1766)]:", "*** info [mice.c(<*>)]:"),
            ("ssh2 tty2 L3 Slf4jLogger", "ssh2 tty2 L3 Slf4jLogger"),
            (
                "Failed password for root from 1.2.3.4 port 42393 ssh2",
                "Failed password for <*> from <*> port <*> ssh2",
            ),
        ]);
    }

    #[test]
    fn paths_urls_dates_and_sizes() {
        assert_masks(&[
            (
                "Directory index forbidden by rule: /var/www/html/",
                "Directory index forbidden by rule: <*>",
            ),
            (
                "Extract jar:file:/D:/x/y.jar!/webapps/mapreduce to C:\\Users\\x",
                "Extract jar:file:<*> to <*>",
            ),
            (
                "Input split: hdfs://10.10.34.11:9000/pjhe/logs/2kSOSP.log:21876+7292",
                "Input split: <*>",
            ),
            (
                "see http://wiki.apache.org/hadoop/NoRouteToHost",
                "see http://wiki.apache.org/hadoop/NoRouteToHost",
            ),
            (
                "connection from 1.2.3.4 (a.b.net) at Fri Jun 17 07:07:00 2005",
                "connection from <*> (a.b.net) at <*>",
            ),
            (
                "(estimated size 5.2 KB, free 5.2 KB)",
                "(estimated size <*>, free <*>)",
            ),
            ("capacity 17.7 GB", "capacity <*> GB"),
            (
                "allocateBlock: /user/root/part-00590. blk_-1",
                "allocateBlock: <*> <*>",
            ),
            (
                "removing device node '/udev/vcsa2'",
                "removing device node '<*>'",
            ),
        ]);
    }

    #[test]
    fn uuids_are_one_value() {
        assert_masks(&[
            (
                "END RequestId: cafebabe-beef-dead-face-3a3c1e2f5b6d",
                "END RequestId: <*>",
            ),
            (
                "REPORT RequestId: 8f5b4b9e-5a1e-4a55-9e7e-3a3c1e2f5b6d Duration: 12.34 ms",
                "REPORT RequestId: <*> Duration: <*> ms",
            ),
        ]);
    }

    #[test]
    fn whitespace_is_normalised() {
        assert_masks(&[
            ("  SELinux:  Initializing.\t", "SELinux: Initializing."),
            ("", ""),
        ]);
    }
}
