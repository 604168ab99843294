//! `basalt-be`: a Basalt backend process.

use basalt_common::config::{keys_of, write_ready_file, BeConfig, ConfigTable};

fn main() {
    basalt_common::run_process("basalt-be", run());
}

async fn run() -> basalt_common::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let table = ConfigTable::load(&args)?;
    table.check_known(&[keys_of::<BeConfig>()])?;
    let cfg: BeConfig = table.get()?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let handle = basalt_be::start(&cfg, rx).await?;
    if let Some(path) = &cfg.ready_file {
        write_ready_file(path, &serde_json::to_value(handle.ports)?)?;
    }
    basalt_common::shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = tx.send(true);
    handle.join().await;
    Ok(())
}
