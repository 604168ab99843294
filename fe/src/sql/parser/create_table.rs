//! `CREATE TABLE` with Doris's clauses: keys, partitions, distribution, properties.

use super::*;

impl DorisParser<'_> {
    pub(super) fn create_table(&mut self) -> Result<Statement> {
        let if_not_exists = self.if_not_exists();
        let name = self.object_name()?;
        self.expect(Token::LParen)?;
        let mut columns = Vec::new();
        let mut indexes = Vec::new();
        loop {
            if self.word("INDEX") {
                indexes.push(self.index_def()?);
            } else {
                columns.push(self.column_def()?);
            }
            if !self.p.consume_token(&Token::Comma) {
                break;
            }
        }
        self.expect(Token::RParen)?;
        if self.word("ENGINE") {
            let _ = self.p.consume_token(&Token::Eq);
            let engine = self.ident()?;
            if !engine.eq_ignore_ascii_case("olap") {
                return Err(Error::not_supported(format!(
                    "ENGINE={engine} is not supported"
                )));
            }
        }
        let mut stmt = CreateTable {
            name,
            if_not_exists,
            columns,
            keys_type: KeysType::DupKeys,
            key_columns: Vec::new(),
            comment: String::new(),
            partition: None,
            distribution: None,
            properties: Vec::new(),
            indexes,
        };
        loop {
            if self.words(&["DUPLICATE", "KEY"]) {
                stmt.keys_type = KeysType::DupKeys;
                stmt.key_columns = self.ident_list()?;
            } else if self.words(&["AGGREGATE", "KEY"]) {
                stmt.keys_type = KeysType::AggKeys;
                stmt.key_columns = self.ident_list()?;
            } else if self.words(&["UNIQUE", "KEY"]) {
                stmt.keys_type = KeysType::UniqueKeys;
                stmt.key_columns = self.ident_list()?;
            } else if self.word("COMMENT") {
                stmt.comment = self.string()?;
            } else if self.words(&["PARTITION", "BY"]) {
                stmt.partition = Some(self.partition_clause()?);
            } else if self.words(&["DISTRIBUTED", "BY"]) {
                stmt.distribution = Some(self.distribution()?);
            } else if self.word("PROPERTIES") {
                stmt.properties = self.properties()?;
            } else {
                break;
            }
        }
        Ok(Statement::CreateTable(Box::new(stmt)))
    }

    fn column_def(&mut self) -> Result<Column> {
        let name = self.ident()?;
        let data_type = self.doris_type()?;
        let mut col = Column {
            name,
            data_type,
            nullable: true,
            is_key: false,
            agg_type: None,
            default_value: None,
            comment: String::new(),
        };
        if let Some(agg) = self.peek_word(0).and_then(|w| AggType::parse(&w)) {
            self.p.next_token();
            col.agg_type = Some(agg);
        }
        loop {
            if self.words(&["NOT", "NULL"]) {
                col.nullable = false;
            } else if self.word("NULL") {
                col.nullable = true;
            } else if self.word("DEFAULT") {
                col.default_value = Some(self.default_value()?);
            } else if self.word("COMMENT") {
                col.comment = self.string()?;
            } else if self.word("AUTO_INCREMENT") {
                return Err(Error::not_supported(
                    "AUTO_INCREMENT columns are not supported yet",
                ));
            } else {
                break;
            }
        }
        Ok(col)
    }

    fn default_value(&mut self) -> Result<String> {
        if self.word("NULL") {
            return Ok("NULL".into());
        }
        if self.word("CURRENT_TIMESTAMP") {
            if self.p.consume_token(&Token::LParen) {
                let _ = self.p.consume_token(&Token::RParen) || {
                    self.number()?;
                    self.expect(Token::RParen).is_ok()
                };
            }
            return Ok("CURRENT_TIMESTAMP".into());
        }
        let neg = self.p.consume_token(&Token::Minus);
        let value = match self.p.next_token().token {
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s,
            Token::Number(n, _) => n,
            _ => return Err(self.error("expected a default value")),
        };
        Ok(if neg { format!("-{value}") } else { value })
    }

    /// `name (column) [USING BITMAP] [COMMENT 'text']`, after `INDEX`.
    pub(super) fn index_def(&mut self) -> Result<IndexDef> {
        let name = self.ident()?;
        self.index_def_named(name)
    }

    /// `(column) [USING BITMAP] [COMMENT 'text']`, after the index's name.
    pub(super) fn index_def_named(&mut self, name: String) -> Result<IndexDef> {
        let columns = self.ident_list()?;
        let [column] = columns.as_slice() else {
            return Err(Error::invalid("a BITMAP index has one column"));
        };
        if self.word("USING") {
            let kind = self.ident()?.to_ascii_uppercase();
            if kind != "BITMAP" {
                return Err(Error::not_supported(format!(
                    "{kind} indexes are not supported yet; BITMAP is"
                )));
            }
        }
        if self.word("PROPERTIES") {
            self.properties()?;
        }
        let comment = if self.word("COMMENT") {
            self.string()?
        } else {
            String::new()
        };
        Ok(IndexDef {
            name,
            column: column.to_ascii_lowercase(),
            comment,
        })
    }

    /// A column type, in Doris's spelling.
    pub(super) fn doris_type(&mut self) -> Result<DorisType> {
        // Doris-only names first; sqlparser reads the rest.
        if self.word("LARGEINT") {
            return Ok(DorisType::LargeInt);
        }
        if self.word("STRING") || self.word("TEXT") {
            return Ok(DorisType::String);
        }
        if self.word("BITMAP") {
            return Ok(DorisType::Bitmap);
        }
        if self.word("HLL") {
            return Ok(DorisType::Hll);
        }
        if self.word("DATEV2") {
            return Ok(DorisType::Date);
        }
        if self.word("DATETIMEV2") || self.word("DATETIME") {
            let scale = if self.p.consume_token(&Token::LParen) {
                let s = self.number()?;
                self.expect(Token::RParen)?;
                s
            } else {
                0
            };
            return self.checked(DorisType::DateTime {
                scale: scale.clamp(0, 255) as u8,
            });
        }
        if self.word("DECIMALV3") || self.word("DECIMAL") || self.word("NUMERIC") {
            let (mut precision, mut scale) = (9, 0);
            if self.p.consume_token(&Token::LParen) {
                precision = self.number()?;
                if self.p.consume_token(&Token::Comma) {
                    scale = self.number()?;
                }
                self.expect(Token::RParen)?;
            }
            return self.checked(DorisType::Decimal {
                precision: precision.clamp(0, 255) as u8,
                scale: scale.clamp(0, 255) as u8,
            });
        }
        let t = self.p.parse_data_type().map_err(|e| self.syntax(e))?;
        let len = |n: Option<u64>| n.unwrap_or(1).min(u32::MAX as u64) as u32;
        let dt = match t {
            SqlType::Boolean | SqlType::Bool => DorisType::Boolean,
            SqlType::TinyInt(_) => DorisType::TinyInt,
            SqlType::SmallInt(_) => DorisType::SmallInt,
            SqlType::Int(_) | SqlType::Integer(_) => DorisType::Int,
            SqlType::BigInt(_) => DorisType::BigInt,
            SqlType::Float(_) => DorisType::Float,
            SqlType::Double(_) | SqlType::DoublePrecision => DorisType::Double,
            SqlType::Date => DorisType::Date,
            SqlType::Char(n) | SqlType::Character(n) => DorisType::Char {
                len: len(char_len(&n)),
            },
            SqlType::Varchar(n) | SqlType::CharacterVarying(n) => DorisType::Varchar {
                len: char_len(&n).map_or(65533, |l| l.min(u32::MAX as u64) as u32),
            },
            SqlType::Decimal(ExactNumberInfo::None) => DorisType::Decimal {
                precision: 9,
                scale: 0,
            },
            other => {
                return Err(Error::not_supported(format!(
                    "column type {other} is not supported"
                )))
            }
        };
        self.checked(dt)
    }

    fn checked(&self, t: DorisType) -> Result<DorisType> {
        t.validate().map_err(Error::invalid)?;
        Ok(t)
    }

    fn partition_clause(&mut self) -> Result<PartitionClause> {
        let range = if self.word("RANGE") {
            true
        } else if self.word("LIST") {
            false
        } else {
            return Err(self.error("expected RANGE or LIST"));
        };
        let columns = self.ident_list()?;
        self.expect(Token::LParen)?;
        let mut partitions = Vec::new();
        if self.p.peek_token().token != Token::RParen {
            loop {
                if self.word("FROM") {
                    partitions.push(self.batch_partition()?);
                } else {
                    self.expect_word("PARTITION")?;
                    self.if_not_exists();
                    partitions.push(self.partition_desc_named()?);
                }
                if !self.p.consume_token(&Token::Comma) {
                    break;
                }
            }
        }
        self.expect(Token::RParen)?;
        Ok(if range {
            PartitionClause::Range {
                columns,
                partitions,
            }
        } else {
            PartitionClause::List {
                columns,
                partitions,
            }
        })
    }

    /// `FROM ("2024-01-01") TO ("2024-02-01") INTERVAL 1 DAY` (after FROM).
    fn batch_partition(&mut self) -> Result<PartitionDesc> {
        let from = self.value_tuple()?;
        self.expect_word("TO")?;
        let to = self.value_tuple()?;
        self.expect_word("INTERVAL")?;
        let interval = self.number()?;
        let unit = match self.peek_word(0).as_deref() {
            Some(u @ ("YEAR" | "MONTH" | "WEEK" | "DAY" | "HOUR")) => {
                let u = u.to_string();
                self.p.next_token();
                Some(u)
            }
            _ => None,
        };
        Ok(PartitionDesc::Batch {
            from,
            to,
            interval,
            unit,
        })
    }

    /// `name VALUES LESS THAN (...)`, `name VALUES [(...), (...))` or `name VALUES IN (...)`.
    pub(super) fn partition_desc_named(&mut self) -> Result<PartitionDesc> {
        let name = self.ident()?;
        self.expect_word("VALUES")?;
        if self.words(&["LESS", "THAN"]) {
            let upper = if self.word("MAXVALUE") {
                vec!["MAXVALUE".into()]
            } else {
                self.value_tuple()?
            };
            return Ok(PartitionDesc::LessThan { name, upper });
        }
        if self.p.consume_token(&Token::LBracket) {
            let lower = self.value_tuple()?;
            self.expect(Token::Comma)?;
            let upper = self.value_tuple()?;
            self.expect(Token::RParen)?;
            return Ok(PartitionDesc::Fixed { name, lower, upper });
        }
        if self.word("IN") {
            self.expect(Token::LParen)?;
            let mut values = Vec::new();
            loop {
                if self.p.peek_token().token == Token::LParen {
                    values.push(self.value_tuple()?);
                } else {
                    values.push(vec![self.literal()?]);
                }
                if !self.p.consume_token(&Token::Comma) {
                    break;
                }
            }
            self.expect(Token::RParen)?;
            return Ok(PartitionDesc::In { name, values });
        }
        Err(self.error("expected LESS THAN, [ or IN"))
    }

    pub(super) fn skip_partition_options(&mut self) -> Result<()> {
        if self.p.peek_token().token == Token::LParen {
            self.properties()?;
        }
        if self.words(&["DISTRIBUTED", "BY"]) {
            self.distribution()?;
        }
        Ok(())
    }

    fn literal(&mut self) -> Result<String> {
        if self.word("MAXVALUE") {
            return Ok("MAXVALUE".into());
        }
        let neg = self.p.consume_token(&Token::Minus);
        let v = match self.p.next_token().token {
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s,
            Token::Number(n, _) => n,
            _ => {
                self.p.prev_token();
                return Err(self.error("expected a partition value"));
            }
        };
        Ok(if neg { format!("-{v}") } else { v })
    }

    fn value_tuple(&mut self) -> Result<Vec<String>> {
        self.expect(Token::LParen)?;
        let mut out = vec![self.literal()?];
        while self.p.consume_token(&Token::Comma) {
            out.push(self.literal()?);
        }
        self.expect(Token::RParen)?;
        Ok(out)
    }

    fn distribution(&mut self) -> Result<Distribution> {
        let dist = if self.word("HASH") {
            Distribution::Hash {
                columns: self.ident_list()?,
                buckets: None,
            }
        } else if self.word("RANDOM") {
            Distribution::Random { buckets: None }
        } else {
            return Err(self.error("expected HASH or RANDOM"));
        };
        let buckets = if self.word("BUCKETS") {
            if self.word("AUTO") {
                None
            } else {
                let n = self.number()?;
                if !(1..=65535).contains(&n) {
                    return Err(Error::invalid(format!(
                        "Number of hash distribution should be greater than zero, got {n}"
                    )));
                }
                Some(n as u32)
            }
        } else {
            None
        };
        Ok(match dist {
            Distribution::Hash { columns, .. } => Distribution::Hash { columns, buckets },
            Distribution::Random { .. } => Distribution::Random { buckets },
        })
    }

    pub(super) fn properties(&mut self) -> Result<Vec<(String, String)>> {
        self.expect(Token::LParen)?;
        let mut out = Vec::new();
        if self.p.peek_token().token != Token::RParen {
            loop {
                let k = self.string()?;
                self.expect(Token::Eq)?;
                let v = self.string()?;
                out.push((k, v));
                if !self.p.consume_token(&Token::Comma) {
                    break;
                }
            }
        }
        self.expect(Token::RParen)?;
        Ok(out)
    }
}

fn char_len(n: &Option<sql::CharacterLength>) -> Option<u64> {
    match n {
        Some(sql::CharacterLength::IntegerLength { length, .. }) => Some(*length),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_doris_create_table() {
        let sql = r#"CREATE TABLE IF NOT EXISTS d.t (
            k1 DATE NOT NULL COMMENT "day",
            k2 INT,
            v DECIMAL(10, 2) SUM DEFAULT "0"
        ) ENGINE=OLAP AGGREGATE KEY(k1, k2)
        PARTITION BY RANGE(k1) (
            PARTITION p1 VALUES LESS THAN ("2024-01-01"),
            PARTITION p2 VALUES [("2024-01-01"), ("2024-02-01")),
            FROM ("2024-02-01") TO ("2024-02-04") INTERVAL 1 DAY
        )
        DISTRIBUTED BY HASH(k2) BUCKETS 4
        PROPERTIES ("replication_num" = "1")"#;
        let stmts = parse(sql, ExprLimits::default()).unwrap();
        let Statement::CreateTable(ct) = &stmts[0] else {
            panic!("{stmts:?}")
        };
        assert_eq!(ct.keys_type, KeysType::AggKeys);
        assert_eq!(ct.columns[2].agg_type, Some(AggType::Sum));
        assert_eq!(
            ct.columns[2].data_type,
            DorisType::Decimal {
                precision: 10,
                scale: 2
            }
        );
        let Some(PartitionClause::Range { partitions, .. }) = &ct.partition else {
            panic!()
        };
        assert_eq!(partitions.len(), 3);
        assert_eq!(ct.properties, vec![("replication_num".into(), "1".into())]);
    }

    #[test]
    fn syntax_errors_carry_position() {
        let err = parse("SELEC 1", ExprLimits::default()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Syntax);
        let err = parse(
            "CREATE TABLE t (a INT) DISTRIBUTED BY HASH",
            ExprLimits::default(),
        )
        .unwrap_err();
        assert!(err.message.contains("Line: 1"), "{err}");
    }
}
