//! INSERT [OVERWRITE], DELETE and UPDATE with Doris's clauses (partitions,
//! labels); the queries and expressions inside are sqlparser's.

use super::*;

impl DorisParser<'_> {
    pub(super) fn insert(&mut self) -> Result<Statement> {
        let overwrite = if self.word("OVERWRITE") {
            true
        } else {
            self.expect_word("INTO")?;
            false
        };
        self.word("TABLE");
        let table = self.object_name()?;
        let partitions = if self.word("PARTITION") {
            self.ident_list()?
        } else {
            Vec::new()
        };
        let label = if self.words(&["WITH", "LABEL"]) {
            Some(self.ident()?)
        } else {
            None
        };
        let mut columns = Vec::new();
        // `(` starts a column list unless it opens the query, as in `INSERT INTO t (SELECT ...)`.
        if self.p.peek_token().token == Token::LParen
            && !matches!(
                self.peek_word(1).as_deref(),
                Some("SELECT" | "WITH" | "VALUES")
            )
        {
            columns = self.ident_list()?;
        }
        let source = self.sql(|p| p.parse_query())?;
        Ok(Statement::Insert(Box::new(Insert {
            table,
            overwrite,
            partitions,
            label,
            columns,
            source,
        })))
    }

    /// A table's alias, if the next word is not one of `clauses`.
    fn alias(&mut self, clauses: &[&str]) -> Result<Option<String>> {
        self.word("AS");
        match self.peek_word(0) {
            Some(w) if !clauses.contains(&w.as_str()) => self.ident().map(Some),
            _ => Ok(None),
        }
    }

    pub(super) fn delete(&mut self) -> Result<Statement> {
        self.expect_word("FROM")?;
        let table = self.object_name()?;
        let alias = self.alias(&["PARTITION", "PARTITIONS", "USING", "WHERE"])?;
        let partitions = if self.word("PARTITIONS") {
            self.ident_list()?
        } else if self.word("PARTITION") {
            if self.p.peek_token().token == Token::LParen {
                self.ident_list()?
            } else {
                vec![self.ident()?]
            }
        } else {
            Vec::new()
        };
        let using = if self.word("USING") {
            self.table_list()?
        } else {
            Vec::new()
        };
        if !self.word("WHERE") {
            return Err(Error::invalid("delete all rows is forbidden temporary."));
        }
        let selection = self.expr()?;
        Ok(Statement::Delete(Box::new(Delete {
            table,
            alias,
            partitions,
            using,
            selection,
        })))
    }

    pub(super) fn update(&mut self) -> Result<Statement> {
        let table = self.object_name()?;
        let alias = self.alias(&["SET"])?;
        self.expect_word("SET")?;
        let mut assignments = Vec::new();
        loop {
            let mut column = self.ident()?;
            // `t.c = ...` names the updated table's column.
            if self.p.consume_token(&Token::Period) {
                column = self.ident()?;
            }
            self.expect(Token::Eq)?;
            let value = self.expr()?;
            assignments.push((column.to_ascii_lowercase(), value));
            if !self.p.consume_token(&Token::Comma) {
                break;
            }
        }
        let from = if self.word("FROM") {
            self.table_list()?
        } else {
            Vec::new()
        };
        let selection = if self.word("WHERE") {
            Some(self.expr()?)
        } else {
            None
        };
        Ok(Statement::Update(Box::new(Update {
            table,
            alias,
            assignments,
            from,
            selection,
        })))
    }

    /// `t1 [JOIN ...], t2 ...`: the tables of USING and FROM.
    fn table_list(&mut self) -> Result<Vec<sql::TableWithJoins>> {
        self.p
            .parse_comma_separated(Parser::parse_table_and_joins)
            .map_err(|e| self.syntax(e))
    }
}
