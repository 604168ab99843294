//! The typed edit log and how each entry changes the catalog state.

use crate::model::*;
use crate::{unknown_db, unknown_table};
use basalt_common::rpc::{TxnId, Version};
use basalt_common::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum EditLogEntry {
    CreateDatabase {
        id: u64,
        name: String,
    },
    DropDatabase {
        name: String,
    },
    CreateTable {
        db: String,
        table: Box<OlapTable>,
    },
    DropTable {
        db: String,
        table: String,
    },
    AddPartitions {
        db: String,
        table: String,
        partitions: Vec<Partition>,
    },
    DropPartition {
        db: String,
        table: String,
        partition: String,
    },
    /// TRUNCATE: the named partitions get fresh, empty tablets.
    ReplacePartitions {
        db: String,
        table: String,
        partitions: Vec<Partition>,
    },
    AddBackend {
        backend: Backend,
    },
    DropBackend {
        id: u64,
    },
    BeginTxn {
        db: String,
        txn: Transaction,
    },
    /// Rowsets are written on every replica; each partition gets its version.
    CommitTxn {
        db: String,
        txn_id: TxnId,
        partition_versions: Vec<(u64, Version)>,
    },
    /// Backends published the versions: the load is visible.
    VisibleTxn {
        db: String,
        txn_id: TxnId,
        time: i64,
    },
    AbortTxn {
        db: String,
        txn_id: TxnId,
        reason: String,
    },
}

impl CatalogState {
    pub fn db(&self, name: &str) -> Result<&Database> {
        self.databases.get(name).ok_or_else(|| unknown_db(name))
    }

    pub fn table(&self, db: &str, table: &str) -> Result<&OlapTable> {
        self.db(db)?
            .tables
            .get(table)
            .ok_or_else(|| unknown_table(db, table))
    }

    fn db_mut(&mut self, name: &str) -> Result<&mut Database> {
        self.databases.get_mut(name).ok_or_else(|| unknown_db(name))
    }

    fn table_mut(&mut self, db: &str, table: &str) -> Result<&mut OlapTable> {
        self.db_mut(db)?
            .tables
            .get_mut(table)
            .ok_or_else(|| unknown_table(db, table))
    }

    fn see(&mut self, id: u64) {
        self.next_id = self.next_id.max(id + 1);
    }

    fn see_partition(&mut self, p: &Partition) {
        self.see(p.id);
        self.see(p.index.id);
        for t in &p.index.tablets {
            self.see(t.id);
            for r in &t.replicas {
                self.see(r.id);
            }
        }
    }

    /// The checks that keep obviously failing entries out of the log.
    pub fn check(&self, entry: &EditLogEntry) -> Result<()> {
        match entry {
            EditLogEntry::CreateDatabase { name, .. } if self.databases.contains_key(name) => {
                Err(Error::new(
                    ErrorKind::DatabaseExists,
                    format!("Can't create database '{name}'; database exists"),
                ))
            }
            EditLogEntry::CreateTable { db, table } => {
                if self.db(db)?.tables.contains_key(&table.name) {
                    return Err(Error::new(
                        ErrorKind::TableExists,
                        format!("Table '{}' already exists", table.name),
                    ));
                }
                Ok(())
            }
            EditLogEntry::BeginTxn { db, txn } => {
                if let Some(old) = self.db(db)?.labels.get(&txn.label) {
                    let status = self.db(db)?.transactions.get(old).map(|t| t.status);
                    if status != Some(TxnStatus::Aborted) {
                        return Err(Error::new(
                            ErrorKind::LabelAlreadyExists,
                            format!(
                                "Label [{}] has already been used, relate to txn [{old}], status [{}]",
                                txn.label,
                                status.map(|s| s.to_string()).unwrap_or_default()
                            ),
                        ));
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Applies one entry. It either changes the state completely or not at all.
    pub fn apply(&mut self, entry: &EditLogEntry) -> Result<()> {
        self.check(entry)?;
        match entry {
            EditLogEntry::CreateDatabase { id, name } => {
                self.see(*id);
                self.databases.insert(
                    name.clone(),
                    Database {
                        id: *id,
                        name: name.clone(),
                        tables: Default::default(),
                        transactions: Default::default(),
                        labels: Default::default(),
                    },
                );
            }
            EditLogEntry::DropDatabase { name } => {
                self.databases
                    .remove(name)
                    .ok_or_else(|| unknown_db(name))?;
            }
            EditLogEntry::CreateTable { db, table } => {
                self.db(db)?;
                self.see(table.id);
                for p in &table.partitions {
                    self.see_partition(p);
                }
                self.db_mut(db)?
                    .tables
                    .insert(table.name.clone(), (**table).clone());
            }
            EditLogEntry::DropTable { db, table } => {
                self.db_mut(db)?
                    .tables
                    .remove(table)
                    .ok_or_else(|| unknown_table(db, table))?;
            }
            EditLogEntry::AddPartitions {
                db,
                table,
                partitions,
            } => {
                let t = self.table(db, table)?;
                if let Some(dup) = partitions.iter().find(|p| t.partition(&p.name).is_some()) {
                    return Err(Error::invalid(format!(
                        "Duplicate partition name {}",
                        dup.name
                    )));
                }
                for p in partitions {
                    self.see_partition(p);
                }
                self.table_mut(db, table)?
                    .partitions
                    .extend(partitions.iter().cloned());
            }
            EditLogEntry::DropPartition {
                db,
                table,
                partition,
            } => {
                let t = self.table_mut(db, table)?;
                let before = t.partitions.len();
                t.partitions.retain(|p| &p.name != partition);
                if t.partitions.len() == before {
                    return Err(Error::invalid(format!(
                        "Error in list of partitions to {table}: partition {partition} does not exist"
                    )));
                }
            }
            EditLogEntry::ReplacePartitions {
                db,
                table,
                partitions,
            } => {
                self.table(db, table)?;
                for p in partitions {
                    self.see_partition(p);
                }
                let t = self.table_mut(db, table)?;
                for new in partitions {
                    if let Some(old) = t.partitions.iter_mut().find(|p| p.name == new.name) {
                        *old = new.clone();
                    }
                }
            }
            EditLogEntry::AddBackend { backend } => {
                self.see(backend.id);
                self.backends.insert(backend.id, backend.clone());
            }
            EditLogEntry::DropBackend { id } => {
                self.backends.remove(id);
            }
            EditLogEntry::BeginTxn { db, txn } => {
                self.see(txn.id);
                let d = self.db_mut(db)?;
                d.labels.insert(txn.label.clone(), txn.id);
                d.transactions.insert(txn.id, txn.clone());
            }
            EditLogEntry::CommitTxn {
                db,
                txn_id,
                partition_versions,
            } => {
                let d = self.db_mut(db)?;
                let txn = d
                    .transactions
                    .get_mut(txn_id)
                    .ok_or_else(|| no_txn(*txn_id))?;
                if txn.status != TxnStatus::Prepare {
                    return Err(Error::internal(format!("txn {txn_id} is {}", txn.status)));
                }
                txn.status = TxnStatus::Committed;
                txn.partition_versions = partition_versions.clone();
                let table_id = txn.table_id;
                if let Some(t) = d.tables.values_mut().find(|t| t.id == table_id) {
                    for (pid, v) in partition_versions {
                        if let Some(p) = t.partitions.iter_mut().find(|p| p.id == *pid) {
                            p.next_version = p.next_version.max(v + 1);
                        }
                    }
                }
            }
            EditLogEntry::VisibleTxn { db, txn_id, time } => {
                let d = self.db_mut(db)?;
                let txn = d
                    .transactions
                    .get_mut(txn_id)
                    .ok_or_else(|| no_txn(*txn_id))?;
                if txn.status != TxnStatus::Committed {
                    return Err(Error::internal(format!("txn {txn_id} is {}", txn.status)));
                }
                txn.status = TxnStatus::Visible;
                let (table_id, versions) = (txn.table_id, txn.partition_versions.clone());
                if let Some(t) = d.tables.values_mut().find(|t| t.id == table_id) {
                    for (pid, v) in versions {
                        if let Some(p) = t.partitions.iter_mut().find(|p| p.id == pid) {
                            p.visible_version = p.visible_version.max(v);
                            p.visible_version_time = *time;
                            for tablet in &mut p.index.tablets {
                                for r in &mut tablet.replicas {
                                    r.version = r.version.max(v);
                                }
                            }
                        }
                    }
                }
            }
            EditLogEntry::AbortTxn { db, txn_id, reason } => {
                let d = self.db_mut(db)?;
                let txn = d
                    .transactions
                    .get_mut(txn_id)
                    .ok_or_else(|| no_txn(*txn_id))?;
                if txn.status == TxnStatus::Visible {
                    return Err(Error::internal(format!("txn {txn_id} is already visible")));
                }
                txn.status = TxnStatus::Aborted;
                txn.reason = reason.clone();
            }
        }
        Ok(())
    }
}

fn no_txn(id: TxnId) -> Error {
    Error::internal(format!("transaction {id} not found"))
}
