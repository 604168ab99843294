//! `basalt`: one FE and one BE in one process. They talk through the same RPC
//! over loopback as in a cluster; on first start the FE attaches the BE.

use basalt_common::config::{keys_of, write_ready_file, BeConfig, ConfigTable, FeConfig};
use std::path::PathBuf;

fn main() {
    basalt_common::run_process("basalt", run());
}

async fn run() -> basalt_common::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut table = ConfigTable::load(&args)?;
    table.check_known(&[keys_of::<FeConfig>(), keys_of::<BeConfig>()])?;
    #[derive(serde::Deserialize)]
    struct Standalone {
        #[serde(default = "default_data_dir")]
        data_dir: PathBuf,
    }
    fn default_data_dir() -> PathBuf {
        PathBuf::from("./basalt-data")
    }
    let data_dir = table.get::<Standalone>()?.data_dir;
    table.insert_default(
        "meta_dir",
        toml::Value::String(data_dir.join("fe").to_string_lossy().into()),
    );
    // One backend holds every replica: like Doris's all-in-one image, every
    // table gets one replica whatever it asks for.
    table.insert_default("force_olap_table_replication_num", toml::Value::Integer(1));
    table.insert_default(
        "storage_root_path",
        toml::Value::String(data_dir.join("be").to_string_lossy().into()),
    );
    let fe_cfg: FeConfig = table.get()?;
    let mut be_cfg: BeConfig = table.get()?;
    // The embedded BE is reached over loopback only.
    be_cfg.bind_host = "127.0.0.1".into();
    let ready_file = fe_cfg.ready_file.clone();

    let (tx, rx) = tokio::sync::watch::channel(false);
    let be = basalt_be::start(&be_cfg, rx.clone()).await?;
    let fe = basalt_fe::start(fe_cfg, rx).await?;
    attach_local_backend(&fe.fe, be.ports.heartbeat_service_port).await?;
    if let Some(path) = &ready_file {
        let mut ports = serde_json::to_value(fe.ports)?;
        if let (Some(all), serde_json::Value::Object(b)) =
            (ports.as_object_mut(), serde_json::to_value(be.ports)?)
        {
            all.extend(b);
        }
        write_ready_file(path, &ports)?;
    }
    basalt_common::shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = tx.send(true);
    fe.join().await;
    be.join().await;
    Ok(())
}

/// The first start registers the embedded BE; later starts update its port,
/// which may differ when ports are chosen at random.
async fn attach_local_backend(
    fe: &std::sync::Arc<basalt_fe::Frontend>,
    port: u16,
) -> basalt_common::Result<()> {
    basalt_fe::cluster::attach_local_backend(fe, "127.0.0.1", port).await
}
