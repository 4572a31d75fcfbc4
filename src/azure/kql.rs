//! Just enough KQL reading to hold queries to the declared columns.
//!
//! - [`tokens`]: a query without its comments and string literals, as identifiers,
//!   numbers and symbols (hyphenated operators such as `project-rename` are one word;
//!   `.name` after a value is a property, not a column).
//! - [`check_transform`]: a DCR `transformKql` uses only the operators Azure allows in
//!   transformations and only columns its input stream declares; returns its output
//!   columns.
//! - [`check_query`]: every identifier of a Sentinel query is a KQL keyword or function, a
//!   name the query binds itself (`let`, `x = ...` in extend/summarize/project, `as`), a
//!   table it names, or a column of one of those tables.
//!
//! This is a reader for the project's own queries, not a KQL parser: it does not know
//! which pipe stage a column is visible in, only that the name exists.

use std::collections::BTreeSet;

use crate::record::tables::ColumnType;

/// One token of a KQL query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// An identifier or keyword; hyphenated operators such as `project-rename` are one.
    Ident(String),
    /// An identifier right after `.`: a member of a dynamic value.
    Property(String),
    /// A number, timespan or real literal (its text is dropped).
    Number,
    /// A string literal (its text is dropped).
    Str,
    /// Any other symbol; two-character operators such as `==` are one.
    Symbol(String),
}

/// Operators written with a hyphen, read as one word.
const HYPHENATED: &[&str] = &[
    "project-rename",
    "project-away",
    "project-keep",
    "project-reorder",
    "mv-expand",
    "mv-apply",
    "make-series",
    "parse-where",
    "top-nested",
    "top-hitters",
];

/// Tabular operators Azure Monitor accepts in a DCR transformation.
pub const TRANSFORM_OPERATORS: &[&str] = &[
    "extend",
    "project",
    "print",
    "where",
    "parse",
    "project-away",
    "project-rename",
    "datatable",
];

/// KQL words that are neither columns nor functions.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "has",
    "has_cs",
    "has_any",
    "has_all",
    "hasprefix",
    "hassuffix",
    "contains",
    "contains_cs",
    "startswith",
    "startswith_cs",
    "endswith",
    "endswith_cs",
    "matches",
    "regex",
    "between",
    "where",
    "project",
    "project-away",
    "project-rename",
    "project-keep",
    "project-reorder",
    "extend",
    "summarize",
    "by",
    "count",
    "top",
    "take",
    "limit",
    "sort",
    "order",
    "asc",
    "desc",
    "nulls",
    "first",
    "last",
    "join",
    "kind",
    "on",
    "inner",
    "innerunique",
    "leftouter",
    "rightouter",
    "fullouter",
    "leftanti",
    "rightanti",
    "leftsemi",
    "rightsemi",
    "union",
    "withsource",
    "isfuzzy",
    "let",
    "distinct",
    "mv-expand",
    "mv-apply",
    "make-series",
    "render",
    "timechart",
    "barchart",
    "piechart",
    "columnchart",
    "areachart",
    "linechart",
    "table",
    "true",
    "false",
    "datatable",
    "print",
    "parse",
    "with",
    "as",
    "from",
    "to",
    "step",
    "range",
    "lookup",
    "evaluate",
    "invoke",
    "materialize",
    "dynamic",
    "datetime",
    "timespan",
    "string",
    "int",
    "long",
    "real",
    "bool",
    "boolean",
    "double",
    "guid",
    "decimal",
    "null",
    "source",
    "default",
    "hint",
    "typeof",
    "count_",
    "top-nested",
    "parse-where",
    "serialize",
    "getschema",
    "search",
    "find",
    "facet",
    "fork",
    "sample",
    "sample-distinct",
    "partition",
    "scan",
    "as_of",
];

/// KQL scalar and aggregation functions the project's queries may call.
const FUNCTIONS: &[&str] = &[
    "ago",
    "now",
    "bin",
    "bin_at",
    "count",
    "countif",
    "dcount",
    "dcountif",
    "sum",
    "sumif",
    "avg",
    "avgif",
    "max",
    "maxif",
    "min",
    "minif",
    "arg_max",
    "arg_min",
    "make_set",
    "make_set_if",
    "make_list",
    "make_list_if",
    "make_bag",
    "take_any",
    "any",
    "percentile",
    "percentiles",
    "stdev",
    "variance",
    "tostring",
    "toint",
    "tolong",
    "toreal",
    "todouble",
    "tobool",
    "todatetime",
    "todynamic",
    "totimespan",
    "toguid",
    "todecimal",
    "parse_json",
    "isnotempty",
    "isempty",
    "isnull",
    "isnotnull",
    "iff",
    "iif",
    "case",
    "coalesce",
    "strcat",
    "strcat_array",
    "split",
    "array_length",
    "array_index_of",
    "set_has_element",
    "tolower",
    "toupper",
    "round",
    "floor",
    "ceiling",
    "abs",
    "log",
    "exp",
    "pow",
    "sqrt",
    "startofday",
    "startofweek",
    "startofmonth",
    "endofday",
    "format_datetime",
    "format_timespan",
    "datetime_diff",
    "datetime_add",
    "dayofweek",
    "hourofday",
    "columnifexists",
    "extract",
    "extract_all",
    "strlen",
    "substring",
    "trim",
    "trim_start",
    "trim_end",
    "replace_string",
    "replace_regex",
    "hash",
    "hash_sha256",
    "pack",
    "bag_pack",
    "pack_array",
    "bag_keys",
    "bag_merge",
    "row_number",
    "prev",
    "next",
    "indexof",
    "countof",
    "parse_url",
    "parse_path",
    "ipv4_is_private",
    "ipv4_is_in_range",
    "ipv4_is_match",
    "geo_info_from_ip_address",
    "series_decompose_anomalies",
    "series_fit_line",
    "make_datetime",
    "unixtime_seconds_todatetime",
    "tohex",
    "reverse",
    "has_any_index",
    "zip",
    "dcount_hll",
    "hll",
    "hll_merge",
    "table",
    "toscalar",
    "materialize",
    "range",
    "getyear",
    "getmonth",
    "welch_test",
    "binary_and",
    "isascii",
    "isutf8",
    "ingestion_time",
    "not",
    "dynamic",
    "datetime",
    "timespan",
    "print",
    "repeat",
    "base64_decode_tostring",
];

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The query's tokens, comments dropped and string literals reduced to [`Token::Str`].
pub fn tokens(query: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = query.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '"'
            || c == '\''
            || ((c == '@' || c == 'h' || c == 'H')
                && matches!(chars.get(i + 1), Some('"') | Some('\'')))
        {
            let verbatim = c == '@';
            if c != '"' && c != '\'' {
                i += 1;
            }
            let quote = chars[i];
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated string literal".into()),
                    Some('\\') if !verbatim => i += 2,
                    Some(q) if *q == quote => {
                        i += 1;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
            out.push(Token::Str);
        } else if c.is_ascii_digit() {
            // Numbers, timespans (5m, 1d), reals (0.5, 1e3).
            while i < chars.len() && (is_ident_char(chars[i]) || chars[i] == '.') {
                i += 1;
            }
            out.push(Token::Number);
        } else if is_ident_start(c) {
            let start = i;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            let mut word: String = chars[start..i].iter().collect();
            // `project-rename` and friends: the hyphen binds without spaces.
            if chars.get(i) == Some(&'-') {
                let mut j = i + 1;
                while j < chars.len() && (is_ident_char(chars[j]) || chars[j] == '-') {
                    j += 1;
                }
                let candidate: String = chars[start..j].iter().collect();
                if HYPHENATED.contains(&candidate.as_str()) {
                    word = candidate;
                    i = j;
                }
            }
            let after_dot = matches!(out.last(), Some(Token::Symbol(s)) if s == ".");
            out.push(if after_dot {
                Token::Property(word)
            } else {
                Token::Ident(word)
            });
        } else {
            // Two-character operators matter for telling `x = ...` from `x == ...`.
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            if ["==", "!=", "=~", "!~", "<=", ">=", "=>"].contains(&two.as_str()) {
                out.push(Token::Symbol(two));
                i += 2;
            } else {
                out.push(Token::Symbol(c.to_string()));
                i += 1;
            }
        }
    }
    Ok(out)
}

fn is_symbol(token: Option<&Token>, s: &str) -> bool {
    matches!(token, Some(Token::Symbol(t)) if t == s)
}

/// Names the query binds: `let x =`, `x = ...` (extend, summarize, project aliases) and
/// `as x`.
pub fn bound_names(tokens: &[Token]) -> BTreeSet<String> {
    let mut bound = BTreeSet::new();
    for (i, t) in tokens.iter().enumerate() {
        if let Token::Ident(name) = t {
            if is_symbol(tokens.get(i + 1), "=") {
                bound.insert(name.clone());
            }
            if i > 0 && matches!(&tokens[i - 1], Token::Ident(k) if k == "as" || k == "let") {
                bound.insert(name.clone());
            }
            // `union withsource = Name ...` names the column holding the source table.
            if i > 1
                && is_symbol(tokens.get(i - 1), "=")
                && matches!(&tokens[i - 2], Token::Ident(k) if k == "withsource")
            {
                bound.insert(name.clone());
            }
        }
    }
    bound
}

/// Identifiers that are neither KQL words, functions, bound names nor tables: the columns
/// the query reads. `tables` says which names are tables.
pub fn column_references(
    tokens: &[Token],
    is_table: &dyn Fn(&str) -> bool,
) -> Result<BTreeSet<String>, String> {
    let bound = bound_names(tokens);
    let mut columns = BTreeSet::new();
    for (i, t) in tokens.iter().enumerate() {
        let Token::Ident(name) = t else { continue };
        let call = is_symbol(tokens.get(i + 1), "(");
        // `in (...)`, `has_any (...)`: operators take parenthesized lists.
        if call && !KEYWORDS.contains(&name.as_str()) {
            if FUNCTIONS.contains(&name.as_str()) || bound.contains(name) {
                continue;
            }
            return Err(format!("unknown function {name}()"));
        }
        if KEYWORDS.contains(&name.as_str()) || bound.contains(name) || is_table(name) {
            continue;
        }
        columns.insert(name.clone());
    }
    Ok(columns)
}

/// Splits on `sep` outside parentheses and brackets.
fn split_top_level(tokens: &[Token], sep: &str) -> Vec<Vec<Token>> {
    let mut parts = vec![Vec::new()];
    let mut depth = 0i32;
    for t in tokens {
        if let Token::Symbol(s) = t {
            match s.as_str() {
                "(" | "[" | "{" => depth += 1,
                ")" | "]" | "}" => depth -= 1,
                _ if s == sep && depth == 0 => {
                    parts.push(Vec::new());
                    continue;
                }
                _ => {}
            }
        }
        parts.last_mut().expect("never empty").push(t.clone());
    }
    parts
}

/// Checks a DCR transformation against its input stream's columns and returns the output
/// columns (name and type; a computed column's type is unknown and given as `None`).
pub fn check_transform(
    kql: &str,
    input: &[(&str, ColumnType)],
) -> Result<Vec<(String, Option<ColumnType>)>, String> {
    if kql.chars().count() > super::schema::MAX_TRANSFORM_CHARS {
        return Err("transformation longer than 15,360 characters".into());
    }
    let tokens = tokens(kql)?;
    let stages = split_top_level(&tokens, "|");
    if stages[0] != [Token::Ident("source".into())] {
        return Err("a transformation starts with `source`".into());
    }
    let mut columns: Vec<(String, Option<ColumnType>)> = input
        .iter()
        .map(|(n, t)| (n.to_string(), Some(*t)))
        .collect();
    let position = |columns: &[(String, Option<ColumnType>)], name: &str| {
        columns.iter().position(|(n, _)| n == name)
    };
    let check_reads = |columns: &[(String, Option<ColumnType>)], expr: &[Token]| {
        let reads = column_references(expr, &|_| false)?;
        match reads.iter().find(|r| position(columns, r).is_none()) {
            Some(r) => Err(format!("{r} is not a column of the input stream")),
            None => Ok(()),
        }
    };
    for stage in &stages[1..] {
        let Some(Token::Ident(op)) = stage.first() else {
            return Err("empty pipe stage".into());
        };
        if !TRANSFORM_OPERATORS.contains(&op.as_str()) {
            return Err(format!("operator {op} is not supported in transformations"));
        }
        let body = &stage[1..];
        match op.as_str() {
            "where" => check_reads(&columns, body)?,
            "project-rename" | "extend" | "project" => {
                let mut projected = Vec::new();
                for item in split_top_level(body, ",") {
                    let (name, expr) = match item.as_slice() {
                        [Token::Ident(n)] if op == "project" => (n.clone(), item.clone()),
                        [Token::Ident(n), Token::Symbol(eq), rest @ ..] if eq == "=" => {
                            (n.clone(), rest.to_vec())
                        }
                        _ => return Err(format!("cannot read `{op}` item {item:?}")),
                    };
                    check_reads(&columns, &expr)?;
                    let ty = match expr.as_slice() {
                        [Token::Ident(src)] => position(&columns, src).and_then(|p| columns[p].1),
                        _ => None,
                    };
                    if op == "project-rename" {
                        let [Token::Ident(src)] = expr.as_slice() else {
                            return Err(format!("project-rename {name} needs a column"));
                        };
                        let p = position(&columns, src).expect("checked above");
                        columns[p].0 = name;
                    } else if op == "extend" {
                        match position(&columns, &name) {
                            Some(p) => columns[p].1 = ty,
                            None => columns.push((name, ty)),
                        }
                    } else {
                        projected.push((name, ty));
                    }
                }
                if op == "project" {
                    columns = projected;
                }
            }
            "project-away" => {
                for item in split_top_level(body, ",") {
                    let [Token::Ident(name)] = item.as_slice() else {
                        return Err("project-away takes column names".into());
                    };
                    let p = position(&columns, name)
                        .ok_or_else(|| format!("{name} is not a column of the input stream"))?;
                    columns.remove(p);
                }
            }
            other => {
                return Err(format!(
                    "{other} is allowed by Azure but not evaluated by this checker"
                ));
            }
        }
    }
    let mut seen = BTreeSet::new();
    if let Some((dup, _)) = columns.iter().find(|(n, _)| !seen.insert(n.clone())) {
        return Err(format!("{dup} appears twice in the output"));
    }
    Ok(columns)
}

/// Checks a Sentinel query: every table it names is one of `tables` (name -> columns as in
/// the workspace), and every other identifier is a KQL word, a name it binds, or a column
/// of a table it names. Returns the tables used.
pub fn check_query(
    query: &str,
    tables: &dyn Fn(&str) -> Option<Vec<String>>,
) -> Result<BTreeSet<String>, String> {
    let tokens = tokens(query)?;
    let used: BTreeSet<String> = tokens
        .iter()
        .filter_map(|t| match t {
            Token::Ident(n) if tables(n).is_some() => Some(n.clone()),
            _ => None,
        })
        .collect();
    if used.is_empty() {
        return Err("the query names no known table".into());
    }
    let mut known: BTreeSet<String> = super::schema::STANDARD_COLUMNS
        .iter()
        .map(|s| s.to_string())
        .collect();
    for t in &used {
        known.extend(tables(t).expect("known table"));
    }
    let reads = column_references(&tokens, &|n| tables(n).is_some())?;
    let unknown: Vec<&String> = reads.iter().filter(|c| !known.contains(*c)).collect();
    if unknown.is_empty() {
        Ok(used)
    } else {
        Err(format!(
            "not a column of {}: {}",
            used.iter().cloned().collect::<Vec<_>>().join(", "),
            unknown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idents(q: &str) -> Vec<Token> {
        tokens(q).unwrap()
    }

    #[test]
    fn strings_comments_properties_and_hyphenated_operators() {
        let t = idents(
            "T // a comment with Words\n| where Name == \"x|y\" and D.field has @'c:\\p'\n| project-rename A_CF = A | where Size > 5m",
        );
        assert!(t.contains(&Token::Ident("project-rename".into())));
        assert!(t.contains(&Token::Property("field".into())));
        assert!(!t.contains(&Token::Ident("Words".into())));
        assert!(!t.iter().any(|x| matches!(x, Token::Ident(n) if n == "m")));
        assert_eq!(split_top_level(&t, "|").len(), 4);
        assert!(tokens("where x == 'open").is_err());
    }

    #[test]
    fn transforms_rename_within_declared_columns() {
        let input = [("A", ColumnType::Str), ("B", ColumnType::Int)];
        let out = check_transform("source | project-rename A_CF = A", &input).unwrap();
        assert_eq!(
            out,
            vec![
                ("A_CF".to_string(), Some(ColumnType::Str)),
                ("B".to_string(), Some(ColumnType::Int))
            ]
        );
        assert!(
            check_transform("source | project-rename A_CF = Nope", &input)
                .unwrap_err()
                .contains("Nope")
        );
        assert!(
            check_transform("source | summarize count() by A", &input)
                .unwrap_err()
                .contains("not supported")
        );
        assert!(check_transform("T | project A", &input).is_err());
        let out = check_transform(
            "source | where B > 0 | extend C = tostring(B) | project-away A",
            &input,
        )
        .unwrap();
        assert_eq!(
            out,
            vec![("B".into(), Some(ColumnType::Int)), ("C".into(), None)]
        );
        assert!(check_transform("source | project-rename B = A", &input).is_err());
    }

    #[test]
    fn queries_use_only_columns_of_their_tables() {
        let tables = |n: &str| match n {
            "T" => Some(vec!["A".into(), "B".into(), "TimeGenerated".into()]),
            _ => None,
        };
        assert!(check_query("union withsource = Src T | where Src == 'T'", &tables).is_ok());
        let q = "let window = 1h;\nT | where TimeGenerated > ago(window) | extend C = tostring(A)\n| summarize N = count() by C, bin(TimeGenerated, 5m) | where N > 3";
        assert_eq!(check_query(q, &tables).unwrap().len(), 1);
        let err = check_query("T | where Nope == 1", &tables).unwrap_err();
        assert!(err.contains("Nope"), "{err}");
        assert!(check_query("T | extend x = frobnicate(A)", &tables).is_err());
        assert!(check_query("Other | take 1", &tables).is_err());
    }
}
