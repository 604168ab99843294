//! Doris's TabletScheduler: every round it reconciles the backends' tablet
//! reports with the catalog, then looks at every tablet and
//! - catches up a replica that missed versions, by cloning them from a
//!   complete replica (VERSION_INCOMPLETE);
//! - re-creates replicas of backends dead longer than
//!   `tablet_repair_delay_factor_second`, or decommissioned, on other backends
//!   (REPLICA_MISSING, REPLICA_RELOCATING);
//! - removes replicas beyond `replication_num` once enough are healthy (REDUNDANT);
//! - when nothing needs repair, moves replicas from the fullest backend to the
//!   emptiest (balancing: a clone, then the surplus replica is redundant).

use super::placement::{candidates, placement_key};
use crate::Frontend;
use basalt_catalog::{CatalogState, EditLogEntry, Replica, Tablet};
use basalt_common::rpc::{ControlRequest, ControlResponse, TabletId, TabletInfo, Version};
use basalt_common::schema::TabletSchema;
use basalt_common::{now_ms, Error, Result};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Clones started per round; a round waits for its clones before the next one.
const CLONES_PER_ROUND: usize = 8;

/// Doris's tablet health states, as `SHOW PROC '/cluster_health/tablet_health'` counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TabletHealth {
    Healthy,
    ReplicaMissing,
    VersionIncomplete,
    ReplicaRelocating,
    Redundant,
    Unrecoverable,
}

/// One replica as the scheduler sees it.
struct ReplicaView {
    backend: u64,
    alive: bool,
    decommissioned: bool,
    /// Dead longer than the repair delay: its data is given up on.
    dead_long: bool,
    complete: bool,
}

impl ReplicaView {
    fn usable(&self) -> bool {
        self.alive && !self.decommissioned
    }
}

fn views(
    fe: &Frontend,
    state: &CatalogState,
    tablet: &Tablet,
    visible: Version,
) -> Vec<ReplicaView> {
    let now = now_ms();
    let delay_ms = fe.config.tablet_repair_delay_factor_second as i64 * 1000;
    tablet
        .replicas
        .iter()
        .map(|r| {
            let status = fe.backends.status(r.backend_id);
            let backend = state.backends.get(&r.backend_id);
            // Dead time counts from this FE's start at the earliest.
            let dead_since = status.last_alive_ms.max(fe.start_time_ms);
            ReplicaView {
                backend: r.backend_id,
                alive: backend.is_some() && status.alive,
                decommissioned: backend.is_none_or(|b| b.decommissioned),
                dead_long: !status.alive && now - dead_since >= delay_ms,
                complete: r.is_complete(visible),
            }
        })
        .collect()
}

/// The health of one tablet (the first problem found, in repair order).
pub fn tablet_health(
    fe: &Frontend,
    state: &CatalogState,
    tablet: &Tablet,
    visible: Version,
    replication: usize,
) -> TabletHealth {
    classify(&views(fe, state, tablet, visible), replication)
}

fn classify(views: &[ReplicaView], replication: usize) -> TabletHealth {
    if !views.iter().any(|v| v.alive && v.complete) {
        return TabletHealth::Unrecoverable;
    }
    if views.iter().any(|v| v.usable() && !v.complete) {
        return TabletHealth::VersionIncomplete;
    }
    let kept = views
        .iter()
        .filter(|v| v.usable() || (!v.alive && !v.dead_long && !v.decommissioned))
        .count();
    if kept < replication {
        return if views.iter().any(|v| v.decommissioned) {
            TabletHealth::ReplicaRelocating
        } else {
            TabletHealth::ReplicaMissing
        };
    }
    let healthy = views.iter().filter(|v| v.usable() && v.complete).count();
    if views.len() > replication && healthy >= replication {
        return TabletHealth::Redundant;
    }
    TabletHealth::Healthy
}

/// Copy the versions `dst` lacks from `src`; `new` adds `dst` as a replica.
struct CloneTask {
    tablet_id: TabletId,
    schema: TabletSchema,
    src: u64,
    dst: u64,
    version: Version,
    new: bool,
}

enum Task {
    Clone(CloneTask),
    /// Forget a replica; its backend drops the files at its next tablet report.
    Drop {
        tablet_id: TabletId,
        backend: u64,
    },
}

pub async fn run(fe: Arc<Frontend>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let interval = Duration::from_millis(fe.config.tablet_checker_interval_ms.max(100));
    while basalt_common::sleep_or_shutdown(interval, &mut shutdown).await {
        reconcile_reports(&fe).await;
        let tasks = plan(&fe);
        futures::future::join_all(tasks.into_iter().map(|t| execute(&fe, t))).await;
        drop_drained_backends(&fe);
    }
}

fn plan(fe: &Frontend) -> Vec<Task> {
    let state = fe.catalog.read();
    let mut pool = candidates(fe, &state);
    let mut tasks = Vec::new();
    let mut clones = 0;
    let mut unhealthy = false;
    // Replicas a committed (or precommitted) load still has to publish on are not dropped.
    let publishing: HashSet<TabletId> = state
        .databases
        .values()
        .flat_map(|d| d.transactions.values())
        .filter(|t| {
            matches!(
                t.status,
                basalt_catalog::TxnStatus::Committed | basalt_catalog::TxnStatus::Precommitted
            )
        })
        .flat_map(|t| t.replicas.iter().map(|r| r.0))
        .collect();
    for table in state.tables() {
        let replication = table.replication_num();
        for p in &table.partitions {
            for tablet in &p.index.tablets {
                let views = views(fe, &state, tablet, p.visible_version);
                let health = classify(&views, replication);
                if health != TabletHealth::Healthy {
                    unhealthy = true;
                }
                // A complete replica to copy from, preferably on a backend that stays.
                let src = views
                    .iter()
                    .filter(|v| v.alive && v.complete)
                    .min_by_key(|v| v.decommissioned)
                    .map(|v| v.backend);
                let clone = |dst: u64, new: bool| {
                    Task::Clone(CloneTask {
                        tablet_id: tablet.id,
                        schema: table.schema.clone(),
                        src: src.unwrap_or_default(),
                        dst,
                        version: p.visible_version,
                        new,
                    })
                };
                match health {
                    TabletHealth::Healthy | TabletHealth::Unrecoverable => {}
                    _ if clones >= CLONES_PER_ROUND => {}
                    TabletHealth::VersionIncomplete => {
                        if let Some(v) = views.iter().find(|v| v.usable() && !v.complete) {
                            tasks.push(clone(v.backend, false));
                            clones += 1;
                        }
                    }
                    TabletHealth::ReplicaMissing | TabletHealth::ReplicaRelocating => {
                        let holders: HashSet<u64> = views.iter().map(|v| v.backend).collect();
                        pool.sort_by_key(|(id, n)| placement_key(fe, *id, *n));
                        if let Some((dst, n)) =
                            pool.iter_mut().find(|(id, _)| !holders.contains(id))
                        {
                            *n += 1;
                            tasks.push(clone(*dst, true));
                            clones += 1;
                        }
                    }
                    TabletHealth::Redundant if publishing.contains(&tablet.id) => {}
                    TabletHealth::Redundant => {
                        let counts: HashMap<u64, usize> = pool.iter().copied().collect();
                        // Dead first, then decommissioned, then behind, then the fullest backend.
                        let victim = views.iter().max_by_key(|v| {
                            (
                                !v.alive,
                                v.decommissioned,
                                !v.complete,
                                counts.get(&v.backend).copied().unwrap_or(0),
                            )
                        });
                        if let Some(v) = victim {
                            tasks.push(Task::Drop {
                                tablet_id: tablet.id,
                                backend: v.backend,
                            });
                        }
                    }
                }
            }
        }
    }
    if !unhealthy {
        tasks.extend(balance(fe, &state, pool));
    }
    tasks
}

/// Moves replicas from the backend with the most to the one with the fewest,
/// while they differ by more than one.
fn balance(fe: &Frontend, state: &CatalogState, mut pool: Vec<(u64, usize)>) -> Vec<Task> {
    let mut tasks = Vec::new();
    let mut moved: HashSet<TabletId> = HashSet::new();
    while tasks.len() < CLONES_PER_ROUND && pool.len() > 1 {
        pool.sort_by_key(|(id, n)| placement_key(fe, *id, *n));
        let (low, high) = (pool[0], pool[pool.len() - 1]);
        if high.1 < low.1 + 2 {
            break;
        }
        let found = state
            .tables()
            .flat_map(|t| t.partitions.iter().map(move |p| (t, p)))
            .flat_map(|(t, p)| p.index.tablets.iter().map(move |tb| (t, p, tb)))
            .find(|(t, p, tb)| {
                // Moving one colocated tablet would split its bucket from the group's.
                t.colocate_group().is_none()
                    && !moved.contains(&tb.id)
                    && tb.replicas.len() == t.replication_num()
                    && tb.replicas.iter().any(|r| r.backend_id == high.0)
                    && tb.replicas.iter().all(|r| r.backend_id != low.0)
                    && tb.replicas.iter().all(|r| r.is_complete(p.visible_version))
            });
        let Some((t, p, tb)) = found else { break };
        moved.insert(tb.id);
        tasks.push(Task::Clone(CloneTask {
            tablet_id: tb.id,
            schema: t.schema.clone(),
            src: high.0,
            dst: low.0,
            version: p.visible_version,
            new: true,
        }));
        pool[0].1 += 1;
        let last = pool.len() - 1;
        pool[last].1 -= 1;
    }
    tasks
}

async fn execute(fe: &Arc<Frontend>, task: Task) {
    let result = match task {
        Task::Clone(task) => clone(fe, task).await,
        Task::Drop { tablet_id, backend } => fe.catalog.log(EditLogEntry::DropReplica {
            tablet_id,
            backend_id: backend,
        }),
    };
    if let Err(e) = result {
        tracing::warn!("tablet scheduler: {e}");
    }
}

async fn clone(fe: &Arc<Frontend>, task: CloneTask) -> Result<()> {
    let CloneTask {
        tablet_id,
        schema,
        src,
        dst,
        version,
        new,
    } = task;
    let addrs = fe.backend_addrs();
    let (Some(src_addr), Some(dst_addr)) = (addrs.get(&src), addrs.get(&dst)) else {
        return Err(Error::internal("clone between unknown backends"));
    };
    let _creating = new.then(|| fe.creating.hold(&[(tablet_id, dst)]));
    fe.cloning.fetch_add(1, Ordering::Relaxed);
    let reply = fe
        .backends
        .rpc
        .call_within(
            dst_addr,
            &ControlRequest::CloneTablet {
                tablet_id,
                schema,
                src: src_addr.clone(),
                version,
            },
            basalt_common::control_client::CLONE_TIMEOUT,
        )
        .await;
    fe.cloning.fetch_sub(1, Ordering::Relaxed);
    let version = match reply? {
        ControlResponse::Cloned { version } => version,
        other => return Err(Error::internal(format!("unexpected clone reply {other:?}"))),
    };
    if new {
        let id = fe.catalog.alloc_ids(1);
        fe.catalog.log(EditLogEntry::AddReplica {
            tablet_id,
            replica: Replica::new(id, dst, version),
        })
    } else {
        fe.catalog.log(EditLogEntry::UpdateReplica {
            tablet_id,
            backend_id: dst,
            version,
        })
    }
}

/// A decommissioned backend that holds no replica any more leaves the cluster.
fn drop_drained_backends(fe: &Frontend) {
    let drained: Vec<u64> = {
        let state = fe.catalog.read();
        let counts = super::placement::replica_counts(&state);
        state
            .backends
            .values()
            .filter(|b| b.decommissioned && counts.get(&b.id).copied().unwrap_or(0) == 0)
            .map(|b| b.id)
            .collect()
    };
    for id in drained {
        tracing::info!("backend {id} is decommissioned and drained: dropping it");
        if let Err(e) = fe.catalog.log(EditLogEntry::DropBackend { id }) {
            tracing::warn!("dropping decommissioned backend {id}: {e}");
        }
    }
}

/// Asks each alive backend for its tablet report when one is due (periodically,
/// and at once after the backend restarted), and reconciles it with the catalog.
async fn reconcile_reports(fe: &Arc<Frontend>) {
    let now = now_ms();
    let interval = fe.config.tablet_report_interval_second as i64 * 1000;
    let due: Vec<(u64, String, i64)> = {
        let state = fe.catalog.read();
        state
            .backends
            .values()
            .filter_map(|b| {
                let s = fe.backends.status(b.id);
                let restarted = s.reported_start_ms != s.info.start_time_ms;
                (s.alive && (restarted || now - s.last_report_ms >= interval))
                    .then(|| (b.id, b.heartbeat_addr(), s.info.start_time_ms))
            })
            .collect()
    };
    for (backend, addr, start) in due {
        // The catalog is read before the report: a replica it lists was created
        // before the backend answered, so a report without it means it is lost.
        let expected = replicas_on(&fe.catalog.read(), backend);
        let creating_before = fe.creating.snapshot();
        let reply = fe
            .backends
            .rpc
            .call(&addr, &ControlRequest::ReportTablets)
            .await;
        let Ok(ControlResponse::Tablets { tablets: held }) = reply else {
            continue;
        };
        let mut creating = fe.creating.snapshot();
        creating.extend(creating_before);
        if let Err(e) = reconcile(fe, backend, &addr, &expected, held, &creating).await {
            tracing::warn!("reconciling the tablet report of backend {backend}: {e}");
        }
        fe.backends.set_status(backend, |s| {
            s.last_report_ms = now;
            s.reported_start_ms = start;
        });
    }
}

/// Per tablet with a replica on `backend`: the replica's version and the partition's.
fn replicas_on(state: &CatalogState, backend: u64) -> BTreeMap<TabletId, (Version, Version)> {
    let mut out = BTreeMap::new();
    for p in state.tables().flat_map(|t| &t.partitions) {
        for t in &p.index.tablets {
            if let Some(r) = t.replicas.iter().find(|r| r.backend_id == backend) {
                out.insert(t.id, (r.version, p.visible_version));
            }
        }
    }
    out
}

async fn reconcile(
    fe: &Arc<Frontend>,
    backend: u64,
    addr: &str,
    expected: &BTreeMap<TabletId, (Version, Version)>,
    held: Vec<TabletInfo>,
    creating: &HashSet<(TabletId, u64)>,
) -> Result<()> {
    let held: HashMap<TabletId, TabletInfo> = held.into_iter().map(|t| (t.tablet_id, t)).collect();
    fe.backends.set_report(backend, held.clone());
    for (tablet_id, (version, visible)) in expected {
        match held.get(tablet_id) {
            None if !creating.contains(&(*tablet_id, backend)) => {
                tracing::warn!("backend {backend} lost tablet {tablet_id}");
                fe.catalog.log(EditLogEntry::DropReplica {
                    tablet_id: *tablet_id,
                    backend_id: backend,
                })?;
            }
            // The backend holds more than the catalog knows (a publish whose reply was lost).
            Some(info) if info.version > *version => {
                fe.catalog.log(EditLogEntry::UpdateReplica {
                    tablet_id: *tablet_id,
                    backend_id: backend,
                    version: info.version.min(*visible),
                })?;
            }
            _ => {}
        }
    }
    // Tablets the catalog does not place here: dropped tables, removed replicas.
    let current = replicas_on(&fe.catalog.read(), backend);
    for tablet_id in held.keys() {
        if !expected.contains_key(tablet_id)
            && !current.contains_key(tablet_id)
            && !creating.contains(&(*tablet_id, backend))
        {
            let req = ControlRequest::DropTablet {
                tablet_id: *tablet_id,
            };
            fe.backends.rpc.call(addr, &req).await?;
        }
    }
    Ok(())
}
