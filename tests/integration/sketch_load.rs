//! Stream Load into BITMAP and HLL columns: Doris's `uv=to_bitmap(user_id)`
//! and `uv=hll_hash(user_id)` mappings, a bitmap given as its text (`1,2,3`),
//! and the refusal of an HLL column read straight from the file.

use crate::stream_load::{row, stream_load, write, Server};
use basalt_tests::rows;
use mysql_async::prelude::Queryable;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_load_fills_bitmap_columns() {
    let s = Server::start("bitmap-load").await;
    let mut conn = s.server.connect().await;
    conn.query_drop(
        "CREATE TABLE db.uv (dt INT NOT NULL, page VARCHAR(8) NOT NULL, uv BITMAP BITMAP_UNION) \
         AGGREGATE KEY(dt, page) DISTRIBUTED BY HASH(dt) BUCKETS 2",
    )
    .await
    .unwrap();
    let file = write(&s.data, "v.csv", "1,a,10\n1,a,11\n1,b,10\n2,a,12\n1,a,10\n");
    let headers = [
        "column_separator: ,",
        "columns: dt,page,user_id,uv=to_bitmap(user_id)",
    ];
    let (_, r) = stream_load(&s.fe_url("uv"), "root:", &file, &headers);
    assert_eq!(r["Status"], "Success", "{r}");
    // A bitmap column in its text form, with a tab between columns.
    let file = write(&s.data, "t.csv", "1\tb\t11,12\n2\tb\t\n");
    let (_, r) = stream_load(&s.fe_url("uv"), "root:", &file, &[]);
    assert_eq!(r["Status"], "Success", "{r}");
    assert_eq!(
        rows(
            &mut conn,
            "SELECT dt, page, bitmap_to_string(uv), bitmap_count(uv) FROM db.uv ORDER BY dt, page"
        )
        .await,
        vec![
            row(&["1", "a", "10,11", "2"]),
            row(&["1", "b", "10,11,12", "3"]),
            row(&["2", "a", "12", "1"]),
            row(&["2", "b", "(empty)", "0"]),
        ]
    );
    // Not a bitmap's text: in strict mode the row is filtered, and the load says so.
    let file = write(&s.data, "bad.csv", "3\ta\tx,1\n");
    let (_, r) = stream_load(&s.fe_url("uv"), "root:", &file, &["strict_mode: true"]);
    assert_eq!(r["Status"], "Fail", "{r}");
    assert_eq!(r["NumberFilteredRows"], 1, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_load_fills_hll_columns() {
    let s = Server::start("hll-load").await;
    let mut conn = s.server.connect().await;
    conn.query_drop(
        "CREATE TABLE db.uv (dt INT NOT NULL, page VARCHAR(8) NOT NULL, uv HLL HLL_UNION) \
         AGGREGATE KEY(dt, page) DISTRIBUTED BY HASH(dt) BUCKETS 2",
    )
    .await
    .unwrap();
    let file = write(&s.data, "v.csv", "1,a,10\n1,a,11\n1,b,10\n2,a,12\n1,a,10\n");
    let hashed = [
        "column_separator: ,",
        "columns: dt,page,user_id,uv=hll_hash(user_id)",
    ];
    let (_, r) = stream_load(&s.fe_url("uv"), "root:", &file, &hashed);
    assert_eq!(r["Status"], "Success", "{r}");
    assert_eq!(r["NumberLoadedRows"], 5, "{r}");
    // A second load merges into the same keys; hll_empty() adds nothing.
    let file = write(&s.data, "w.csv", "1,a,12\n2,b,0\n");
    let (_, r) = stream_load(&s.fe_url("uv"), "root:", &file, &hashed);
    assert_eq!(r["Status"], "Success", "{r}");
    let empty = ["column_separator: ,", "columns: dt,page,x,uv=hll_empty()"];
    let file = write(&s.data, "e.csv", "2,c,9\n");
    let (_, r) = stream_load(&s.fe_url("uv"), "root:", &file, &empty);
    assert_eq!(r["Status"], "Success", "{r}");
    assert_eq!(
        rows(
            &mut conn,
            "SELECT dt, page, hll_cardinality(uv) FROM db.uv ORDER BY dt, page"
        )
        .await,
        vec![
            row(&["1", "a", "3"]),
            row(&["1", "b", "1"]),
            row(&["2", "a", "1"]),
            row(&["2", "b", "1"]),
            row(&["2", "c", "0"]),
        ]
    );
    assert_eq!(
        rows(&mut conn, "SELECT hll_union_agg(uv) FROM db.uv").await,
        vec![row(&["4"])]
    );
    // The file's text is no sketch: Doris refuses the load, naming the fix.
    let file = write(&s.data, "raw.csv", "3\ta\t10\n");
    let (_, r) = stream_load(&s.fe_url("uv"), "root:", &file, &[]);
    assert_eq!(r["Status"], "Fail", "{r}");
    let msg = r["Message"].as_str().unwrap_or_default();
    assert!(msg.contains("HLL column must use hll_hash function"), "{r}");
    assert_eq!(
        rows(&mut conn, "SELECT COUNT(*) FROM db.uv").await,
        vec![row(&["5"])]
    );
}
