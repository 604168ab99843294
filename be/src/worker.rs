//! The datafusion-distributed worker on `brpc_port`: it decodes the plan
//! fragments the FE sends and runs them here, next to the tablets.

use crate::storage::{EngineReader, StorageEngine};
use basalt_common::scan::{OlapScanCodec, TabletReaderExt};
use datafusion_distributed::{DistributedExt, Worker, WorkerQueryContext};
use std::sync::Arc;

pub fn worker(engine: Arc<StorageEngine>) -> Worker {
    Worker::from_session_builder(move |ctx: WorkerQueryContext| {
        let engine = Arc::clone(&engine);
        async move {
            // Keep the prepared config: it carries the task's identity.
            let mut builder = ctx.builder;
            let config = builder.config().get_or_insert_default();
            config.set_extension(Arc::new(TabletReaderExt(Arc::new(EngineReader(engine)))));
            config.set_distributed_user_codec(OlapScanCodec);
            Ok(builder.build())
        }
    })
}
