//! sqllogictest over the MySQL wire.

use mysql_async::prelude::Queryable;
use sqllogictest::{DBOutput, DefaultColumnType};

pub struct MySqlDb {
    pub conn: mysql_async::Conn,
}

pub fn value_string(v: &mysql_async::Value) -> String {
    match v {
        mysql_async::Value::NULL => "NULL".into(),
        mysql_async::Value::Bytes(b) => {
            let s = String::from_utf8_lossy(b).to_string();
            if s.is_empty() {
                "(empty)".into()
            } else {
                s
            }
        }
        mysql_async::Value::Int(i) => i.to_string(),
        mysql_async::Value::UInt(u) => u.to_string(),
        mysql_async::Value::Float(f) => f.to_string(),
        mysql_async::Value::Double(d) => d.to_string(),
        other => other.as_sql(true).trim_matches('\'').to_string(),
    }
}

pub fn row_strings(row: &mysql_async::Row) -> Vec<String> {
    (0..row.len())
        .map(|i| row.as_ref(i).map(value_string).unwrap_or_default())
        .collect()
}

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for MySqlDb {
    type Error = mysql_async::Error;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, Self::Error> {
        let mut result = self.conn.query_iter(sql).await?;
        let columns = result.columns().map(|c| c.len()).unwrap_or(0);
        if columns == 0 {
            let affected = result.affected_rows();
            result.drop_result().await?;
            return Ok(DBOutput::StatementComplete(affected));
        }
        let rows: Vec<mysql_async::Row> = result.collect().await?;
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; columns],
            rows: rows.iter().map(row_strings).collect(),
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "basalt"
    }
}
