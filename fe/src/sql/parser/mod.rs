//! Doris's SQL on sqlparser: Doris statements are parsed here token by token
//! (as DataFusion's own `DFParser` extends sqlparser), everything else is left
//! to sqlparser's MySQL dialect and planned by DataFusion.

use super::ast::*;
use basalt_common::schema::{AggType, Column, IndexDef, KeysType};
use basalt_common::types::DorisType;
use basalt_common::{Error, ErrorKind, Result};
use datafusion::sql::sqlparser::ast::{self as sql, DataType as SqlType, ExactNumberInfo, Visit};
use datafusion::sql::sqlparser::dialect::MySqlDialect;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

/// Parses `sql` into statements, each expression within Doris's `limits`.
pub fn parse(sql: &str, limits: ExprLimits) -> Result<Vec<Statement>> {
    let dialect = MySqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| syntax(ParserError::TokenizerError(e.to_string())))?;
    limits::check_tokens(&tokens, limits)?;
    // sqlparser's own default (50) refused the nested calls that BI tools and
    // dbt macros generate; nesting as deep as expr_depth_limit allows must
    // parse (a statement adds a few levels of its own), and its refusal is
    // Doris's depth error. The cap keeps a raised limit within the stack.
    let recursion = limits
        .depth
        .saturating_add(50)
        .min(basalt_common::MAX_EXPR_DEPTH);
    let parser = Parser::new(&dialect)
        .with_recursion_limit(recursion)
        .with_tokens_with_locations(time_travel::rewrite(tokens));
    let mut p = DorisParser {
        p: parser,
        sql,
        limits,
    };
    let mut out = Vec::new();
    loop {
        while p.p.consume_token(&Token::SemiColon) {}
        if p.p.peek_token().token == Token::EOF {
            break;
        }
        out.push(p.statement()?);
        if !p.p.consume_token(&Token::SemiColon) && p.p.peek_token().token != Token::EOF {
            return Err(p.error("expected end of statement"));
        }
    }
    if out.is_empty() {
        return Err(Error::new(ErrorKind::Syntax, "Query was empty"));
    }
    Ok(out)
}

/// A column type on its own, as a property like `function_column.sequence_type` gives it.
pub fn parse_type(text: &str) -> Result<DorisType> {
    let dialect = MySqlDialect {};
    let parser = Parser::new(&dialect).try_with_sql(text).map_err(syntax)?;
    let mut p = DorisParser {
        p: parser,
        sql: text,
        limits: ExprLimits::default(),
    };
    let t = p.doris_type()?;
    if p.p.peek_token().token != Token::EOF {
        return Err(p.error("expected a type"));
    }
    Ok(t)
}

fn syntax(e: ParserError) -> Error {
    let msg = match e {
        ParserError::ParserError(m) | ParserError::TokenizerError(m) => m,
        ParserError::RecursionLimitExceeded => "statement nests too deeply".into(),
    };
    Error::new(ErrorKind::Syntax, format!("Syntax error: {msg}"))
}

struct DorisParser<'a> {
    p: Parser<'a>,
    sql: &'a str,
    limits: ExprLimits,
}

impl DorisParser<'_> {
    /// Line and column of the next token; at the end of input (where sqlparser
    /// reports 0:0) the position just past the last character.
    fn position(&self) -> (u64, u64) {
        let t = self.p.peek_token();
        if t.span.start.line > 0 {
            return (t.span.start.line, t.span.start.column);
        }
        let line = self.sql.lines().count().max(1) as u64;
        let column = self.sql.lines().last().map_or(0, |l| l.chars().count()) as u64 + 1;
        (line, column)
    }

    /// Parses with sqlparser (an expression, a query, a statement) and checks
    /// the result against Doris's expression limits.
    fn sql<T: Visit>(
        &mut self,
        f: impl FnOnce(&mut Parser) -> Result<T, ParserError>,
    ) -> Result<T> {
        let node = f(&mut self.p).map_err(|e| self.syntax(e))?;
        limits::check(&node, self.limits)?;
        Ok(node)
    }

    /// An expression, parsed by sqlparser and checked.
    fn expr(&mut self) -> Result<sql::Expr> {
        self.sql(|p| p.parse_expr())
    }

    /// A sqlparser error, with the position added when sqlparser gives none.
    fn syntax(&self, e: ParserError) -> Error {
        if matches!(e, ParserError::RecursionLimitExceeded) {
            return limits::too_deep(self.limits);
        }
        let mut err = syntax(e);
        if !err.message.contains("Line:") {
            let (line, column) = self.position();
            err.message = format!("{} at Line: {line}, Column: {column}", err.message);
        }
        err
    }

    /// A syntax error at the next token, with its line and column.
    fn error(&self, msg: &str) -> Error {
        let (line, column) = self.position();
        Error::new(
            ErrorKind::Syntax,
            format!(
                "Syntax error: {msg}, found: {} at Line: {line}, Column: {column}",
                self.p.peek_token().token
            ),
        )
    }

    fn peek_word(&self, n: usize) -> Option<String> {
        match self.p.peek_nth_token(n).token {
            Token::Word(w) => Some(w.value.to_ascii_uppercase()),
            _ => None,
        }
    }

    /// Consumes the next token if it is the word `w` (keyword or not), ignoring case.
    fn word(&mut self, w: &str) -> bool {
        if self.peek_word(0).as_deref() == Some(w) {
            self.p.next_token();
            true
        } else {
            false
        }
    }

    fn words(&mut self, ws: &[&str]) -> bool {
        if ws
            .iter()
            .enumerate()
            .all(|(i, w)| self.peek_word(i).as_deref() == Some(*w))
        {
            for _ in ws {
                self.p.next_token();
            }
            true
        } else {
            false
        }
    }

    fn expect_word(&mut self, w: &str) -> Result<()> {
        if self.word(w) {
            Ok(())
        } else {
            Err(self.error(&format!("expected {w}")))
        }
    }

    fn expect(&mut self, t: Token) -> Result<()> {
        if self.p.consume_token(&t) {
            Ok(())
        } else {
            Err(self.error(&format!("expected {t}")))
        }
    }

    fn ident(&mut self) -> Result<String> {
        let t = self.p.next_token();
        match t.token {
            Token::Word(w) => Ok(w.value),
            _ => {
                self.p.prev_token();
                Err(self.error("expected an identifier"))
            }
        }
    }

    fn object_name(&mut self) -> Result<ObjectName> {
        let first = self.ident()?;
        if self.p.consume_token(&Token::Period) {
            Ok(ObjectName {
                db: Some(first),
                name: self.ident()?,
            })
        } else {
            Ok(ObjectName {
                db: None,
                name: first,
            })
        }
    }

    fn string(&mut self) -> Result<String> {
        match self.p.next_token().token {
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => Ok(s),
            _ => {
                self.p.prev_token();
                Err(self.error("expected a string literal"))
            }
        }
    }

    fn number(&mut self) -> Result<i64> {
        let neg = self.p.consume_token(&Token::Minus);
        match self.p.next_token().token {
            Token::Number(n, _) => n
                .parse::<i64>()
                .map(|v| if neg { -v } else { v })
                .map_err(|_| self.error("expected an integer")),
            _ => {
                self.p.prev_token();
                Err(self.error("expected a number"))
            }
        }
    }

    fn ident_list(&mut self) -> Result<Vec<String>> {
        self.expect(Token::LParen)?;
        let mut out = vec![self.ident()?];
        while self.p.consume_token(&Token::Comma) {
            out.push(self.ident()?);
        }
        self.expect(Token::RParen)?;
        Ok(out)
    }

    /// `(a, b, ...)` if the next token opens one, else nothing.
    fn optional_ident_list(&mut self) -> Result<Vec<String>> {
        match self.p.peek_token().token {
            Token::LParen => self.ident_list(),
            _ => Ok(Vec::new()),
        }
    }

    fn if_exists(&mut self) -> bool {
        self.words(&["IF", "EXISTS"])
    }

    fn if_not_exists(&mut self) -> bool {
        self.words(&["IF", "NOT", "EXISTS"])
    }

    fn statement(&mut self) -> Result<Statement> {
        let Some(first) = self.peek_word(0) else {
            return self.sql_statement();
        };
        match first.as_str() {
            "CREATE" => {
                self.p.next_token();
                if self.word("DATABASE") || self.word("SCHEMA") {
                    let if_not_exists = self.if_not_exists();
                    return Ok(Statement::CreateDatabase {
                        name: self.ident()?,
                        if_not_exists,
                    });
                }
                if self.word("TABLE") {
                    return self.create_table();
                }
                if self.word("INDEX") {
                    let if_not_exists = self.if_not_exists();
                    let name = self.ident()?;
                    self.expect_word("ON")?;
                    let table = self.object_name()?;
                    let index = self.index_def_named(name)?;
                    return Ok(Statement::CreateIndex {
                        table,
                        index,
                        if_not_exists,
                    });
                }
                Err(Error::not_supported(
                    "only CREATE DATABASE, CREATE TABLE and CREATE INDEX are supported",
                ))
            }
            "DROP" => {
                self.p.next_token();
                if self.word("DATABASE") || self.word("SCHEMA") {
                    let if_exists = self.if_exists();
                    let name = self.ident()?;
                    self.word("FORCE");
                    return Ok(Statement::DropDatabase { name, if_exists });
                }
                if self.word("TABLE") {
                    let if_exists = self.if_exists();
                    let name = self.object_name()?;
                    self.word("FORCE");
                    return Ok(Statement::DropTable { name, if_exists });
                }
                if self.word("INDEX") {
                    let if_exists = self.if_exists();
                    let name = self.ident()?;
                    self.expect_word("ON")?;
                    let table = self.object_name()?;
                    return Ok(Statement::DropIndex {
                        table,
                        name,
                        if_exists,
                    });
                }
                if self.word("STATS") {
                    let table = self.object_name()?;
                    return Ok(Statement::DropStats {
                        table,
                        columns: self.optional_ident_list()?,
                    });
                }
                Err(self.error("expected DATABASE, TABLE, INDEX or STATS"))
            }
            "TRUNCATE" => {
                self.p.next_token();
                self.word("TABLE");
                let name = self.object_name()?;
                let partitions = if self.word("PARTITION") {
                    self.ident_list()?
                } else {
                    Vec::new()
                };
                Ok(Statement::TruncateTable { name, partitions })
            }
            "ALTER" => {
                self.p.next_token();
                if self.word("SYSTEM") {
                    return self.alter_system();
                }
                self.expect_word("TABLE")?;
                let table = self.object_name()?;
                if self.words(&["ADD", "INDEX"]) {
                    let if_not_exists = self.if_not_exists();
                    let name = self.ident()?;
                    let index = self.index_def_named(name)?;
                    return Ok(Statement::CreateIndex {
                        table,
                        index,
                        if_not_exists,
                    });
                }
                if self.words(&["DROP", "INDEX"]) {
                    let if_exists = self.if_exists();
                    return Ok(Statement::DropIndex {
                        table,
                        name: self.ident()?,
                        if_exists,
                    });
                }
                if self.word("ADD") {
                    let mut partitions = Vec::new();
                    loop {
                        self.word("TEMPORARY");
                        self.expect_word("PARTITION")?;
                        self.if_not_exists();
                        partitions.push(self.partition_desc_named()?);
                        // Per-partition DISTRIBUTED BY / PROPERTIES are accepted and ignored.
                        self.skip_partition_options()?;
                        if !self.p.consume_token(&Token::Comma) {
                            break;
                        }
                    }
                    return Ok(Statement::AddPartitions { table, partitions });
                }
                if self.word("DROP") {
                    self.expect_word("PARTITION")?;
                    let if_exists = self.if_exists();
                    let partition = self.ident()?;
                    self.word("FORCE");
                    return Ok(Statement::DropPartition {
                        table,
                        partition,
                        if_exists,
                    });
                }
                Err(self.error("expected ADD PARTITION or DROP PARTITION"))
            }
            "USE" => {
                self.p.next_token();
                let db = self.ident()?;
                Ok(Statement::Use { db })
            }
            "SHOW" => {
                self.p.next_token();
                self.show()
            }
            "DESC" | "DESCRIBE" => {
                if matches!(self.peek_word(1).as_deref(), Some("SELECT" | "WITH")) {
                    return self.sql_statement();
                }
                self.p.next_token();
                Ok(Statement::Show(Box::new(Show::Columns {
                    full: false,
                    table: self.object_name()?,
                    filter: Filter::None,
                })))
            }
            "INSERT" => {
                self.p.next_token();
                self.insert()
            }
            "DELETE" => {
                self.p.next_token();
                self.delete()
            }
            "UPDATE" => {
                self.p.next_token();
                self.update()
            }
            "ADMIN" => {
                self.p.next_token();
                self.admin()
            }
            "ANALYZE" => {
                self.p.next_token();
                self.analyze()
            }
            // Doris also accepts CANCEL DECOMMISSION without ALTER SYSTEM.
            "CANCEL" if self.peek_word(1).as_deref() == Some("DECOMMISSION") => self.alter_system(),
            "KILL" => {
                self.p.next_token();
                self.kill()
            }
            "SET" => {
                self.p.next_token();
                self.set()
            }
            "COMMIT" | "ROLLBACK" | "BEGIN" => {
                self.p.next_token();
                self.word("WORK");
                Ok(Statement::TransactionNoop)
            }
            _ => self.sql_statement(),
        }
    }

    /// Anything else: a query for DataFusion.
    fn sql_statement(&mut self) -> Result<Statement> {
        let stmt = self.sql(|p| p.parse_statement())?;
        match stmt {
            sql::Statement::Query(_) | sql::Statement::Explain { .. } => {
                Ok(Statement::Query(Box::new(stmt)))
            }
            sql::Statement::StartTransaction { .. } => Ok(Statement::TransactionNoop),
            other => Err(Error::not_supported(format!(
                "statement not supported: {}",
                other.to_string().chars().take(60).collect::<String>()
            ))),
        }
    }

    fn set(&mut self) -> Result<Statement> {
        if self.word("NAMES") {
            let charset = match self.p.next_token().token {
                Token::Word(w) => w.value,
                Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s,
                _ => return Err(self.error("expected a character set")),
            };
            let mut assignments = [
                "character_set_client",
                "character_set_connection",
                "character_set_results",
            ]
            .iter()
            .map(|n| {
                (
                    n.to_string(),
                    sql::Expr::value(sql::Value::SingleQuotedString(charset.clone())),
                )
            })
            .collect::<Vec<_>>();
            if self.word("COLLATE") {
                let c = self
                    .p
                    .next_token()
                    .token
                    .to_string()
                    .trim_matches(['\'', '"'])
                    .to_string();
                assignments.push((
                    "collation_connection".into(),
                    sql::Expr::value(sql::Value::SingleQuotedString(c)),
                ));
            }
            return Ok(Statement::Set { assignments });
        }
        if self.words(&["TRANSACTION"]) {
            // SET TRANSACTION ISOLATION LEVEL ...: one isolation level exists; accept.
            while self.p.next_token().token != Token::EOF {}
            return Ok(Statement::TransactionNoop);
        }
        let mut assignments = Vec::new();
        loop {
            let _ = self.word("GLOBAL") || self.word("SESSION") || self.word("LOCAL");
            let mut name = match self.p.next_token().token {
                Token::Word(w) => w.value,
                _ => return Err(self.error("expected a variable name")),
            };
            // `@@session.x` arrives as word '.' word; the session reads the prefixes.
            if self.p.consume_token(&Token::Period) {
                name = format!("{name}.{}", self.ident()?);
            }
            if !self.p.consume_token(&Token::Eq) {
                self.expect(Token::Assignment)?;
            }
            let value = self.expr()?;
            assignments.push((name, value));
            if !self.p.consume_token(&Token::Comma) {
                break;
            }
        }
        Ok(Statement::Set { assignments })
    }

    fn filter(&mut self) -> Result<Filter> {
        if self.word("LIKE") {
            Ok(Filter::Like(self.string()?))
        } else if self.word("WHERE") {
            Ok(Filter::Where(Box::new(self.expr()?)))
        } else {
            Ok(Filter::None)
        }
    }

    fn in_db(&mut self) -> Result<Option<String>> {
        if self.word("FROM") || self.word("IN") {
            Ok(Some(self.ident()?))
        } else {
            Ok(None)
        }
    }

    fn show(&mut self) -> Result<Statement> {
        let full = self.word("FULL");
        let global = self.word("GLOBAL");
        let _ = self.word("SESSION") || self.word("LOCAL");
        let what = self
            .peek_word(0)
            .ok_or_else(|| self.error("expected what to show"))?;
        self.p.next_token();
        let show = match what.as_str() {
            "DATABASES" | "SCHEMAS" => Show::Databases {
                filter: self.filter()?,
            },
            "TABLES" => Show::Tables {
                full,
                db: self.in_db()?,
                filter: self.filter()?,
            },
            "COLUMNS" | "FIELDS" => {
                if !(self.word("FROM") || self.word("IN")) {
                    return Err(self.error("expected FROM"));
                }
                let mut table = self.object_name()?;
                if let Some(db) = self.in_db()? {
                    table.db = Some(db);
                }
                Show::Columns {
                    full,
                    table,
                    filter: self.filter()?,
                }
            }
            "CREATE" => {
                if self.word("DATABASE") || self.word("SCHEMA") {
                    Show::CreateDatabase {
                        name: self.ident()?,
                    }
                } else {
                    self.word("TABLE");
                    Show::CreateTable {
                        table: self.object_name()?,
                    }
                }
            }
            "PARTITIONS" => {
                self.expect_word("FROM")?;
                Show::Partitions {
                    table: self.object_name()?,
                }
            }
            "TABLETS" => {
                self.expect_word("FROM")?;
                let table = self.object_name()?;
                let partitions = if self.word("PARTITION") || self.word("PARTITIONS") {
                    self.ident_list()?
                } else {
                    Vec::new()
                };
                Show::Tablets { table, partitions }
            }
            "VARIABLES" => Show::Variables {
                global,
                filter: self.filter()?,
            },
            "WARNINGS" => Show::Warnings,
            "ERRORS" => Show::Errors,
            "COLLATION" => Show::Collation {
                filter: self.filter()?,
            },
            "CHARSET" => Show::Charset {
                filter: self.filter()?,
            },
            "CHARACTER" => {
                self.expect_word("SET")?;
                Show::Charset {
                    filter: self.filter()?,
                }
            }
            "ENGINES" => Show::Engines,
            "BACKENDS" => Show::Backends,
            "FRONTENDS" => Show::Frontends,
            "PROCESSLIST" => Show::ProcessList { full },
            "STREAM" => {
                self.expect_word("LOAD")?;
                Show::StreamLoad {
                    db: self.in_db()?,
                    filter: self.filter()?,
                }
            }
            "LOAD" => Show::Load {
                db: self.in_db()?,
                filter: self.filter()?,
            },
            "TRANSACTION" => {
                let db = self.in_db()?;
                self.expect_word("WHERE")?;
                Show::Transaction {
                    db,
                    filter: Box::new(self.expr()?),
                }
            }
            "PROC" => Show::Proc {
                path: self.string()?,
            },
            "TABLE" => {
                self.expect_word("STATUS")?;
                Show::TableStatus {
                    db: self.in_db()?,
                    filter: self.filter()?,
                }
            }
            "COLUMN" => {
                self.word("CACHED");
                self.expect_word("STATS")?;
                let table = self.object_name()?;
                Show::ColumnStats {
                    table,
                    columns: self.optional_ident_list()?,
                }
            }
            "INDEX" | "INDEXES" | "KEYS" => {
                if !(self.word("FROM") || self.word("IN")) {
                    return Err(self.error("expected FROM"));
                }
                let mut table = self.object_name()?;
                if let Some(db) = self.in_db()? {
                    table.db = Some(db);
                }
                Show::Index { table }
            }
            _ => {
                self.p.prev_token();
                return Err(self.error("unknown SHOW statement"));
            }
        };
        Ok(Statement::Show(Box::new(show)))
    }
}

mod admin;
mod create_table;
mod dml;
mod limits;
pub use limits::ExprLimits;
pub mod time_travel;
