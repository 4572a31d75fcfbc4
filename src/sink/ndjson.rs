//! [`NdjsonDelivery`]: rows as newline-delimited JSON into writers (files, standard
//! output), the command line's delivery. Alert rows go to their own writer, rejected
//! input lines to theirs (or a short note on standard error).

use std::io::{self, Write};
use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;

use super::{Delivery, DeliveryError, DeliveryReport};
use crate::record::{Reject, Row, Table};

/// Rejects described on standard error when no rejects writer is given.
const REJECTS_SHOWN_ON_STDERR: u64 = 20;

type Writer = Box<dyn Write + Send>;

/// Writes every row it is given: records to `out`, alert rows to `alerts` (counted and
/// dropped without one), rejects to `rejects`.
pub struct NdjsonDelivery {
    writers: Mutex<Writers>,
}

struct Writers {
    out: Writer,
    alerts: Option<Writer>,
    rejects: Option<Writer>,
    rejects_seen: u64,
}

impl NdjsonDelivery {
    /// Records to `out`; alert rows and rejects to their writers when given.
    pub fn new(out: Writer, alerts: Option<Writer>, rejects: Option<Writer>) -> Self {
        NdjsonDelivery {
            writers: Mutex::new(Writers {
                out,
                alerts,
                rejects,
                rejects_seen: 0,
            }),
        }
    }

    /// Flushes every writer.
    pub fn flush(&self) -> io::Result<()> {
        let mut w = self.lock();
        w.out.flush()?;
        if let Some(a) = w.alerts.as_mut() {
            a.flush()?;
        }
        if let Some(r) = w.rejects.as_mut() {
            r.flush()?;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Writers> {
        self.writers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn write_line(w: &mut dyn Write, json: &str) -> io::Result<()> {
    w.write_all(json.as_bytes())?;
    w.write_all(b"\n")
}

#[async_trait]
impl Delivery for NdjsonDelivery {
    async fn deliver(
        &self,
        _source_object: &str,
        rows: Vec<Row>,
        _deadline: Instant,
    ) -> Result<DeliveryReport, DeliveryError> {
        let mut report = DeliveryReport::default();
        let mut w = self.lock();
        for row in &rows {
            let target: Option<&mut Writer> = if row.table == Table::S3SentinelAlerts {
                w.alerts.as_mut()
            } else {
                Some(&mut w.out)
            };
            if let Some(target) = target {
                write_line(target, &row.json)
                    .map_err(|e| DeliveryError::new(format!("writing output failed: {e}")))?;
                report.bytes_sent += row.json.len() as u64 + 1;
            }
            report.accepted += 1;
            if row.table != Table::S3SentinelAlerts {
                *report.accepted_by_type.entry(row.log_type).or_default() += 1;
            }
        }
        Ok(report)
    }

    async fn write_rejects(
        &self,
        _source_object: &str,
        rejects: Vec<Reject>,
    ) -> Result<(), DeliveryError> {
        let mut w = self.lock();
        for reject in rejects {
            if let Some(out) = w.rejects.as_mut() {
                let json = serde_json::to_string(&reject).expect("a reject serializes");
                write_line(out, &json)
                    .map_err(|e| DeliveryError::new(format!("writing rejects failed: {e}")))?;
                continue;
            }
            w.rejects_seen += 1;
            if w.rejects_seen <= REJECTS_SHOWN_ON_STDERR {
                let mut raw: String = reject.raw.chars().take(120).collect();
                if raw.len() < reject.raw.len() {
                    raw.push('…');
                }
                eprintln!(
                    "reject: {} line {}: {}: {raw}",
                    reject.source_object,
                    reject.line.map(|l| l.to_string()).unwrap_or("-".into()),
                    reject.reason
                );
            } else if w.rejects_seen == REJECTS_SHOWN_ON_STDERR + 1 {
                eprintln!("reject: more rejects not shown; use --rejects FILE to keep them all");
            }
        }
        Ok(())
    }
}
