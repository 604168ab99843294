//! Result sets on the wire: column definitions from Arrow types, and rows in the
//! text protocol (COM_QUERY) and the binary protocol (COM_STMT_EXECUTE).

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::*;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use mysql_common::constants::{ColumnFlags, ColumnType};
use mysql_common::io::BufMutExt;

/// utf8mb4_general_ci and binary, as MySQL reports them in column definitions.
const UTF8MB4: u16 = 45;
const BINARY: u16 = 63;

pub fn column_def(field: &Field) -> Vec<u8> {
    let (ty, len, decimals, charset, mut flags) = match field.data_type() {
        DataType::Boolean => (
            ColumnType::MYSQL_TYPE_TINY,
            1,
            0,
            BINARY,
            ColumnFlags::NUM_FLAG,
        ),
        DataType::Int8 => (
            ColumnType::MYSQL_TYPE_TINY,
            4,
            0,
            BINARY,
            ColumnFlags::NUM_FLAG,
        ),
        DataType::Int16 => (
            ColumnType::MYSQL_TYPE_SHORT,
            6,
            0,
            BINARY,
            ColumnFlags::NUM_FLAG,
        ),
        DataType::Int32 => (
            ColumnType::MYSQL_TYPE_LONG,
            11,
            0,
            BINARY,
            ColumnFlags::NUM_FLAG,
        ),
        DataType::Int64 => (
            ColumnType::MYSQL_TYPE_LONGLONG,
            20,
            0,
            BINARY,
            ColumnFlags::NUM_FLAG,
        ),
        DataType::UInt8 => (
            ColumnType::MYSQL_TYPE_TINY,
            3,
            0,
            BINARY,
            ColumnFlags::NUM_FLAG | ColumnFlags::UNSIGNED_FLAG,
        ),
        DataType::UInt16 => (
            ColumnType::MYSQL_TYPE_SHORT,
            5,
            0,
            BINARY,
            ColumnFlags::NUM_FLAG | ColumnFlags::UNSIGNED_FLAG,
        ),
        DataType::UInt32 => (
            ColumnType::MYSQL_TYPE_LONG,
            10,
            0,
            BINARY,
            ColumnFlags::NUM_FLAG | ColumnFlags::UNSIGNED_FLAG,
        ),
        DataType::UInt64 => (
            ColumnType::MYSQL_TYPE_LONGLONG,
            20,
            0,
            BINARY,
            ColumnFlags::NUM_FLAG | ColumnFlags::UNSIGNED_FLAG,
        ),
        DataType::Float16 | DataType::Float32 => (
            ColumnType::MYSQL_TYPE_FLOAT,
            12,
            31,
            BINARY,
            ColumnFlags::NUM_FLAG,
        ),
        DataType::Float64 => (
            ColumnType::MYSQL_TYPE_DOUBLE,
            22,
            31,
            BINARY,
            ColumnFlags::NUM_FLAG,
        ),
        // LARGEINT goes out as a string, as Doris sends it (MYSQL_TYPE_STRING,
        // length 255): no client integer holds 128 bits.
        t if *t == basalt_common::types::LARGEINT_ARROW => (
            ColumnType::MYSQL_TYPE_STRING,
            255,
            0,
            UTF8MB4,
            ColumnFlags::empty(),
        ),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => {
            let s = (*s).max(0) as u8;
            (
                ColumnType::MYSQL_TYPE_NEWDECIMAL,
                *p as u32 + u32::from(s > 0) + 1,
                s,
                BINARY,
                ColumnFlags::NUM_FLAG,
            )
        }
        DataType::Date32 | DataType::Date64 => (
            ColumnType::MYSQL_TYPE_DATE,
            10,
            0,
            BINARY,
            ColumnFlags::BINARY_FLAG,
        ),
        DataType::Timestamp(_, _) => (
            ColumnType::MYSQL_TYPE_DATETIME,
            26,
            6,
            BINARY,
            ColumnFlags::BINARY_FLAG,
        ),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => (
            ColumnType::MYSQL_TYPE_BLOB,
            65535,
            0,
            BINARY,
            ColumnFlags::BINARY_FLAG | ColumnFlags::BLOB_FLAG,
        ),
        _ => (
            ColumnType::MYSQL_TYPE_VAR_STRING,
            65533 * 4,
            0,
            UTF8MB4,
            ColumnFlags::empty(),
        ),
    };
    if !field.is_nullable() {
        flags |= ColumnFlags::NOT_NULL_FLAG;
    }
    // Written by hand: mysql_common 0.38's `Column` serializes column_length
    // before character_set, the reverse of the wire order clients parse.
    let name = field.name().as_bytes();
    let mut buf = Vec::with_capacity(32 + 2 * name.len());
    buf.put_lenenc_str(b"def");
    buf.put_lenenc_str(b""); // schema
    buf.put_lenenc_str(b""); // table
    buf.put_lenenc_str(b""); // org_table
    buf.put_lenenc_str(name);
    buf.put_lenenc_str(name);
    buf.put_lenenc_int(0x0c);
    buf.extend(charset.to_le_bytes());
    buf.extend(len.to_le_bytes());
    buf.push(ty as u8);
    buf.extend(flags.bits().to_le_bytes());
    buf.push(decimals);
    buf.extend([0, 0]);
    buf
}

/// Formats values as MySQL shows them: `1`/`0` for booleans, `2024-01-02 03:04:05[.ffffff]`.
fn formatter_options() -> FormatOptions<'static> {
    FormatOptions::new()
        .with_null("")
        .with_date_format(Some("%Y-%m-%d"))
        .with_datetime_format(Some("%Y-%m-%d %H:%M:%S%.f"))
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"))
}

fn displayable(col: &ArrayRef) -> ArrayRef {
    match col.data_type() {
        DataType::Boolean => cast(col, &DataType::Int8).unwrap_or_else(|_| col.clone()),
        _ => col.clone(),
    }
}

/// One text-protocol row packet per row of `batch`.
pub fn text_rows(batch: &RecordBatch, mut emit: impl FnMut(&[u8])) -> Result<(), String> {
    let opts = formatter_options();
    let cols: Vec<ArrayRef> = batch.columns().iter().map(displayable).collect();
    let fmts: Vec<ArrayFormatter> = cols
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let mut row = Vec::new();
    for r in 0..batch.num_rows() {
        row.clear();
        for (c, f) in cols.iter().zip(&fmts) {
            if c.is_null(r) {
                row.push(0xfb);
                continue;
            }
            // MySQL prints doubles without a trailing `.0` (`4`, not `4.0`).
            let text = match c.data_type() {
                DataType::Float64 => c.as_primitive::<Float64Type>().value(r).to_string(),
                DataType::Float32 => c.as_primitive::<Float32Type>().value(r).to_string(),
                _ => f.value(r).to_string(),
            };
            row.put_lenenc_str(text.as_bytes());
        }
        emit(&row);
    }
    Ok(())
}

/// One binary-protocol row packet per row of `batch`.
pub fn binary_rows(batch: &RecordBatch, mut emit: impl FnMut(&[u8])) -> Result<(), String> {
    let opts = formatter_options();
    let n = batch.num_columns();
    let fmts: Vec<ArrayFormatter> = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let mut row = Vec::new();
    for r in 0..batch.num_rows() {
        row.clear();
        row.push(0x00);
        let bitmap_at = row.len();
        row.resize(bitmap_at + (n + 7 + 2) / 8, 0);
        for (i, col) in batch.columns().iter().enumerate() {
            if col.is_null(r) {
                let bit = i + 2;
                row[bitmap_at + bit / 8] |= 1 << (bit % 8);
                continue;
            }
            binary_value(col, r, &fmts[i], &mut row);
        }
        emit(&row);
    }
    Ok(())
}

fn binary_value(col: &ArrayRef, r: usize, fmt: &ArrayFormatter, out: &mut Vec<u8>) {
    match col.data_type() {
        DataType::Boolean => out.push(u8::from(col.as_boolean().value(r))),
        DataType::Int8 => out.push(col.as_primitive::<Int8Type>().value(r) as u8),
        DataType::UInt8 => out.push(col.as_primitive::<UInt8Type>().value(r)),
        DataType::Int16 => out.extend(col.as_primitive::<Int16Type>().value(r).to_le_bytes()),
        DataType::UInt16 => out.extend(col.as_primitive::<UInt16Type>().value(r).to_le_bytes()),
        DataType::Int32 => out.extend(col.as_primitive::<Int32Type>().value(r).to_le_bytes()),
        DataType::UInt32 => out.extend(col.as_primitive::<UInt32Type>().value(r).to_le_bytes()),
        DataType::Int64 => out.extend(col.as_primitive::<Int64Type>().value(r).to_le_bytes()),
        DataType::UInt64 => out.extend(col.as_primitive::<UInt64Type>().value(r).to_le_bytes()),
        DataType::Float32 => out.extend(col.as_primitive::<Float32Type>().value(r).to_le_bytes()),
        DataType::Float64 => out.extend(col.as_primitive::<Float64Type>().value(r).to_le_bytes()),
        DataType::Date32 => {
            use chrono::Datelike;
            let days = col.as_primitive::<Date32Type>().value(r);
            // Days since 1970-01-01 to a calendar date; out-of-range values show as 0000-01-01.
            let d = days
                .checked_add(719_163)
                .and_then(chrono::NaiveDate::from_num_days_from_ce_opt)
                .unwrap_or_default();
            out.push(4);
            out.extend((d.year().clamp(0, 9999) as u16).to_le_bytes());
            out.push(d.month() as u8);
            out.push(d.day() as u8);
        }
        DataType::Timestamp(TimeUnit::Microsecond, None) => {
            let us = col.as_primitive::<TimestampMicrosecondType>().value(r);
            let t = chrono::DateTime::from_timestamp_micros(us)
                .unwrap_or_default()
                .naive_utc();
            use chrono::{Datelike, Timelike};
            out.push(11);
            out.extend((t.year() as u16).to_le_bytes());
            out.extend([
                t.month() as u8,
                t.day() as u8,
                t.hour() as u8,
                t.minute() as u8,
                t.second() as u8,
            ]);
            out.extend((t.nanosecond() / 1000).to_le_bytes());
        }
        _ => out.put_lenenc_str(fmt.value(r).to_string().as_bytes()),
    }
}
