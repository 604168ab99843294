//! Server-side prepared statements (COM_STMT_*). A statement keeps its SQL
//! text; EXECUTE binds the parameters as SQL literals and runs it like a query,
//! answering in the binary protocol.

use super::{Connection, IoResult};
use basalt_common::Error;
use mysql_common::constants::ColumnType;
use std::collections::HashMap;

#[derive(Default)]
pub struct Statements {
    next_id: u32,
    map: HashMap<u32, Prepared>,
}

struct Prepared {
    /// The SQL split at each `?` placeholder: params + 1 pieces.
    pieces: Vec<String>,
    /// Parameter types from the last EXECUTE that sent them.
    types: Vec<(u8, bool)>,
    long_data: HashMap<u16, Vec<u8>>,
}

/// Splits `sql` at the `?` placeholders outside quotes and comments.
fn split_placeholders(sql: &str) -> Vec<String> {
    let mut pieces = vec![String::new()];
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        let cur = pieces.last_mut().expect("pieces is never empty");
        match quote {
            Some(q) => {
                cur.push(c);
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' | '`' => {
                    quote = Some(c);
                    cur.push(c);
                }
                '?' => pieces.push(String::new()),
                '-' if chars.peek() == Some(&'-') => {
                    for n in chars.by_ref() {
                        if n == '\n' {
                            break;
                        }
                    }
                    cur.push('\n');
                }
                _ => cur.push(c),
            },
        }
    }
    pieces
}

pub fn prepare(c: &mut Connection, body: &[u8]) -> IoResult<()> {
    let sql = String::from_utf8_lossy(body).to_string();
    let pieces = split_placeholders(&sql);
    if let Err(e) = c.session.parse(&pieces.join("NULL")) {
        return c.error(&e);
    }
    let params = pieces.len() - 1;
    c.statements.next_id += 1;
    let id = c.statements.next_id;
    c.statements.map.insert(
        id,
        Prepared {
            pieces,
            types: Vec::new(),
            long_data: HashMap::new(),
        },
    );
    let mut p = vec![0x00];
    p.extend(id.to_le_bytes());
    p.extend(0u16.to_le_bytes()); // result columns are described at EXECUTE
    p.extend((params as u16).to_le_bytes());
    p.push(0);
    p.extend(0u16.to_le_bytes());
    c.conn.write_packet(&p)?;
    if params > 0 {
        let field = datafusion::arrow::datatypes::Field::new(
            "?",
            datafusion::arrow::datatypes::DataType::Utf8,
            true,
        );
        for _ in 0..params {
            c.conn.write_packet(&super::resultset::column_def(&field))?;
        }
        if !c
            .caps
            .contains(mysql_common::constants::CapabilityFlags::CLIENT_DEPRECATE_EOF)
        {
            c.eof(false)?;
        }
    }
    Ok(())
}

fn stmt_id(body: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(body.get(..4)?.try_into().ok()?))
}

pub async fn execute(c: &mut Connection, body: &[u8]) -> IoResult<()> {
    let sql = match bind(c, body) {
        Ok(sql) => sql,
        Err(e) => return c.error(&e),
    };
    let results = c.session.execute(&sql).await;
    c.send_results(results, true).await
}

/// The statement's SQL with every parameter written in as a literal.
fn bind(c: &mut Connection, body: &[u8]) -> basalt_common::Result<String> {
    let bad = || Error::invalid("malformed COM_STMT_EXECUTE packet");
    let id = stmt_id(body).ok_or_else(bad)?;
    let stmt = c.statements.map.get_mut(&id).ok_or_else(|| {
        Error::invalid(format!(
            "Unknown prepared statement handler ({id}) given to mysqld_stmt_execute"
        ))
    })?;
    let params = stmt.pieces.len() - 1;
    let mut pos = 4 + 1 + 4; // id, flags, iteration count
    let mut values = Vec::with_capacity(params);
    if params > 0 {
        let bitmap_len = params.div_ceil(8);
        let bitmap = body.get(pos..pos + bitmap_len).ok_or_else(bad)?.to_vec();
        pos += bitmap_len;
        let bound = *body.get(pos).ok_or_else(bad)?;
        pos += 1;
        if bound == 1 {
            stmt.types = (0..params)
                .map(|i| {
                    let t = body.get(pos + 2 * i..pos + 2 * i + 2).ok_or_else(bad)?;
                    Ok((t[0], t[1] & 0x80 != 0))
                })
                .collect::<basalt_common::Result<_>>()?;
            pos += 2 * params;
        }
        if stmt.types.len() != params {
            return Err(Error::invalid(
                "prepared statement parameters were never bound",
            ));
        }
        for i in 0..params {
            if bitmap[i / 8] & (1 << (i % 8)) != 0 {
                values.push("NULL".to_string());
                continue;
            }
            if let Some(data) = stmt.long_data.get(&(i as u16)) {
                values.push(quote(&String::from_utf8_lossy(data)));
                continue;
            }
            let (ty, unsigned) = stmt.types[i];
            values.push(literal(body, &mut pos, ty, unsigned).ok_or_else(bad)?);
        }
    }
    let mut sql = String::new();
    for (i, piece) in stmt.pieces.iter().enumerate() {
        sql.push_str(piece);
        if let Some(v) = values.get(i) {
            sql.push_str(v);
        }
    }
    stmt.long_data.clear();
    Ok(sql)
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Reads one binary-protocol value at `pos` as a SQL literal.
fn literal(body: &[u8], pos: &mut usize, ty: u8, unsigned: bool) -> Option<String> {
    let mut take = |n: usize| -> Option<&[u8]> {
        let s = body.get(*pos..*pos + n)?;
        *pos += n;
        Some(s)
    };
    let t = ColumnType::try_from(ty).ok()?;
    Some(match t {
        ColumnType::MYSQL_TYPE_TINY => {
            let b = take(1)?[0];
            if unsigned {
                b.to_string()
            } else {
                (b as i8).to_string()
            }
        }
        ColumnType::MYSQL_TYPE_SHORT | ColumnType::MYSQL_TYPE_YEAR => {
            let v = take(2)?;
            let raw = u16::from_le_bytes([v[0], v[1]]);
            if unsigned {
                raw.to_string()
            } else {
                (raw as i16).to_string()
            }
        }
        ColumnType::MYSQL_TYPE_LONG | ColumnType::MYSQL_TYPE_INT24 => {
            let raw = u32::from_le_bytes(take(4)?.try_into().ok()?);
            if unsigned {
                raw.to_string()
            } else {
                (raw as i32).to_string()
            }
        }
        ColumnType::MYSQL_TYPE_LONGLONG => {
            let raw = u64::from_le_bytes(take(8)?.try_into().ok()?);
            if unsigned {
                raw.to_string()
            } else {
                (raw as i64).to_string()
            }
        }
        ColumnType::MYSQL_TYPE_FLOAT => f32::from_le_bytes(take(4)?.try_into().ok()?).to_string(),
        ColumnType::MYSQL_TYPE_DOUBLE => f64::from_le_bytes(take(8)?.try_into().ok()?).to_string(),
        ColumnType::MYSQL_TYPE_DATE
        | ColumnType::MYSQL_TYPE_DATETIME
        | ColumnType::MYSQL_TYPE_TIMESTAMP => {
            let len = take(1)?[0] as usize;
            let v = take(len)?;
            let (y, mo, d) = if len >= 4 {
                (u16::from_le_bytes([v[0], v[1]]), v[2], v[3])
            } else {
                (0, 0, 0)
            };
            let (h, mi, s) = if len >= 7 {
                (v[4], v[5], v[6])
            } else {
                (0, 0, 0)
            };
            let us = if len >= 11 {
                u32::from_le_bytes(v[7..11].try_into().ok()?)
            } else {
                0
            };
            if t == ColumnType::MYSQL_TYPE_DATE {
                format!("'{y:04}-{mo:02}-{d:02}'")
            } else {
                format!("'{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}'")
            }
        }
        ColumnType::MYSQL_TYPE_TIME => {
            let len = take(1)?[0] as usize;
            let v = take(len)?;
            if len >= 8 {
                let days = u32::from_le_bytes(v[1..5].try_into().ok()?);
                let sign = if v[0] == 1 { "-" } else { "" };
                format!(
                    "'{sign}{:02}:{:02}:{:02}'",
                    u64::from(days) * 24 + u64::from(v[5]),
                    v[6],
                    v[7]
                )
            } else {
                "'00:00:00'".into()
            }
        }
        ColumnType::MYSQL_TYPE_NULL => "NULL".into(),
        _ => {
            // Strings, decimals, blobs: length-encoded bytes.
            let mut buf = mysql_common::io::ParseBuf(body.get(*pos..)?);
            let before = buf.0.len();
            let s: mysql_common::misc::raw::RawBytes<'_, mysql_common::misc::raw::bytes::LenEnc> =
                buf.parse(()).ok()?;
            let text = String::from_utf8_lossy(s.as_bytes()).to_string();
            *pos += before - buf.0.len();
            if t == ColumnType::MYSQL_TYPE_NEWDECIMAL || t == ColumnType::MYSQL_TYPE_DECIMAL {
                if text.parse::<f64>().is_err() {
                    return None;
                }
                text
            } else {
                quote(&text)
            }
        }
    })
}

pub fn send_long_data(c: &mut Connection, body: &[u8]) {
    let (Some(id), Some(param)) = (stmt_id(body), body.get(4..6)) else {
        return;
    };
    let param = u16::from_le_bytes([param[0], param[1]]);
    if let Some(stmt) = c.statements.map.get_mut(&id) {
        stmt.long_data
            .entry(param)
            .or_default()
            .extend_from_slice(&body[6..]);
    }
}

pub fn close(c: &mut Connection, body: &[u8]) {
    if let Some(id) = stmt_id(body) {
        c.statements.map.remove(&id);
    }
}

pub fn reset(c: &mut Connection, body: &[u8]) -> IoResult<()> {
    match stmt_id(body).and_then(|id| c.statements.map.get_mut(&id)) {
        Some(stmt) => {
            stmt.long_data.clear();
            c.ok(0, "", false)
        }
        None => c.error(&Error::invalid(
            "Unknown prepared statement handler given to mysqld_stmt_reset",
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_skip_quotes_and_comments() {
        let p = super::split_placeholders("SELECT '?', ? FROM t WHERE a = ? -- ?\n");
        assert_eq!(p.len(), 3);
        assert_eq!(p[0], "SELECT '?', ");
    }

    #[test]
    fn quoting_escapes() {
        assert_eq!(super::quote("it's"), "'it''s'");
    }
}
