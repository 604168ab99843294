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
    // Compactions of this tablet neither start nor commit until the copy is in.
    let _cloning = engine.start_clone(tablet_id);
    let local = engine.tablet(tablet_id)?;
    let reply = rpc
        .call(src, &ControlRequest::GetRowsets { tablet_id, version })
        .await?;
    let ControlResponse::Rowsets { rowsets } = reply else {
        return Err(Error::backend(format!(
            "unexpected reply to GetRowsets: {reply:?}"
        )));
    };
    let mut copied = Vec::new();
    for rowset in needed(&local, rowsets) {
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
        copied.push((rowset_id, rowset, names));
    }
    // All at once, so the replica never holds part of the copied chain.
    blocking(move || engine.add_cloned_rowsets(tablet_id, copied)).await
}

/// The part of the source's rowsets (a chain from version 2) this replica
/// lacks. Both sides compact on their own, so their rowsets need not line up:
/// the copy starts at the latest source rowset that begins right after a
/// version this replica holds whole, and supersedes what the replica has from
/// there on; rowsets the replica already holds with the same versions are skipped.
fn needed(local: &TabletMeta, source: Vec<RowsetFiles>) -> Vec<RowsetFiles> {
    let visible = local.visible_version;
    let mut ends: HashSet<Version> = local
        .path(visible)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.version)
        .collect();
    ends.insert(1);
    // A source of an older build sends no start: a load's own version.
    let source: Vec<RowsetFiles> = source
        .into_iter()
        .map(|mut r| {
            if r.start_version == 0 {
                r.start_version = r.version;
            }
            r
        })
        .collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::RowsetMeta;

    fn local(ranges: &[(Version, Version)]) -> TabletMeta {
        let mut t = TabletMeta {
            tablet_id: 1,
            schema: crate::storage::tests::schema(),
            rowsets: Vec::new(),
            visible_version: 1,
            mow_version: 1,
        };
        for (i, (s, e)) in ranges.iter().enumerate() {
            let mut r = RowsetMeta::new(i as u64, 0);
            (r.start_version, r.version) = (*s, Some(*e));
            t.rowsets.push(r);
        }
        t.refresh_visible();
        t
    }

    fn source(ranges: &[(Version, Version)]) -> Vec<RowsetFiles> {
        ranges
            .iter()
            .map(|(s, e)| RowsetFiles {
                delete_predicate: None,
                start_version: *s,
                version: *e,
                segments: Vec::new(),
                num_rows: 0,
                data_size: 0,
            })
            .collect()
    }

    fn copied(local: &TabletMeta, src: &[(Version, Version)]) -> Vec<(Version, Version)> {
        needed(local, source(src))
            .iter()
            .map(|r| (r.start_version, r.version))
            .collect()
    }

    #[test]
    fn the_copy_starts_where_both_sides_line_up() {
        // The replica missed version 10; the source compacted differently.
        let t = local(&[(2, 2), (3, 9), (11, 11)]);
        assert_eq!(t.visible_version, 9);
        assert_eq!(
            copied(&t, &[(2, 2), (3, 7), (8, 11)]),
            vec![(3, 7), (8, 11)]
        );
        // Only version 1 lines up: everything is copied.
        let t = local(&[(2, 4), (5, 7)]);
        assert_eq!(
            copied(&t, &[(2, 3), (4, 5), (6, 8)]),
            vec![(2, 3), (4, 5), (6, 8)]
        );
        // Rowsets the replica holds alike are skipped.
        let t = local(&[(2, 5), (6, 6)]);
        assert_eq!(copied(&t, &[(2, 5), (6, 6), (7, 8)]), vec![(7, 8)]);
    }
}
