//! SHOW CREATE TABLE: Doris's layout, which CREATE TABLE reads back.

use basalt_catalog::partition::KeyValue;
use basalt_catalog::{DistributionInfo, OlapTable, PartitionInfo};

pub fn show_create_table(t: &OlapTable) -> String {
    let mut out = format!("CREATE TABLE `{}` (\n", t.name);
    let cols: Vec<String> = t
        .schema
        .columns
        .iter()
        .filter(|c| !c.is_hidden())
        .map(|c| {
            let mut line = format!("  `{}` {}", c.name, c.data_type);
            if let Some(a) = c.agg_type {
                line.push_str(&format!(" {a}"));
            }
            line.push_str(if c.nullable { " NULL" } else { " NOT NULL" });
            match c.default_value.as_deref() {
                Some("CURRENT_TIMESTAMP") => line.push_str(" DEFAULT CURRENT_TIMESTAMP"),
                Some("NULL") => line.push_str(" DEFAULT NULL"),
                Some(d) => line.push_str(&format!(" DEFAULT \"{}\"", escape(d))),
                None => {}
            }
            line.push_str(&format!(" COMMENT \"{}\"", escape(&c.comment)));
            line
        })
        .collect();
    out.push_str(&cols.join(",\n"));
    out.push_str("\n) ENGINE=OLAP\n");
    let keys: Vec<String> = t
        .schema
        .columns
        .iter()
        .filter(|c| c.is_key)
        .map(|c| format!("`{}`", c.name))
        .collect();
    out.push_str(&format!(
        "{} KEY({})\n",
        t.schema.keys_type.sql_keyword(),
        keys.join(", ")
    ));
    out.push_str(&format!("COMMENT '{}'\n", t.comment.replace('\'', "\\'")));
    match &t.partition_info {
        PartitionInfo::Unpartitioned => {}
        PartitionInfo::Range { columns } | PartitionInfo::List { columns } => {
            let is_range = matches!(t.partition_info, PartitionInfo::Range { .. });
            let cols: Vec<String> = columns.iter().map(|c| format!("`{c}`")).collect();
            out.push_str(&format!(
                "PARTITION BY {}({})\n(",
                if is_range { "RANGE" } else { "LIST" },
                cols.join(", ")
            ));
            let parts: Vec<String> = t
                .partitions
                .iter()
                .map(|p| match &p.range {
                    Some((lower, upper)) if lower.values.iter().all(|v| *v == KeyValue::Min) => {
                        format!("PARTITION {} VALUES LESS THAN {}", p.name, upper.to_sql())
                    }
                    Some((lower, upper)) => {
                        format!(
                            "PARTITION {} VALUES [{}, {})",
                            p.name,
                            lower.to_sql(),
                            upper.to_sql()
                        )
                    }
                    None => {
                        let vals: Vec<String> = p.list_values.iter().map(|k| k.to_sql()).collect();
                        format!("PARTITION {} VALUES IN ({})", p.name, vals.join(","))
                    }
                })
                .collect();
            out.push_str(&parts.join(",\n"));
            out.push_str(")\n");
        }
    }
    match &t.distribution {
        DistributionInfo::Hash { columns, buckets } => {
            let cols: Vec<String> = columns.iter().map(|c| format!("`{c}`")).collect();
            out.push_str(&format!(
                "DISTRIBUTED BY HASH({}) BUCKETS {buckets}\n",
                cols.join(", ")
            ));
        }
        DistributionInfo::Random { buckets } => {
            out.push_str(&format!("DISTRIBUTED BY RANDOM BUCKETS {buckets}\n"));
        }
    }
    let props: Vec<String> = t
        .properties
        .iter()
        .map(|(k, v)| format!("\"{}\" = \"{}\"", escape(k), escape(v)))
        .collect();
    out.push_str(&format!("PROPERTIES (\n{}\n);", props.join(",\n")));
    out
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
