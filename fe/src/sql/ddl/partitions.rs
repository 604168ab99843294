//! Turning the partition clauses of CREATE TABLE / ADD PARTITION into partitions.

use crate::cluster::placement::new_partition;
use crate::sql::ast::PartitionDesc;
use crate::Frontend;
use basalt_catalog::partition::{parse_date, parse_datetime, PartitionKey};
use basalt_catalog::{OlapTable, Partition, PartitionInfo};
use basalt_common::types::DorisType;
use basalt_common::{Error, Result};
use chrono::{Datelike, Duration, Months, NaiveDateTime};
use std::sync::Arc;

/// Builds the partitions `descs` describe. With `adding`, they join the table's
/// existing ones and must not overlap them.
pub fn build(
    fe: &Arc<Frontend>,
    table: &OlapTable,
    descs: &[PartitionDesc],
    adding: bool,
) -> Result<Vec<Partition>> {
    let types: Vec<DorisType> = table
        .partition_info
        .columns()
        .iter()
        .map(|c| table.column(c).map(|c| c.data_type))
        .collect::<Option<_>>()
        .ok_or_else(|| Error::internal("partition column missing"))?;
    let n = types.len();
    let is_range = matches!(table.partition_info, PartitionInfo::Range { .. });
    let mut ranges: Vec<(String, PartitionKey, PartitionKey)> = if adding {
        table
            .partitions
            .iter()
            .filter_map(|p| p.range.clone().map(|(l, u)| (p.name.clone(), l, u)))
            .collect()
    } else {
        Vec::new()
    };
    let existing = ranges.len();
    let mut lists: Vec<(String, Vec<PartitionKey>)> = table
        .partitions
        .iter()
        .filter(|_| adding)
        .map(|p| (p.name.clone(), p.list_values.clone()))
        .collect();
    let existing_lists = lists.len();
    for desc in descs {
        match desc {
            PartitionDesc::LessThan { name, upper } if is_range => {
                let upper = PartitionKey::parse(upper, &types)?;
                // The lower bound is the upper bound of the partition just below.
                let lower = ranges
                    .iter()
                    .map(|(_, _, u)| u)
                    .filter(|u| **u <= upper)
                    .max()
                    .cloned()
                    .unwrap_or_else(|| PartitionKey::min(n));
                push_range(&mut ranges, name.clone(), lower, upper)?;
            }
            PartitionDesc::Fixed { name, lower, upper } if is_range => {
                let lower = PartitionKey::parse(lower, &types)?;
                let upper = PartitionKey::parse(upper, &types)?;
                push_range(&mut ranges, name.clone(), lower, upper)?;
            }
            PartitionDesc::Batch {
                from,
                to,
                interval,
                unit,
            } if is_range && n == 1 => {
                for (name, lower, upper) in batch(from, to, *interval, unit.as_deref(), &types[0])?
                {
                    let lower = PartitionKey::parse(&[lower], &types)?;
                    let upper = PartitionKey::parse(&[upper], &types)?;
                    push_range(&mut ranges, name, lower, upper)?;
                }
            }
            PartitionDesc::In { name, values } if !is_range => {
                let keys = values
                    .iter()
                    .map(|v| PartitionKey::parse(v, &types))
                    .collect::<Result<Vec<_>>>()?;
                if let Some(k) = keys
                    .iter()
                    .find(|k| k.values.len() != n || k.text.iter().any(String::is_empty))
                {
                    return Err(Error::invalid(format!(
                        "partition value {} does not match the partition columns",
                        k.to_sql()
                    )));
                }
                for (other, vals) in &lists {
                    if let Some(k) = keys.iter().find(|k| vals.contains(k)) {
                        return Err(Error::invalid(format!(
                            "The partition key {} in partition {name} is duplicated with partition {other}",
                            k.to_sql()
                        )));
                    }
                }
                lists.push((name.clone(), keys));
            }
            _ => {
                return Err(Error::invalid(
                    "partition description does not match the table's partition type",
                ))
            }
        }
    }
    let mut names: Vec<&str> = table
        .partitions
        .iter()
        .filter(|_| adding)
        .map(|p| p.name.as_str())
        .collect();
    let mut out = Vec::new();
    for (name, lower, upper) in ranges.into_iter().skip(existing) {
        out.push(new_partition(
            fe,
            table,
            name,
            Some((lower, upper)),
            Vec::new(),
        )?);
    }
    for (name, values) in lists.into_iter().skip(existing_lists) {
        out.push(new_partition(fe, table, name, None, values)?);
    }
    for p in &out {
        if names.contains(&p.name.as_str()) {
            return Err(Error::invalid(format!(
                "Duplicate partition name {}",
                p.name
            )));
        }
        names.push(&p.name);
    }
    Ok(out)
}

fn push_range(
    ranges: &mut Vec<(String, PartitionKey, PartitionKey)>,
    name: String,
    lower: PartitionKey,
    upper: PartitionKey,
) -> Result<()> {
    if lower >= upper {
        return Err(Error::invalid(format!(
            "The lower values must smaller than upper values: partition {name} [{}, {})",
            lower.to_sql(),
            upper.to_sql()
        )));
    }
    for (other, l, u) in ranges.iter() {
        if lower < *u && *l < upper {
            return Err(Error::invalid(format!(
                "Range [{}, {}) of partition {name} is intersected with range [{}, {}) of partition {other}",
                lower.to_sql(),
                upper.to_sql(),
                l.to_sql(),
                u.to_sql()
            )));
        }
    }
    ranges.push((name, lower, upper));
    Ok(())
}

/// Expands `FROM (a) TO (b) INTERVAL n unit` into (name, lower, upper) triples,
/// named as Doris names them (`p_20240101`, `p_202401`, `p_2024`, `p_1`).
fn batch(
    from: &[String],
    to: &[String],
    n: i64,
    unit: Option<&str>,
    ty: &DorisType,
) -> Result<Vec<(String, String, String)>> {
    let (Some(from), Some(to)) = (from.first(), to.first()) else {
        return Err(Error::invalid("batch partition needs FROM and TO values"));
    };
    if n <= 0 {
        return Err(Error::invalid("batch partition interval must be positive"));
    }
    const MAX_PARTITIONS: usize = 10_000;
    let mut out = Vec::new();
    match (ty, unit) {
        (DorisType::Date | DorisType::DateTime { .. }, Some(unit)) => {
            let parse = |s: &str| {
                parse_datetime(s).or_else(|| parse_date(s).and_then(|d| d.and_hms_opt(0, 0, 0)))
            };
            let bad = || Error::invalid(format!("invalid batch partition bounds {from} .. {to}"));
            let (mut cur, end) = (parse(from).ok_or_else(bad)?, parse(to).ok_or_else(bad)?);
            let date_only = matches!(ty, DorisType::Date);
            let fmt = |d: &NaiveDateTime| {
                if date_only {
                    d.format("%Y-%m-%d").to_string()
                } else {
                    d.format("%Y-%m-%d %H:%M:%S").to_string()
                }
            };
            while cur < end {
                let next = match unit {
                    "YEAR" => months(n.checked_mul(12)).and_then(|m| cur.checked_add_months(m)),
                    "MONTH" => months(Some(n)).and_then(|m| cur.checked_add_months(m)),
                    "WEEK" => Duration::try_weeks(n).and_then(|d| cur.checked_add_signed(d)),
                    "DAY" => Duration::try_days(n).and_then(|d| cur.checked_add_signed(d)),
                    _ => Duration::try_hours(n).and_then(|d| cur.checked_add_signed(d)),
                }
                .ok_or_else(bad)?
                .min(end);
                let name = match unit {
                    "YEAR" => format!("p_{}", cur.format("%Y")),
                    "MONTH" => format!("p_{}", cur.format("%Y%m")),
                    "WEEK" => format!("p_{}_{:02}", cur.year(), cur.iso_week().week()),
                    "DAY" => format!("p_{}", cur.format("%Y%m%d")),
                    _ => format!("p_{}", cur.format("%Y%m%d%H")),
                };
                out.push((name, fmt(&cur), fmt(&next)));
                cur = next;
                if out.len() > MAX_PARTITIONS {
                    return Err(Error::invalid(
                        "batch partition creates too many partitions",
                    ));
                }
            }
        }
        (_, None) => {
            let bad = || Error::invalid(format!("invalid batch partition bounds {from} .. {to}"));
            let (mut cur, end) = (
                from.parse::<i64>().map_err(|_| bad())?,
                to.parse::<i64>().map_err(|_| bad())?,
            );
            while cur < end {
                let next = cur.checked_add(n).ok_or_else(bad)?.min(end);
                out.push((format!("p_{cur}"), cur.to_string(), next.to_string()));
                cur = next;
                if out.len() > MAX_PARTITIONS {
                    return Err(Error::invalid(
                        "batch partition creates too many partitions",
                    ));
                }
            }
        }
        _ => {
            return Err(Error::invalid(
                "batch partition unit does not match the partition column type",
            ))
        }
    }
    Ok(out)
}

/// A month count that fits chrono's `Months`.
fn months(n: Option<i64>) -> Option<Months> {
    n.and_then(|n| u32::try_from(n).ok()).map(Months::new)
}
