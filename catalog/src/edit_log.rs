//! The typed edit log and how each entry changes the catalog state.

use crate::model::*;
use crate::{unknown_db, unknown_table};
use basalt_common::rpc::{TabletId, TxnId, Version};
use basalt_common::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// The table's bitmap indexes changed (CREATE / DROP INDEX).
    SetIndexes {
        db: String,
        table: String,
        indexes: Vec<basalt_common::schema::IndexDef>,
    },
    /// ANALYZE or DROP STATS: the table's column statistics, whole.
    SetColumnStats {
        db: String,
        table: String,
        stats: BTreeMap<String, ColumnStats>,
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
    /// Removes the backend and every replica it held.
    DropBackend {
        id: u64,
    },
    DecommissionBackend {
        id: u64,
        decommissioned: bool,
    },
    /// A clone finished: the tablet has a new replica.
    AddReplica {
        tablet_id: TabletId,
        replica: Replica,
    },
    /// A replica's version as its backend reported it, or as a clone left it.
    UpdateReplica {
        tablet_id: TabletId,
        backend_id: u64,
        version: Version,
    },
    DropReplica {
        tablet_id: TabletId,
        backend_id: u64,
    },
    BeginTxn {
        db: String,
        txn: Transaction,
    },
    /// A majority of each tablet's replicas hold the rowsets; each partition
    /// gets its version. `replicas` (tablet, backend) are the ones to publish
    /// on; the partitions' other replicas missed the load.
    CommitTxn {
        db: String,
        txn_id: TxnId,
        partition_versions: Vec<(u64, Version)>,
        #[serde(default)]
        replicas: Vec<(TabletId, u64)>,
        /// The tablets that got rows (the others move to the version empty).
        #[serde(default)]
        tablets: Vec<TabletId>,
        #[serde(default)]
        time: i64,
    },
    /// A two-phase load was written to a majority of every tablet's replicas;
    /// it waits for the client to commit or abort it.
    PrecommitTxn {
        db: String,
        txn_id: TxnId,
        replicas: Vec<(TabletId, u64)>,
        tablets: Vec<TabletId>,
        time: i64,
    },
    /// A majority of each tablet's replicas published the versions: the load is
    /// visible. `failed` replicas did not publish and missed the load.
    VisibleTxn {
        db: String,
        txn_id: TxnId,
        time: i64,
        #[serde(default)]
        failed: Vec<(TabletId, u64)>,
    },
    AbortTxn {
        db: String,
        txn_id: TxnId,
        reason: String,
        #[serde(default)]
        time: i64,
    },
    /// Finished loads past the label retention (`streaming_label_keep_max_second`):
    /// forgotten, their labels free again.
    ExpireTxns {
        db: String,
        txn_ids: Vec<TxnId>,
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

    /// Every partition of every table, mutably.
    fn partitions_mut(&mut self) -> impl Iterator<Item = &mut Partition> {
        self.databases
            .values_mut()
            .flat_map(|d| d.tables.values_mut())
            .flat_map(|t| t.partitions.iter_mut())
    }

    /// A tablet and its partition's visible version.
    fn tablet_mut(&mut self, tablet_id: TabletId) -> Result<(Version, &mut Tablet)> {
        self.partitions_mut()
            .find_map(|p| {
                let visible = p.visible_version;
                p.index
                    .tablets
                    .iter_mut()
                    .find(|t| t.id == tablet_id)
                    .map(|t| (visible, t))
            })
            .ok_or_else(|| Error::internal(format!("tablet {tablet_id} not found")))
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
            EditLogEntry::SetIndexes { db, table, indexes } => {
                self.table_mut(db, table)?.schema.indexes = indexes.clone();
            }
            EditLogEntry::SetColumnStats { db, table, stats } => {
                self.table_mut(db, table)?.column_stats = stats.clone();
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
                for p in self.partitions_mut() {
                    for t in &mut p.index.tablets {
                        t.replicas.retain(|r| r.backend_id != *id);
                    }
                }
            }
            EditLogEntry::DecommissionBackend { id, decommissioned } => {
                let be = self
                    .backends
                    .get_mut(id)
                    .ok_or_else(|| Error::invalid(format!("backend {id} does not exist")))?;
                be.decommissioned = *decommissioned;
            }
            EditLogEntry::AddReplica { tablet_id, replica } => {
                self.see(replica.id);
                let (_, t) = self.tablet_mut(*tablet_id)?;
                if t.replicas
                    .iter()
                    .any(|r| r.backend_id == replica.backend_id)
                {
                    return Err(Error::internal(format!(
                        "tablet {tablet_id} already has a replica on backend {}",
                        replica.backend_id
                    )));
                }
                t.replicas.push(replica.clone());
            }
            EditLogEntry::UpdateReplica {
                tablet_id,
                backend_id,
                version,
            } => {
                let (visible, t) = self.tablet_mut(*tablet_id)?;
                for r in t
                    .replicas
                    .iter_mut()
                    .filter(|r| r.backend_id == *backend_id)
                {
                    // Only forward: a stale report never undoes a newer publish.
                    r.version = r.version.max(*version);
                    if *version >= visible {
                        r.last_failed_version = None;
                    }
                }
            }
            EditLogEntry::DropReplica {
                tablet_id,
                backend_id,
            } => {
                let (_, t) = self.tablet_mut(*tablet_id)?;
                t.replicas.retain(|r| r.backend_id != *backend_id);
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
                replicas,
                tablets,
                time,
            } => {
                self.commit_seq += 1;
                let seq = self.commit_seq;
                let d = self.db_mut(db)?;
                let txn = d
                    .transactions
                    .get_mut(txn_id)
                    .ok_or_else(|| no_txn(*txn_id))?;
                if !matches!(txn.status, TxnStatus::Prepare | TxnStatus::Precommitted) {
                    return Err(Error::internal(format!("txn {txn_id} is {}", txn.status)));
                }
                txn.status = TxnStatus::Committed;
                txn.commit_time = *time;
                txn.partition_versions = partition_versions.clone();
                txn.replicas = replicas.clone();
                if !tablets.is_empty() {
                    txn.tablets = tablets.clone();
                }
                txn.commit_seq = seq;
                let table_id = txn.table_id;
                if let Some(t) = d.tables.values_mut().find(|t| t.id == table_id) {
                    for (pid, v) in partition_versions {
                        if let Some(p) = t.partitions.iter_mut().find(|p| p.id == *pid) {
                            p.next_version = p.next_version.max(v + 1);
                        }
                    }
                }
            }
            EditLogEntry::VisibleTxn {
                db,
                txn_id,
                time,
                failed,
            } => {
                let d = self.db_mut(db)?;
                let txn = d
                    .transactions
                    .get_mut(txn_id)
                    .ok_or_else(|| no_txn(*txn_id))?;
                if txn.status != TxnStatus::Committed {
                    return Err(Error::internal(format!("txn {txn_id} is {}", txn.status)));
                }
                txn.status = TxnStatus::Visible;
                txn.finish_time = *time;
                let (table_id, versions) = (txn.table_id, txn.partition_versions.clone());
                let published: std::collections::BTreeSet<(TabletId, u64)> = txn
                    .replicas
                    .iter()
                    .filter(|r| !failed.contains(r))
                    .copied()
                    .collect();
                // Logs from before replicated loads name no replicas: all were published.
                let everyone = txn.replicas.is_empty();
                if let Some(t) = d.tables.values_mut().find(|t| t.id == table_id) {
                    for (pid, v) in versions {
                        if let Some(p) = t.partitions.iter_mut().find(|p| p.id == pid) {
                            p.visible_version = p.visible_version.max(v);
                            p.visible_version_time = *time;
                            for tablet in &mut p.index.tablets {
                                for r in &mut tablet.replicas {
                                    // Versions stay contiguous: a replica with a hole keeps
                                    // its version until a clone fills the hole.
                                    if everyone || published.contains(&(tablet.id, r.backend_id)) {
                                        if r.version + 1 == v {
                                            r.version = v;
                                        }
                                    } else if r.version < v {
                                        r.last_failed_version = Some(v);
                                        r.last_failed_time = *time;
                                    }
                                }
                            }
                        }
                    }
                }
            }
            EditLogEntry::PrecommitTxn {
                db,
                txn_id,
                replicas,
                tablets,
                time,
            } => {
                let txn = self
                    .db_mut(db)?
                    .transactions
                    .get_mut(txn_id)
                    .ok_or_else(|| no_txn(*txn_id))?;
                if txn.status != TxnStatus::Prepare {
                    return Err(Error::internal(format!("txn {txn_id} is {}", txn.status)));
                }
                txn.status = TxnStatus::Precommitted;
                txn.replicas = replicas.clone();
                txn.tablets = tablets.clone();
                txn.precommit_time = *time;
            }
            EditLogEntry::AbortTxn {
                db,
                txn_id,
                reason,
                time,
            } => {
                let d = self.db_mut(db)?;
                let txn = d
                    .transactions
                    .get_mut(txn_id)
                    .ok_or_else(|| no_txn(*txn_id))?;
                if matches!(txn.status, TxnStatus::Visible | TxnStatus::Committed) {
                    return Err(Error::internal(format!(
                        "txn {txn_id} is already {}",
                        txn.status
                    )));
                }
                txn.status = TxnStatus::Aborted;
                txn.reason = reason.clone();
                txn.finish_time = *time;
            }
            EditLogEntry::ExpireTxns { db, txn_ids } => {
                let d = self.db_mut(db)?;
                for id in txn_ids {
                    let finished = d
                        .transactions
                        .get(id)
                        .filter(|t| matches!(t.status, TxnStatus::Visible | TxnStatus::Aborted));
                    if let Some(txn) = finished.cloned() {
                        d.transactions.remove(id);
                        if d.labels.get(&txn.label) == Some(id) {
                            d.labels.remove(&txn.label);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn no_txn(id: TxnId) -> Error {
    Error::internal(format!("transaction {id} not found"))
}
