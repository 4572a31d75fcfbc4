//! The per-table mapping docs in docs/tables/ list exactly the columns (and types) the
//! code sends, and the overview names every connector column, so the docs cannot drift
//! from `record::tables`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use s3_sentinel_connector::CONNECTOR_COLUMNS;
use s3_sentinel_connector::Table;

fn docs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/tables")
}

/// Rows of the first markdown table whose header starts `| Column | Type`.
fn documented_columns(text: &str) -> BTreeSet<(String, String)> {
    let mut rows = BTreeSet::new();
    let mut in_table = false;
    for line in text.lines() {
        if line.starts_with("| Column | Type") {
            in_table = true;
            continue;
        }
        if in_table {
            if !line.starts_with('|') {
                break;
            }
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if cells[1].starts_with("---") {
                continue;
            }
            rows.insert((cells[1].to_string(), cells[2].to_string()));
        }
    }
    rows
}

#[test]
fn every_table_doc_lists_exactly_the_table_columns() {
    for table in Table::ALL {
        if table == Table::S3SentinelAlerts {
            continue; // the alerts table belongs to the alerting stage
        }
        let name = table.name().trim_end_matches("_CL");
        let path = docs_dir().join(format!("{name}.md"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let documented = documented_columns(&text);
        let actual: BTreeSet<(String, String)> = table
            .columns()
            .iter()
            .map(|(n, t)| (n.to_string(), t.name().to_string()))
            .collect();
        assert_eq!(documented, actual, "{}", path.display());
    }
}

#[test]
fn overview_names_every_connector_column_and_table_doc() {
    let text = std::fs::read_to_string(docs_dir().join("README.md")).unwrap();
    for (name, _) in CONNECTOR_COLUMNS {
        assert!(
            text.contains(&format!("`{name}`")) || text.contains(name),
            "{name}"
        );
    }
    for table in Table::ALL {
        if table == Table::S3SentinelAlerts {
            continue;
        }
        let file = format!("{}.md", table.name().trim_end_matches("_CL"));
        assert!(text.contains(&file), "README does not link {file}");
    }
}
