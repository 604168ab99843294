//! Where replicas go: on distinct alive backends that are not decommissioned,
//! the ones holding the fewest replicas first, then the ones with the most free disk.

use crate::Frontend;
use basalt_catalog::partition::PartitionKey;
use basalt_catalog::{CatalogState, MaterializedIndex, OlapTable, Partition, Replica, Tablet};
use basalt_common::{now_ms, Error, Result};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Replicas per backend, as the catalog places them.
pub fn replica_counts(state: &CatalogState) -> BTreeMap<u64, usize> {
    let mut counts: BTreeMap<u64, usize> = state.backends.keys().map(|id| (*id, 0)).collect();
    for p in state.tables().flat_map(|t| &t.partitions) {
        for r in p.index.tablets.iter().flat_map(|t| &t.replicas) {
            *counts.entry(r.backend_id).or_default() += 1;
        }
    }
    counts
}

/// Backends that may receive new replicas, with their current replica count.
pub fn candidates(fe: &Frontend, state: &CatalogState) -> Vec<(u64, usize)> {
    let counts = replica_counts(state);
    state
        .backends
        .values()
        .filter(|b| !b.decommissioned && fe.backends.is_alive(b.id))
        .map(|b| (b.id, counts.get(&b.id).copied().unwrap_or(0)))
        .collect()
}

/// The order in which backends receive replicas: fewest replicas, then least
/// disk used, then id (for a stable choice).
pub fn placement_key(fe: &Frontend, backend: u64, count: usize) -> (usize, u64, u64) {
    let info = fe.backends.status(backend).info;
    let used_permille = match info.total_bytes {
        0 => 0,
        total => (total - info.avail_bytes.min(total)) * 1000 / total,
    };
    (count, used_permille, backend)
}

/// A new, empty partition with one tablet per bucket, its replicas placed.
pub fn new_partition(
    fe: &Arc<Frontend>,
    table: &OlapTable,
    name: String,
    range: Option<(PartitionKey, PartitionKey)>,
    list_values: Vec<PartitionKey>,
) -> Result<Partition> {
    let buckets = table.distribution.buckets() as usize;
    let replication = table.replication_num();
    let mut pool = candidates(fe, &fe.catalog.read());
    if pool.len() < replication {
        return Err(Error::invalid(format!(
            // Doris's text, line breaks included.
            "Failed to find enough backend, please check the replication num,replication tag and storage medium and avail capacity of backends or maybe all be on same host.\nCreate failed replications:\nreplication tag: {{\"location\" : \"default\"}}, replication num: {replication}, storage medium: HDD"
        )));
    }
    let per_bucket = 1 + replication as u64;
    // Ids: partition, index, then per bucket one tablet followed by its replicas.
    let first = fe.catalog.alloc_ids(2 + buckets as u64 * per_bucket);
    // A colocated table places bucket b by a rule every table of the group
    // shares (b and the backends in id order), so bucket b of each table lands
    // on the same backends and a join on the distribution keys needs no shuffle.
    let colocated = table.colocate_group().is_some();
    pool.sort_by_key(|(id, _)| *id);
    let mut tablets = Vec::with_capacity(buckets);
    for bucket in 0..buckets {
        let chosen: Vec<u64> = if colocated {
            (0..replication)
                .map(|k| pool[(bucket + k) % pool.len()].0)
                .collect()
        } else {
            pool.sort_by_key(|(id, count)| placement_key(fe, *id, *count));
            pool.iter_mut()
                .take(replication)
                .map(|(id, count)| {
                    *count += 1;
                    *id
                })
                .collect()
        };
        let tablet_id = first + 2 + bucket as u64 * per_bucket;
        let replicas = chosen
            .into_iter()
            .enumerate()
            .map(|(k, backend)| Replica::new(tablet_id + 1 + k as u64, backend, 1))
            .collect();
        tablets.push(Tablet {
            id: tablet_id,
            replicas,
        });
    }
    Ok(Partition {
        id: first,
        name,
        range,
        list_values,
        visible_version: 1,
        next_version: 2,
        visible_version_time: now_ms(),
        index: MaterializedIndex {
            id: first + 1,
            tablets,
        },
    })
}
