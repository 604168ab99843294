//! Cloning a replica: the backend that needs versions pulls the published
//! rowsets it lacks from a healthy replica on another backend, file by file,
//! over that backend's control service (Flight `do_get`). Files are copied as
//! they are, so a clone costs no decoding; each is fsynced and renamed before
//! the tablet meta names it, like any other write.

use crate::blocking;
use crate::storage::StorageEngine;
use crate::storage::TabletMeta;
use basalt_common::control_client::ControlClient;
use basalt_common::rpc::RowsetFiles;
use basalt_common::rpc::{ControlRequest, ControlResponse, FileTicket, TabletId, Version};
use basalt_common::schema::TabletSchema;
use basalt_common::{Error, Result};
use std::collections::HashSet;
use std::sync::Arc;

/// Brings the local replica of `tablet_id` up to `version` from `src`; returns
/// the replica's contiguous version afterwards.
pub async fn clone_tablet(
    engine: Arc<StorageEngine>,
    rpc: &ControlClient,
    tablet_id: TabletId,
    schema: TabletSchema,
    src: &str,
    version: Version,
) -> Result<Version> {
    blocking({
        let engine = Arc::clone(&engine);
        move || engine.create_tablet(tablet_id, schema)
    })
    .await?;
    let local = engine.tablet(tablet_id)?;
    let reply = rpc
        .call(src, &ControlRequest::GetRowsets { tablet_id, version })
        .await?;
    let ControlResponse::Rowsets { rowsets } = reply else {
        return Err(Error::backend(format!(
            "unexpected reply to GetRowsets: {reply:?}"
        )));
    };
    let rowsets = needed(&local, rowsets);
    let mut reached = local.visible_version;
    for rowset in rowsets {
        let rowset_id = engine.new_rowset_id();
        let dir = engine.tablet_dir(tablet_id);
        let mut names = Vec::with_capacity(rowset.segments.len());
        let mut bytes = 0;
        for (i, segment) in rowset.segments.iter().enumerate() {
            let name = format!("{rowset_id}_{i}.parquet");
            let tmp = dir.join(format!("{name}.tmp"));
            let mut file = std::fs::File::create(&tmp)?;
            let ticket = FileTicket {
                tablet_id,
                file: segment.clone(),
            };
            bytes += rpc.fetch_file(src, &ticket, &mut file).await?;
            let (dir, name2) = (dir.clone(), name.clone());
            blocking(move || {
                file.sync_all()?;
                std::fs::rename(&tmp, dir.join(&name2))?;
                std::fs::File::open(&dir)?.sync_all()?;
                Ok(())
            })
            .await?;
            names.push(name);
        }
        // A short copy must not become a replica with missing rows.
        if bytes != rowset.data_size {
            return Err(Error::backend(format!(
                "clone of tablet {tablet_id} version {} copied {bytes} bytes of {}",
                rowset.version, rowset.data_size
            )));
        }
        let engine = Arc::clone(&engine);
        reached = blocking(move || engine.add_cloned_rowset(tablet_id, rowset_id, &rowset, names))
            .await?;
    }
    Ok(reached)
}

/// The part of the source's rowsets (a chain from version 2) this replica
/// lacks. Both sides compact on their own, so their rowsets need not line up:
/// the copy starts at the latest source rowset that begins right after a
/// version this replica holds whole, and supersedes what the replica has from
/// there on; rowsets the replica already holds with the same versions are skipped.
fn needed(local: &TabletMeta, source: Vec<RowsetFiles>) -> Vec<RowsetFiles> {
    let visible = local.visible_version;
    let mut ends: HashSet<Version> = local
        .current()
        .filter_map(|r| r.versions())
        .filter(|(_, e)| *e <= visible)
        .map(|(_, e)| e)
        .collect();
    ends.insert(1);
    let from = source
        .iter()
        .rposition(|r| r.start_version <= visible + 1 && ends.contains(&(r.start_version - 1)))
        .unwrap_or(0);
    let have: HashSet<(Version, Version)> = local.current().filter_map(|r| r.versions()).collect();
    source
        .into_iter()
        .skip(from)
        .filter(|r| !have.contains(&(r.start_version, r.version)))
        .collect()
}
