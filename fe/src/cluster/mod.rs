//! Cluster management: backends joining and leaving (`ALTER SYSTEM`), where
//! replicas go, and the tablet scheduler that repairs and balances them.

pub mod placement;
pub mod scheduler;

use crate::session::Session;
use crate::sql::ast::AlterSystem;
use crate::Frontend;
use basalt_catalog::{Backend, EditLogEntry};
use basalt_common::{Error, ErrorKind, Result};
use std::sync::Arc;

pub async fn alter_system(session: &Session, op: AlterSystem) -> Result<()> {
    // Doris needs the NODE privilege; root is the only user that has it for now.
    if session.user != "root" {
        return Err(Error::new(
            ErrorKind::SpecificAccessDenied,
            "Access denied; you need (at least one of) the (NODE) privilege(s) for this operation",
        ));
    }
    let fe = &session.fe;
    match op {
        AlterSystem::AddBackends(hosts) => {
            for host in hosts {
                add_backend(fe, &host).await?;
            }
        }
        AlterSystem::DropBackends { force: false, .. } => {
            return Err(Error::invalid(
                "It is highly NOT RECOMMENDED to use DROP BACKEND stmt.It is not safe to directly drop a backend. All data on this backend will be discarded permanently. If you insist, use DROPP instead of DROP",
            ));
        }
        AlterSystem::DropBackends {
            force: true,
            backends,
        } => {
            for id in find_backends(fe, &backends)? {
                fe.catalog.log(EditLogEntry::DropBackend { id })?;
            }
        }
        AlterSystem::Decommission(backends) => {
            let ids = find_backends(fe, &backends)?;
            check_room_after_decommission(fe, &ids)?;
            for id in ids {
                fe.catalog.log(EditLogEntry::DecommissionBackend {
                    id,
                    decommissioned: true,
                })?;
            }
        }
        AlterSystem::CancelDecommission(backends) => {
            for id in find_backends(fe, &backends)? {
                fe.catalog.log(EditLogEntry::DecommissionBackend {
                    id,
                    decommissioned: false,
                })?;
            }
        }
    }
    Ok(())
}

/// Backend ids for `"host:port"` or id strings; every one must exist.
fn find_backends(fe: &Frontend, names: &[String]) -> Result<Vec<u64>> {
    let state = fe.catalog.read();
    names
        .iter()
        .map(|name| {
            state
                .backends
                .values()
                .find(|b| b.id.to_string() == *name || b.heartbeat_addr() == *name)
                .map(|b| b.id)
                .ok_or_else(|| Error::invalid(format!("Backend does not exist[{name}]")))
        })
        .collect()
}

/// Decommissioning must leave enough backends to hold every tablet's replicas.
fn check_room_after_decommission(fe: &Frontend, leaving: &[u64]) -> Result<()> {
    let state = fe.catalog.read();
    let remaining = state
        .backends
        .values()
        .filter(|b| !b.decommissioned && !leaving.contains(&b.id))
        .count();
    let needed = state
        .tables()
        .map(|t| t.replication_num())
        .max()
        .unwrap_or(0);
    if remaining < needed {
        return Err(Error::invalid(format!(
            "No enough backend to hold the replicas after decommission: {remaining} backends would remain, a table needs {needed} replicas"
        )));
    }
    Ok(())
}

/// `ALTER SYSTEM ADD BACKEND "host:heartbeat_port"`: the backend must answer a heartbeat.
pub async fn add_backend(fe: &Arc<Frontend>, host_port: &str) -> Result<u64> {
    let (host, port) = host_port
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
        .ok_or_else(|| Error::invalid(format!("Invalid host port format: {host_port}")))?;
    if fe
        .catalog
        .read()
        .backends
        .values()
        .any(|b| b.host == host && b.heartbeat_port == port)
    {
        return Err(Error::invalid(format!(
            "Same backend already exists[{host}:{port}]"
        )));
    }
    let id = fe.catalog.alloc_ids(1);
    let mut backend = Backend {
        id,
        host,
        heartbeat_port: port,
        http_port: 0,
        brpc_port: 0,
        decommissioned: false,
    };
    let info = fe
        .backends
        .heartbeat(&backend, 1, fe.master_info())
        .await
        .map_err(|e| {
            Error::backend(format!(
                "backend {host_port} did not answer the heartbeat: {}",
                e.message
            ))
        })?;
    backend.http_port = info.http_port;
    backend.brpc_port = info.brpc_port;
    fe.catalog.log(EditLogEntry::AddBackend { backend })?;
    Ok(id)
}

/// The standalone binary's embedded BE: registered on first start; on later starts
/// the entry is re-pointed at the BE's current port (a random port changes).
pub async fn attach_local_backend(fe: &Arc<Frontend>, host: &str, port: u16) -> Result<()> {
    let existing: Vec<Backend> = fe.catalog.read().backends.values().cloned().collect();
    match existing.as_slice() {
        [] => add_backend(fe, &format!("{host}:{port}")).await.map(|_| ()),
        [only] => {
            let mut backend = only.clone();
            backend.host = host.to_string();
            backend.heartbeat_port = port;
            let info = fe.backends.heartbeat(&backend, 1, fe.master_info()).await?;
            backend.http_port = info.http_port;
            backend.brpc_port = info.brpc_port;
            fe.catalog.log(EditLogEntry::AddBackend { backend })
        }
        _ => Err(Error::invalid(
            "the standalone data directory holds more than one backend",
        )),
    }
}

/// Replicas (tablet, backend) being created on their backend but not yet in the
/// catalog; tablet reports must not mistake them for leftovers.
#[derive(Default)]
pub struct CreatingReplicas(std::sync::Mutex<std::collections::HashSet<(u64, u64)>>);

/// Removes its replicas from the set when dropped (the catalog entry is logged or failed).
pub struct CreatingGuard<'a> {
    set: &'a CreatingReplicas,
    replicas: Vec<(u64, u64)>,
}

impl CreatingReplicas {
    pub fn hold(&self, replicas: &[(u64, u64)]) -> CreatingGuard<'_> {
        self.lock().extend(replicas.iter().copied());
        CreatingGuard {
            set: self,
            replicas: replicas.to_vec(),
        }
    }

    pub fn snapshot(&self) -> std::collections::HashSet<(u64, u64)> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<(u64, u64)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for CreatingGuard<'_> {
    fn drop(&mut self) {
        let mut set = self.set.lock();
        for r in &self.replicas {
            set.remove(r);
        }
    }
}
