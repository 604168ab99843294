//! Integration tests: one binary (to save link time) that starts real Basalt
//! processes and drives them with real clients.

mod benchmark_queries;
mod clients;
mod cluster;
mod column_stats;
mod compaction;
mod ddl;
mod durability;
mod exact_numbers;
mod expression_limits;
mod key_model_property;
mod local_cluster;
mod query_control;
mod read_profile;
mod robustness;
mod sketch_load;
mod slt_files;
mod stream_load;
mod stream_load_faults;
mod stream_load_txn;
mod two_process;
mod unique_keys;
