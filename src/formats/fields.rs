//! Small pieces every parser shares: borrowing JSON access, the `AdditionalFields` builder,
//! and typed conversions of the text values AWS logs use (`-` for "none", epoch numbers in
//! seconds or milliseconds).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde_json::value::RawValue;

use crate::record::json::write_str;
use crate::record::{Record, Value, clipped, time};

/// The connector column holding source fields that have no column in the destination table
/// (a JSON object keyed by the source field name), so nothing a log carries is dropped.
pub const ADDITIONAL_FIELDS: &str = "AdditionalFields";

/// A JSON string that borrows from the input unless it contains escapes. (`Cow<str>`'s own
/// `Deserialize` always allocates.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'a> Text<'a> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// `'de: 'a` (not just `Text<'de>`) so that derived structs with `#[serde(borrow)]` fields
// can hold it.
impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
            // Logs are not always consistent about quoting scalars; a number where a string
            // is documented is kept as its text rather than failing the whole record.
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(if v { "true" } else { "false" })))
            }
        }
        deserializer.deserialize_any(TextVisitor(PhantomData))
    }
}

/// A boolean that may also be written as the string `"true"`/`"false"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlexBool(pub bool);

impl<'de> Deserialize<'de> for FlexBool {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BoolVisitor;
        impl<'de> Visitor<'de> for BoolVisitor {
            type Value = FlexBool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean or \"true\"/\"false\"")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(FlexBool(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                if v.eq_ignore_ascii_case("true") {
                    Ok(FlexBool(true))
                } else if v.eq_ignore_ascii_case("false") {
                    Ok(FlexBool(false))
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
        }
        deserializer.deserialize_any(BoolVisitor)
    }
}

/// `Deserialize` for a borrowed struct read member by member from a JSON object, for the
/// structs that keep or flag the members they have no field for (which `derive` cannot):
/// `$fill` runs for each key with the value being built and the map, and must consume the
/// member's value.
macro_rules! deserialize_members {
    ($ty:ident, $expecting:literal, |$value:ident, $key:ident, $map:ident| $fill:block) => {
        impl<'de> serde::Deserialize<'de> for $ty<'de> {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct MembersVisitor;
                impl<'de> serde::de::Visitor<'de> for MembersVisitor {
                    type Value = $ty<'de>;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut $map: A,
                    ) -> Result<Self::Value, A::Error> {
                        let mut $value = <$ty<'de>>::default();
                        while let Some($key) =
                            $map.next_key::<$crate::formats::fields::Text<'de>>()?
                        {
                            $fill
                        }
                        Ok($value)
                    }
                }
                deserializer.deserialize_map(MembersVisitor)
            }
        }
    };
}
pub(crate) use deserialize_members;

/// A JSON object seen as its members, values left raw: only the members a parser reads are
/// ever converted. Duplicate keys are kept; lookups return the first.
#[derive(Debug, Default)]
pub struct JsonObject<'a> {
    pub members: Vec<(Cow<'a, str>, &'a RawValue)>,
}

deserialize_members!(JsonObject, "a JSON object", |object, key, map| {
    object.members.push((key.0, map.next_value()?));
});

impl<'a> JsonObject<'a> {
    /// Parses one JSON object; anything else (array, scalar, broken text) is an error with
    /// a readable reason.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| json_error_reason(&e))
    }

    /// The member as an object, if it is one.
    pub fn object(&self, key: &str) -> Option<JsonObject<'a>> {
        let raw = self.raw(key)?;
        if !raw.get().starts_with('{') {
            return None;
        }
        serde_json::from_str(raw.get()).ok()
    }

    /// The raw member, `null` included.
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// The raw member unless it is `null`.
    pub fn raw(&self, key: &str) -> Option<&'a RawValue> {
        self.get(key).filter(|v| v.get() != "null")
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// A string member as text; numbers and booleans give their JSON text, objects and
    /// arrays their raw JSON; `null` and a missing member give `None`.
    pub fn str(&self, key: &str) -> Option<Cow<'a, str>> {
        raw_text(self.raw(key)?)
    }

    /// An integer member (a JSON number or a numeric string); a fractional number is cut
    /// towards zero.
    pub fn i64(&self, key: &str) -> Result<Option<i64>, String> {
        self.parsed(key, "an integer", parse_i64)
    }

    pub fn f64(&self, key: &str) -> Result<Option<f64>, String> {
        self.parsed(key, "a number", |text| {
            text.trim().parse::<f64>().ok().filter(|f| f.is_finite())
        })
    }

    /// `true`/`false`, also as strings (CloudTrail writes `"mfaAuthenticated": "false"`).
    pub fn bool(&self, key: &str) -> Result<Option<bool>, String> {
        let Some(raw) = self.raw(key) else {
            return Ok(None);
        };
        match raw_text(raw).as_deref() {
            Some(t) if t.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(t) if t.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(t) if is_absent(t) => Ok(None),
            _ => Err(format!("{key} is not a boolean: {}", clip(raw.get()))),
        }
    }

    /// A timestamp member: ISO 8601 text, CLF text, or epoch seconds/milliseconds as a
    /// number or numeric string.
    pub fn time(&self, key: &str) -> Result<Option<DateTime<Utc>>, String> {
        self.parsed(key, "a timestamp", parse_time)
    }

    /// The time of the first of `keys` that holds a timestamp, for formats whose records
    /// are recognized by other members: a record without one is delivered with its
    /// object's time. A member that holds something else is kept in `extras` as it came.
    pub fn usable_time(&self, keys: &[&str], extras: &mut Extras) -> Option<DateTime<Utc>> {
        let mut first = None;
        for key in keys {
            match self.time(key) {
                Ok(time) => first = first.or(time),
                Err(_) => {
                    if let Some(raw) = self.raw(key) {
                        extras.raw(key, raw);
                    }
                }
            }
        }
        first
    }

    /// A member's text as `parse` reads it: `None` when it is missing, `null`, empty or
    /// `-`; an error naming `what` it should be when `parse` refuses it.
    fn parsed<T>(
        &self,
        key: &str,
        what: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, String> {
        let Some(raw) = self.raw(key) else {
            return Ok(None);
        };
        let text = raw_text(raw).unwrap_or_default();
        if is_absent(&text) {
            return Ok(None);
        }
        parse(&text)
            .map(Some)
            .ok_or_else(|| format!("{key} is not {what}: {}", clip(raw.get())))
    }

    /// An owned copy of a non-null member, for `dynamic` columns.
    pub fn json(&self, key: &str) -> Option<Box<RawValue>> {
        self.raw(key).map(|r| r.to_owned())
    }

    /// Members whose key is not in `mapped`, in order.
    pub fn unmapped<'s>(
        &'s self,
        mapped: &'s [&str],
    ) -> impl Iterator<Item = (&'s str, &'a RawValue)> + 's {
        self.members
            .iter()
            .filter(move |(k, _)| !mapped.contains(&k.as_ref()))
            .map(|(k, v)| (k.as_ref(), *v))
    }
}

/// Text of a raw JSON scalar (strings unescaped); containers as their JSON text.
pub fn raw_text(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<Text<'_>>(text).ok().map(|t| t.0),
        Some(b'n') if text == "null" => None,
        Some(_) => Some(Cow::Borrowed(text)),
        None => None,
    }
}

/// `""` and `"-"` mean "no value" in AWS logs.
pub fn is_absent(text: &str) -> bool {
    text.is_empty() || text == "-"
}

/// An integer as text; a fractional value is cut towards zero (`"8.0"` -> 8).
pub fn parse_i64(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(v) = t.parse::<i64>() {
        return Some(v);
    }
    let f: f64 = t.parse().ok()?;
    if f.is_finite() && f.abs() < 9.2e18 {
        Some(f.trunc() as i64)
    } else {
        None
    }
}

/// Timestamps as AWS writes them. Plain numbers are epoch seconds, or milliseconds when
/// they are too large to be seconds of a plausible date (>= 1e11, i.e. after 5138 AD).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        // Integer arithmetic: milliseconds through f64 would lose the last digit.
        let n: i64 = t.parse().ok()?;
        return if n >= 100_000_000_000 {
            time::from_epoch_millis(n)
        } else {
            DateTime::from_timestamp(n, 0)
        };
    }
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let f: f64 = t.parse().ok()?;
        return epoch_number(f);
    }
    time::parse_any(t)
}

/// Epoch seconds or milliseconds (see [`parse_time`]).
pub fn epoch_number(f: f64) -> Option<DateTime<Utc>> {
    if !f.is_finite() || f < 0.0 {
        return None;
    }
    if f >= 1e11 {
        time::from_epoch_seconds_f64(f / 1000.0)
    } else {
        time::from_epoch_seconds_f64(f)
    }
}

/// A readable reason for a JSON parse failure.
pub fn json_error_reason(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => format!("JSON value truncated ({e})"),
        Category::Syntax => format!("malformed JSON ({e})"),
        Category::Data => format!("unexpected JSON shape ({e})"),
        Category::Io => format!("read error ({e})"),
    }
}

/// Cuts long text for error messages.
pub fn clip(text: &str) -> String {
    clipped(text, 80)
}

/// Builds the `AdditionalFields` JSON object incrementally; nothing is allocated until the
/// first member.
#[derive(Debug, Default)]
pub struct Extras {
    buf: Vec<u8>,
}

impl Extras {
    pub fn new() -> Self {
        Extras::default()
    }

    fn key(&mut self, key: &str) {
        self.buf.push(if self.buf.is_empty() { b'{' } else { b',' });
        write_str(&mut self.buf, key);
        self.buf.push(b':');
    }

    /// A member whose value is already valid JSON text.
    pub fn raw(&mut self, key: &str, raw: &RawValue) {
        self.key(key);
        self.buf.extend_from_slice(raw.get().as_bytes());
    }

    pub fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        write_str(&mut self.buf, value);
    }

    pub fn int(&mut self, key: &str, value: i64) {
        self.key(key);
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    pub fn strings<'s>(&mut self, key: &str, values: impl IntoIterator<Item = &'s str>) {
        self.key(key);
        self.buf.push(b'[');
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            write_str(&mut self.buf, v);
        }
        self.buf.push(b']');
    }

    /// Adds every unmapped member of `object`.
    pub fn unmapped(&mut self, object: &JsonObject<'_>, mapped: &[&str]) {
        for (k, v) in object.unmapped(mapped) {
            self.raw(k, v);
        }
    }

    /// Adds the `AdditionalFields` column to the record when there is anything to add.
    pub fn finish(mut self, record: &mut Record) {
        if self.buf.is_empty() {
            return;
        }
        self.buf.push(b'}');
        // The builder only writes escaped strings and raw JSON values: valid UTF-8 JSON.
        let text = String::from_utf8(self.buf).expect("extras are UTF-8");
        let raw = RawValue::from_string(text).expect("extras are valid JSON");
        record.push(ADDITIONAL_FIELDS, Value::Json(raw));
    }
}

/// Pushes an integer into an `int` (32-bit) column, or into `AdditionalFields` when it does
/// not fit, so a 5 GB S3 object size is neither rejected nor silently clipped.
pub fn push_int32(
    record: &mut Record,
    extras: &mut Extras,
    column: &'static str,
    value: Option<i64>,
) {
    if let Some(v) = value {
        if i32::try_from(v).is_ok() {
            record.push(column, Value::Int(v));
        } else {
            extras.int(column, v);
        }
    }
}

/// Pushes a string column unless the value is missing, `-` or empty.
pub fn push_cow(record: &mut Record, column: &'static str, value: Option<Cow<'_, str>>) {
    if let Some(v) = value {
        if !is_absent(&v) {
            record.push(column, Value::Str(v.into_owned()));
        }
    }
}

/// Pushes each `(column, key)` string member of `object` (see [`push_cow`]).
pub fn push_strs(record: &mut Record, object: &JsonObject<'_>, columns: &[(&'static str, &str)]) {
    for (column, key) in columns {
        push_cow(record, column, object.str(key));
    }
}

/// Pushes each `(column, key)` member of `object` as a `dynamic` column, unless it is
/// missing or null.
pub fn push_json(record: &mut Record, object: &JsonObject<'_>, columns: &[(&'static str, &str)]) {
    for (column, key) in columns {
        if let Some(raw) = object.json(key) {
            record.push(column, Value::Json(raw));
        }
    }
}

/// Parses an integer field of a text log: `-` or empty is absent, anything else not a number
/// is an error naming the field.
pub fn int_field(name: &str, text: &str) -> Result<Option<i64>, String> {
    if is_absent(text) {
        return Ok(None);
    }
    text.parse::<i64>()
        .map(Some)
        .map_err(|_| format!("{name} is not an integer: {}", clip(text)))
}

/// Bytes as text for the string-based parsers (invalid UTF-8 is replaced, not rejected:
/// the rest of the line is still worth keeping).
pub fn line_text(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// A line with nothing but ASCII whitespace, which every line parser skips.
pub fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// Removes one trailing line break (CloudWatch messages usually end with `\n`).
pub fn trim_newline(text: &str) -> &str {
    text.strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(text)
}

/// A timestamp at the very start of a message (`2020-03-05T16:30:36.113Z\t...`), as the
/// AWSCloudWatch table's `ExtractedTime`.
pub fn leading_timestamp(message: &str) -> Option<DateTime<Utc>> {
    let m = message.trim_start_matches('[');
    let b = m.as_bytes();
    // A timestamp is ASCII: anything else in its 19 bytes means there is none.
    if b.len() < 19 || !b[..19].is_ascii() || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-'
    {
        return None;
    }
    // `YYYY-MM-DD HH:MM:SS...` has one inner space; stop at the first separator after the
    // time of day.
    let mut end = 19;
    while end < b.len() && b[end].is_ascii() && !matches!(b[end], b' ' | b'\t' | b']' | b',' | b'|')
    {
        end += 1;
    }
    time::parse_iso8601(&m[..end]).or_else(|| time::parse_iso8601(&m[..19]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::LogType;

    #[test]
    fn text_borrows_unless_escaped() {
        let t: Text<'_> = serde_json::from_str(r#""plain""#).unwrap();
        assert!(matches!(t.0, Cow::Borrowed("plain")));
        let t: Text<'_> = serde_json::from_str(r#""a\"b""#).unwrap();
        assert_eq!(t.0, "a\"b");
    }

    #[test]
    fn object_accessors_convert_types() {
        let obj = JsonObject::parse(
            br#"{"s":"x","n":5,"ns":"7","f":8.9,"b":"false","t":1693457862729,"ts":"1636381332","iso":"2021-12-11T22:46:23Z","null":null,"dash":"-","o":{"k":1},"bad":"x1"}"#,
        )
        .unwrap();
        assert_eq!(obj.str("s").unwrap(), "x");
        assert_eq!(obj.str("n").unwrap(), "5");
        assert_eq!(obj.i64("ns").unwrap(), Some(7));
        assert_eq!(obj.i64("f").unwrap(), Some(8));
        assert_eq!(obj.bool("b").unwrap(), Some(false));
        assert_eq!(
            time::to_rfc3339(&obj.time("t").unwrap().unwrap()),
            "2023-08-31T04:57:42.729000Z"
        );
        assert_eq!(
            time::to_rfc3339(&obj.time("ts").unwrap().unwrap()),
            "2021-11-08T14:22:12Z"
        );
        assert!(obj.time("iso").unwrap().is_some());
        assert!(obj.str("null").is_none());
        assert_eq!(obj.str("dash").as_deref(), Some("-"));
        assert_eq!(obj.object("o").unwrap().i64("k").unwrap(), Some(1));
        assert!(obj.i64("bad").unwrap_err().contains("bad"));
        assert!(obj.i64("missing").unwrap().is_none());
        let extra: Vec<_> = obj.unmapped(&["s", "n"]).map(|(k, _)| k).collect();
        assert_eq!(extra[0], "ns");
    }

    #[test]
    fn extras_build_a_json_object() {
        let mut r = Record::new(LogType::Text);
        let mut e = Extras::new();
        e.str("a\"", "v\n");
        e.int("n", -3);
        e.strings("l", ["x", "y"]);
        e.raw("r", &RawValue::from_string("{\"z\":[1]}".into()).unwrap());
        e.finish(&mut r);
        let v: serde_json::Value =
            serde_json::from_str(r.get_str(ADDITIONAL_FIELDS).unwrap()).unwrap();
        assert_eq!(v["a\""], "v\n");
        assert_eq!(v["n"], -3);
        assert_eq!(v["l"][1], "y");
        assert_eq!(v["r"]["z"][0], 1);

        let mut r = Record::new(LogType::Text);
        Extras::new().finish(&mut r);
        assert!(r.columns.is_empty());
    }

    #[test]
    fn int32_overflow_goes_to_extras() {
        let mut r = Record::new(LogType::S3Access);
        let mut e = Extras::new();
        push_int32(&mut r, &mut e, "ObjectSize", Some(5_000_000_000));
        push_int32(&mut r, &mut e, "BytesSent", Some(12));
        e.finish(&mut r);
        assert_eq!(r.get("BytesSent"), Some(&Value::Int(12)));
        assert!(r.get("ObjectSize").is_none());
        assert!(
            r.get_str(ADDITIONAL_FIELDS)
                .unwrap()
                .contains("\"ObjectSize\":5000000000")
        );
    }

    #[test]
    fn leading_timestamps() {
        let t = leading_timestamp("2020-03-05T16:30:36.113Z\tf08b\tDEBUG x").unwrap();
        assert_eq!(time::to_rfc3339(&t), "2020-03-05T16:30:36.113000Z");
        let t = leading_timestamp("2024-01-02 03:04:05,123 INFO x").unwrap();
        assert_eq!(time::to_rfc3339(&t), "2024-01-02T03:04:05Z");
        assert!(leading_timestamp("some text").is_none());
        assert!(leading_timestamp("{\"a\":1}").is_none());
        assert!(leading_timestamp("3779-e{:\"-\t\u{fffd}(]\u{fffd}").is_none());
        assert!(leading_timestamp("2024-01-02T03:04:05\u{fffd}").is_some());
    }

    #[test]
    fn epoch_heuristic() {
        assert_eq!(
            time::to_rfc3339(&parse_time("1737735732").unwrap()),
            "2025-01-24T16:22:12Z"
        );
        assert_eq!(
            time::to_rfc3339(&parse_time("1583425836114").unwrap()),
            "2020-03-05T16:30:36.114000Z"
        );
        assert!(parse_time("not a time").is_none());
    }
}
