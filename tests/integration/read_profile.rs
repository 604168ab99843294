//! What each read mechanism skipped, in the scan's profile (EXPLAIN
//! ANALYZE): zone maps of row groups and pages, bloom filters
//! (`bloom_filter_columns`), bitmap indexes, and merge-on-write delete bitmaps.

use crate::stream_load::{stream_load, write, Server};
use basalt_tests::rows;
use mysql_async::prelude::Queryable;

/// The sum of a counter over the profile's scans (DataFusion prints large
/// counts as `99.00 K`).
pub fn counter(profile: &str, name: &str) -> u64 {
    let key = format!("{name}=");
    profile
        .match_indices(&key)
        .filter_map(|(i, _)| {
            let rest = &profile[i + key.len()..];
            let end = rest.find([',', ']']).unwrap_or(rest.len());
            let text = rest[..end].trim();
            let (number, unit) = text.split_once(' ').unwrap_or((text, ""));
            let scale = match unit {
                "K" => 1e3,
                "M" => 1e6,
                "B" => 1e9,
                _ => 1.0,
            };
            number
                .parse::<f64>()
                .ok()
                .map(|n| (n * scale).round() as u64)
        })
        .sum()
}

pub async fn profile(conn: &mut mysql_async::Conn, sql: &str) -> String {
    rows(conn, &format!("EXPLAIN ANALYZE {sql}"))
        .await
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_shows_what_zone_maps_bloom_filters_bitmap_indexes_and_delete_bitmaps_skip() {
    let s = Server::start("read-profile").await;
    let mut conn = s.server.connect().await;
    conn.query_drop(
        "CREATE TABLE db.z (k INT NOT NULL, s VARCHAR(16)) DUPLICATE KEY(k) \
         DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES (\"bloom_filter_columns\" = \"s\")",
    )
    .await
    .unwrap();
    // 200,000 rows: four row groups of 64K rows, k in order, s scattered
    // over even numbers only.
    let body: String = (0..200_000u64)
        .map(|i| format!("{i},s{:07}\n", 2 * ((i * 7919) % 500_000)))
        .collect();
    let file = write(&s.data, "z.csv", &body);
    let (_, r) = stream_load(&s.fe_url("z"), "root:", &file, &["column_separator: ,"]);
    assert_eq!(r["Status"], "Success", "{r}");

    let p = profile(&mut conn, "SELECT * FROM db.z WHERE k = 150000").await;
    assert_eq!(counter(&p, "segments_read"), 1, "{p}");
    assert_eq!(counter(&p, "row_groups_skipped_by_zone_map"), 3, "{p}");
    assert!(counter(&p, "rows_skipped_by_page_zone_map") > 0, "{p}");

    // A prefix of a composite sort key narrows the scan the same way: the
    // segment is sorted by (a, b), so a's zone maps bound where a = 7 lies.
    conn.query_drop(
        "CREATE TABLE db.ab (a INT NOT NULL, b INT NOT NULL, v INT) DUPLICATE KEY(a, b) \
         DISTRIBUTED BY HASH(a) BUCKETS 1",
    )
    .await
    .unwrap();
    let body: String = (0..200_000u64)
        .map(|i| format!("{},{},{i}\n", i % 20, (i * 7919) % 1000))
        .collect();
    let file = write(&s.data, "ab.csv", &body);
    let (_, r) = stream_load(&s.fe_url("ab"), "root:", &file, &["column_separator: ,"]);
    assert_eq!(r["Status"], "Success", "{r}");
    let p = profile(&mut conn, "SELECT SUM(v) FROM db.ab WHERE a = 7").await;
    assert_eq!(counter(&p, "row_groups_skipped_by_zone_map"), 3, "{p}");
    assert!(counter(&p, "rows_skipped_by_page_zone_map") > 0, "{p}");
    let want: u64 = (0..200_000u64).filter(|i| i % 20 == 7).sum();
    assert_eq!(
        rows(&mut conn, "SELECT SUM(v) FROM db.ab WHERE a = 7").await,
        vec![vec![want.to_string()]]
    );

    // An odd s is in no row group, yet inside every row group's min and max.
    let p = profile(&mut conn, "SELECT * FROM db.z WHERE s = 's0500001'").await;
    assert_eq!(counter(&p, "row_groups_skipped_by_zone_map"), 0, "{p}");
    assert_eq!(counter(&p, "row_groups_skipped_by_bloom_filter"), 4, "{p}");
    assert_eq!(
        rows(&mut conn, "SELECT COUNT(*) FROM db.z WHERE s = 's0500001'").await,
        vec![vec!["0".to_string()]]
    );

    conn.query_drop(
        "CREATE TABLE db.u (k INT NOT NULL, v INT) UNIQUE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1",
    )
    .await
    .unwrap();
    conn.query_drop("INSERT INTO db.u VALUES (1, 1), (2, 2), (3, 3)")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO db.u VALUES (1, 10), (2, 20)")
        .await
        .unwrap();
    let p = profile(&mut conn, "SELECT * FROM db.u").await;
    assert_eq!(counter(&p, "rows_skipped_by_delete_bitmap"), 2, "{p}");

    // A bitmap index on a column of 100 values: `c = 42` decodes 1% of the rows.
    conn.query_drop(
        "CREATE TABLE db.b (k INT NOT NULL, c INT, INDEX ic (c) USING BITMAP) DUPLICATE KEY(k) \
         DISTRIBUTED BY HASH(k) BUCKETS 1",
    )
    .await
    .unwrap();
    let body: String = (0..100_000u64)
        .map(|i| format!("{i},{}\n", i % 100))
        .collect();
    let file = write(&s.data, "b.csv", &body);
    let (_, r) = stream_load(&s.fe_url("b"), "root:", &file, &["column_separator: ,"]);
    assert_eq!(r["Status"], "Success", "{r}");
    let p = profile(&mut conn, "SELECT COUNT(*) FROM db.b WHERE c = 42").await;
    assert_eq!(counter(&p, "rows_skipped_by_bitmap_index"), 99_000, "{p}");
    assert_eq!(
        rows(&mut conn, "SELECT COUNT(*), SUM(k) FROM db.b WHERE c = 42").await,
        vec![vec![
            "1000".to_string(),
            (0..1000u64).map(|j| j * 100 + 42).sum::<u64>().to_string()
        ]]
    );

    // The scan applies simple predicates itself, so no filter above it
    // re-reads `c`; where the index answers them, the count is the index's.
    let plan = rows(&mut conn, "EXPLAIN SELECT COUNT(*) FROM db.b WHERE c = 42")
        .await
        .concat()
        .join("\n");
    assert!(!plan.contains("FilterExec"), "{plan}");
    // Other predicates are still filtered above the scan, and every form agrees.
    let plan = rows(
        &mut conn,
        "EXPLAIN SELECT COUNT(*) FROM db.b WHERE c + 1 = 43",
    )
    .await
    .concat()
    .join("\n");
    assert!(plan.contains("FilterExec"), "{plan}");
    for (predicate, want) in [
        ("c = 42", 1000),
        ("c + 1 = 43", 1000),
        ("c IN (1, 2, 3) AND k < 50000", 1500),
        ("c = 42 OR k < 10", 1010),
        ("c IS NOT NULL AND c <> 5", 99_000),
        ("c = 42 AND k % 2 = 0", 1000),
        ("c = 43 AND k % 2 = 0", 0),
    ] {
        assert_eq!(
            rows(
                &mut conn,
                &format!("SELECT COUNT(*) FROM db.b WHERE {predicate}")
            )
            .await,
            vec![vec![want.to_string()]],
            "{predicate}"
        );
    }

    // Bad property values are refused.
    for bad in ["nope", "k,k"] {
        let sql = format!(
            "CREATE TABLE db.bad (k INT, f DOUBLE) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) \
             BUCKETS 1 PROPERTIES (\"bloom_filter_columns\" = \"{bad}\")"
        );
        assert!(conn.query_drop(&sql).await.is_err(), "{bad}");
    }
}
