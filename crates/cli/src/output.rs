//! Printing data on stdout: aligned tables, or JSON Lines with a `type` field.

use std::io::Write;

use idaudit_store::Alert;
use serde_json::json;

use crate::args::Format;

/// Prints rows as a table with a header, columns padded to their widest cell.
pub fn print_table(
    out: &mut impl Write,
    header: &[&str],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|name| name.chars().count()).collect();
    for row in rows {
        for (index, cell) in row.iter().enumerate() {
            widths[index] = widths[index].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(index, cell)| format!("{cell:<width$}", width = widths[index]))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

/// Prints alerts in the requested format.
pub fn print_alerts(out: &mut impl Write, alerts: &[Alert], format: Format) -> std::io::Result<()> {
    match format {
        Format::Json => {
            for alert in alerts {
                writeln!(out, "{}", alert_json(alert))?;
            }
            Ok(())
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = alerts
                .iter()
                .map(|alert| {
                    vec![
                        alert.id.clone(),
                        alert.severity.clone(),
                        alert.rule.clone(),
                        alert.first_seen.clone(),
                        alert.user.clone().unwrap_or_default(),
                        alert.ip.clone().unwrap_or_default(),
                        alert.count.to_string(),
                        alert.status.as_str().to_string(),
                        alert.title.clone(),
                    ]
                })
                .collect();
            print_table(
                out,
                &[
                    "ID",
                    "SEVERITY",
                    "RULE",
                    "FIRST SEEN",
                    "USER",
                    "IP",
                    "COUNT",
                    "STATUS",
                    "TITLE",
                ],
                &rows,
            )
        }
    }
}

/// Returns an alert as one JSON Lines object with `type: "alert"`.
pub fn alert_json(alert: &Alert) -> serde_json::Value {
    let mut value = json!({"type": "alert"});
    if let (Some(object), Ok(serde_json::Value::Object(fields))) =
        (value.as_object_mut(), serde_json::to_value(alert))
    {
        object.extend(fields);
    }
    value
}
