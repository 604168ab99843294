//! Cloning a replica: the backend that needs versions pulls the published
//! rowsets it lacks from a healthy replica on another backend, file by file,
//! over that backend's control service (Flight `do_get`). Files are copied as
//! they are, so a clone costs no decoding; each is fsynced and renamed before
//! the tablet meta names it, like any other write.

use crate::storage::StorageEngine;
use basalt_common::control_client::ControlClient;
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
    let have: HashSet<Version> = local.published().filter_map(|r| r.version).collect();
    let reply = rpc
        .call(src, &ControlRequest::GetRowsets { tablet_id, version })
        .await?;
    let ControlResponse::Rowsets { rowsets } = reply else {
        return Err(Error::backend(format!(
            "unexpected reply to GetRowsets: {reply:?}"
        )));
    };
    let mut reached = local.visible_version;
    for rowset in rowsets.into_iter().filter(|r| !have.contains(&r.version)) {
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

/// File system work runs off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal(e.to_string()))?
}
