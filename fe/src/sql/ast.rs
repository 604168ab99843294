//! Doris statements that sqlparser does not know, and the statement enum the
//! session executes. Everything DataFusion can plan stays a sqlparser statement.

use basalt_common::schema::{Column, IndexDef, KeysType};
use datafusion::sql::sqlparser::ast;

#[derive(Debug, Clone)]
pub enum Statement {
    /// A query or other statement planned by DataFusion (SELECT, WITH, EXPLAIN, VALUES).
    Query(Box<ast::Statement>),
    CreateDatabase {
        name: String,
        if_not_exists: bool,
    },
    DropDatabase {
        name: String,
        if_exists: bool,
    },
    Use {
        db: String,
    },
    CreateTable(Box<CreateTable>),
    DropTable {
        name: ObjectName,
        if_exists: bool,
    },
    TruncateTable {
        name: ObjectName,
        /// Empty: every partition.
        partitions: Vec<String>,
    },
    AddPartitions {
        table: ObjectName,
        partitions: Vec<PartitionDesc>,
    },
    DropPartition {
        table: ObjectName,
        partition: String,
        if_exists: bool,
    },
    AlterSystem(AlterSystem),
    /// `ADMIN SET [ALL] FRONTEND[S] CONFIG ("key" = "value", ...)`
    AdminSetFrontendConfig(Vec<(String, String)>),
    /// `KILL [CONNECTION] id` ends the connection; `KILL QUERY id` its running statement.
    Kill {
        id: u32,
        query_only: bool,
    },
    Insert(Box<Insert>),
    Delete(Box<Delete>),
    Update(Box<Update>),
    /// `CREATE INDEX ... ON t` and `ALTER TABLE t ADD INDEX ...`.
    CreateIndex {
        table: ObjectName,
        index: IndexDef,
        if_not_exists: bool,
    },
    /// `DROP INDEX ... ON t` and `ALTER TABLE t DROP INDEX ...`.
    DropIndex {
        table: ObjectName,
        name: String,
        if_exists: bool,
    },
    Show(Box<Show>),
    /// `ANALYZE TABLE t [(c, ...)] [WITH SYNC]` or `ANALYZE DATABASE db [WITH SYNC]`.
    Analyze {
        target: AnalyzeTarget,
        sync: bool,
    },
    /// `DROP STATS t [(c, ...)]`
    DropStats {
        table: ObjectName,
        columns: Vec<String>,
    },
    /// `SET [GLOBAL|SESSION] x = v, ...`; `SET NAMES` sets the character-set variables.
    Set {
        assignments: Vec<(String, ast::Expr)>,
    },
    /// COMMIT / ROLLBACK / BEGIN outside an explicit transaction: nothing to do.
    TransactionNoop,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AnalyzeTarget {
    /// A table and the columns to collect (empty: all of them).
    Table(ObjectName, Vec<String>),
    /// Every table of a database.
    Database(String),
}

/// `[db.]name`
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectName {
    pub db: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct CreateTable {
    pub name: ObjectName,
    pub if_not_exists: bool,
    pub columns: Vec<Column>,
    pub keys_type: KeysType,
    /// The columns of the KEY clause (DUPLICATE by default: a prefix of the columns).
    pub key_columns: Vec<String>,
    pub comment: String,
    pub partition: Option<PartitionClause>,
    pub distribution: Option<Distribution>,
    pub properties: Vec<(String, String)>,
    /// `INDEX name (column) USING BITMAP` clauses.
    pub indexes: Vec<IndexDef>,
}

#[derive(Debug, Clone)]
pub enum PartitionClause {
    Range {
        columns: Vec<String>,
        partitions: Vec<PartitionDesc>,
    },
    List {
        columns: Vec<String>,
        partitions: Vec<PartitionDesc>,
    },
}

/// One partition as written in DDL.
#[derive(Debug, Clone)]
pub enum PartitionDesc {
    /// `PARTITION p VALUES LESS THAN (...)`
    LessThan { name: String, upper: Vec<String> },
    /// `PARTITION p VALUES [(...), (...))`
    Fixed {
        name: String,
        lower: Vec<String>,
        upper: Vec<String>,
    },
    /// `FROM (...) TO (...) INTERVAL n [unit]`
    Batch {
        from: Vec<String>,
        to: Vec<String>,
        interval: i64,
        unit: Option<String>,
    },
    /// `PARTITION p VALUES IN (...)`
    In {
        name: String,
        values: Vec<Vec<String>>,
    },
}

#[derive(Debug, Clone)]
pub enum Distribution {
    Hash {
        columns: Vec<String>,
        buckets: Option<u32>,
    },
    Random {
        buckets: Option<u32>,
    },
}

#[derive(Debug, Clone)]
pub struct Insert {
    pub table: ObjectName,
    /// `INSERT OVERWRITE`: the rows replace the table's (or the named
    /// partitions') in one step.
    pub overwrite: bool,
    /// `PARTITION (p1, ...)`: the partitions the rows go to.
    pub partitions: Vec<String>,
    pub label: Option<String>,
    pub columns: Vec<String>,
    pub source: Box<ast::Query>,
}

/// `DELETE FROM t [alias] [PARTITION p | PARTITIONS (p1, ...)] [USING ...] WHERE ...`
#[derive(Debug, Clone)]
pub struct Delete {
    pub table: ObjectName,
    pub alias: Option<String>,
    pub partitions: Vec<String>,
    pub using: Vec<ast::TableWithJoins>,
    pub selection: ast::Expr,
}

/// `UPDATE t [alias] SET c = e, ... [FROM ...] [WHERE ...]`
#[derive(Debug, Clone)]
pub struct Update {
    pub table: ObjectName,
    pub alias: Option<String>,
    pub assignments: Vec<(String, ast::Expr)>,
    pub from: Vec<ast::TableWithJoins>,
    pub selection: Option<ast::Expr>,
}

#[derive(Debug, Clone)]
pub enum Filter {
    None,
    Like(String),
    Where(Box<ast::Expr>),
}

#[derive(Debug, Clone)]
pub enum Show {
    /// `ADMIN SHOW FRONTEND CONFIG [LIKE 'pattern']`
    FrontendConfig {
        filter: Filter,
    },
    Databases {
        filter: Filter,
    },
    Tables {
        full: bool,
        db: Option<String>,
        filter: Filter,
    },
    Columns {
        full: bool,
        table: ObjectName,
        filter: Filter,
    },
    CreateTable {
        table: ObjectName,
    },
    CreateDatabase {
        name: String,
    },
    Partitions {
        table: ObjectName,
    },
    /// `SHOW STREAM LOAD [FROM db] [WHERE ...]`
    StreamLoad {
        db: Option<String>,
        filter: Filter,
    },
    /// `SHOW LOAD [FROM db] [WHERE ...]`
    Load {
        db: Option<String>,
        filter: Filter,
    },
    /// `SHOW TRANSACTION [FROM db] WHERE id = n | label = 'l'`
    Transaction {
        db: Option<String>,
        filter: Box<ast::Expr>,
    },
    /// `SHOW TABLETS FROM t [PARTITION (p, ...)]`
    Tablets {
        table: ObjectName,
        partitions: Vec<String>,
    },
    Variables {
        global: bool,
        filter: Filter,
    },
    Warnings,
    Errors,
    Collation {
        filter: Filter,
    },
    Charset {
        filter: Filter,
    },
    Engines,
    Backends,
    Frontends,
    TableStatus {
        db: Option<String>,
        filter: Filter,
    },
    Index {
        table: ObjectName,
    },
    ProcessList {
        full: bool,
    },
    /// `SHOW COLUMN [CACHED] STATS t [(c, ...)]`
    ColumnStats {
        table: ObjectName,
        columns: Vec<String>,
    },
    /// `SHOW PROC '/path'`
    Proc {
        path: String,
    },
    /// `ADMIN SHOW REPLICA STATUS FROM t [WHERE ...]`
    ReplicaStatus {
        table: ObjectName,
        filter: Filter,
    },
    /// `ADMIN SHOW REPLICA DISTRIBUTION FROM t`
    ReplicaDistribution {
        table: ObjectName,
    },
}

/// `ALTER SYSTEM ...` on backends, each named by `"host:heartbeat_port"` or id.
#[derive(Debug, Clone, PartialEq)]
pub enum AlterSystem {
    AddBackends(Vec<String>),
    /// `DROP BACKEND` (refused, as in Doris) or `DROPP BACKEND` (`force`).
    DropBackends {
        backends: Vec<String>,
        force: bool,
    },
    Decommission(Vec<String>),
    CancelDecommission(Vec<String>),
}
