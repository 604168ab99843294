//! Garbage, truncated, out-of-order and oversized packets on raw sockets close
//! only their own connection; the server keeps answering well-behaved clients.

use basalt_tests::{rows, Process, TempDir};
use mysql_async::prelude::Queryable;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn raw(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn read_packet(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut h = [0u8; 4];
    s.read_exact(&mut h).ok()?;
    let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
    let mut body = vec![0; len];
    s.read_exact(&mut body).ok()?;
    Some((h[3], body))
}

fn write_packet(s: &mut TcpStream, seq: u8, body: &[u8]) {
    let len = (body.len() as u32).to_le_bytes();
    let _ = s.write_all(&[len[0], len[1], len[2], seq]);
    let _ = s.write_all(body);
}

/// Logs in as root over a raw socket (empty password, protocol 4.1).
fn login(port: u16) -> TcpStream {
    let mut s = raw(port);
    let (_, greeting) = read_packet(&mut s).expect("server greeting");
    assert_eq!(greeting[0], 10, "handshake v10");
    let caps: u32 = 0x0000_0200 | 0x0000_8000 | 0x0008_0000 | 0x0100_0000;
    let mut body = caps.to_le_bytes().to_vec();
    body.extend((1u32 << 24).to_le_bytes());
    body.push(45);
    body.extend([0u8; 23]);
    body.extend(b"root\0");
    body.push(0);
    body.extend(b"mysql_native_password\0");
    write_packet(&mut s, 1, &body);
    let (_, ok) = read_packet(&mut s).expect("login reply");
    assert_eq!(ok[0], 0, "login OK");
    s
}

/// The connection is closed by the server (EOF or reset), not left hanging.
fn closed(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return true,
            Ok(_) => continue, // an error packet may come first
        }
    }
}

async fn still_serves(server: &Process) {
    let mut conn = server.connect().await;
    assert_eq!(
        rows(&mut conn, "SELECT 1 + 1").await,
        vec![vec!["2".to_string()]]
    );
    assert_eq!(
        rows(&mut conn, "SELECT COUNT(*) FROM rb.t").await,
        vec![vec!["3".to_string()]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_packets_close_only_their_connection() {
    let dir = TempDir::new("robust");
    let server = Process::standalone_with(dir.path(), &["--max-allowed-packet", "1048576"]);
    let port = server.port("query_port");
    let mut conn = server.connect().await;
    conn.query_drop("CREATE DATABASE rb").await.unwrap();
    conn.query_drop("CREATE TABLE rb.t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO rb.t VALUES (1), (2), (3)")
        .await
        .unwrap();

    // Every greeting carries a fresh salt and a new connection id.
    let greeting = |p: u16| {
        let mut s = raw(p);
        let (_, g) = read_packet(&mut s).unwrap();
        let version_end = g.iter().skip(1).position(|b| *b == 0).unwrap() + 2;
        let id = g[version_end..version_end + 4].to_vec();
        let salt = g[version_end + 4..version_end + 12].to_vec();
        (id, salt)
    };
    let (id1, salt1) = greeting(port);
    let (id2, salt2) = greeting(port);
    assert_ne!(id1, id2);
    assert_ne!(salt1, salt2);

    // Garbage instead of a handshake response.
    let mut s = raw(port);
    read_packet(&mut s).unwrap();
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let _ = s.write_all(&garbage);
    assert!(closed(&mut s));
    still_serves(&server).await;

    // A handshake response cut short.
    let mut s = raw(port);
    read_packet(&mut s).unwrap();
    write_packet(&mut s, 1, &[0x85, 0xa6]);
    assert!(closed(&mut s));
    still_serves(&server).await;

    // A packet header promising more than ever arrives, then the client vanishes.
    let mut s = login(port);
    let _ = s.write_all(&[0xff, 0xff, 0x00, 0x00, 0x03, b'S']);
    drop(s);
    still_serves(&server).await;

    // A packet over max_allowed_packet (1 MiB here) gets MySQL's error 1153,
    // as the reply to the client's packet, then a close.
    let mut s = login(port);
    let mut big = vec![0x03];
    big.extend(std::iter::repeat_n(b'x', 2 << 20));
    write_packet(&mut s, 0, &big[..(0xff_ffff).min(big.len())]);
    let (seq, err) = read_packet(&mut s).expect("error 1153");
    assert_eq!((seq, &err[..3]), (1, &[0xff, 0x81, 0x04][..]), "1153");
    assert!(String::from_utf8_lossy(&err).contains("max_allowed_packet"));
    assert!(closed(&mut s));
    still_serves(&server).await;
    // The same through the mysql client, which sizes nothing by the server.
    let mut cli = std::process::Command::new("mysql")
        .args(["-h", "127.0.0.1", "-P", &port.to_string(), "-u", "root"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the mysql client");
    let query = format!("SELECT LENGTH('{}');\n", "x".repeat(2 << 20));
    let _ = cli.stdin.take().unwrap().write_all(query.as_bytes());
    let out = cli.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ERROR 1153"), "{stderr}");
    still_serves(&server).await;

    // A wrong sequence id.
    let mut s = login(port);
    write_packet(&mut s, 7, b"\x03SELECT 1");
    assert!(closed(&mut s));
    still_serves(&server).await;

    // An unknown command gets error 1047 and the connection stays usable.
    let mut s = login(port);
    write_packet(&mut s, 0, &[0x42]);
    let (_, err) = read_packet(&mut s).unwrap();
    assert_eq!(err[0], 0xff);
    assert_eq!(u16::from_le_bytes([err[1], err[2]]), 1047);
    write_packet(&mut s, 0, &[0x0e]); // COM_PING
    let (_, ok) = read_packet(&mut s).unwrap();
    assert_eq!(ok[0], 0);
    // COM_INIT_DB then COM_FIELD_LIST: one column definition, then the end marker.
    write_packet(&mut s, 0, b"\x02rb");
    assert_eq!(read_packet(&mut s).unwrap().1[0], 0);
    write_packet(&mut s, 0, b"\x04t\0");
    let (_, def) = read_packet(&mut s).unwrap();
    assert!(
        def.starts_with(b"\x03def") && def.windows(2).any(|w| w == b"\x01k"),
        "{def:?}"
    );
    assert_eq!(read_packet(&mut s).unwrap().1[0], 0xfe);
    // COM_STMT_PREPARE, COM_STMT_RESET and COM_STMT_CLOSE (which has no reply).
    write_packet(&mut s, 0, b"\x16SELECT k FROM rb.t WHERE k = ?");
    let (_, prep) = read_packet(&mut s).unwrap();
    assert_eq!(prep[0], 0);
    assert_eq!(u16::from_le_bytes([prep[7], prep[8]]), 1, "one parameter");
    let id = [prep[1], prep[2], prep[3], prep[4]];
    read_packet(&mut s).unwrap(); // the parameter's definition
    let mut reset = vec![0x1a];
    reset.extend(id);
    write_packet(&mut s, 0, &reset);
    assert_eq!(read_packet(&mut s).unwrap().1[0], 0);
    let mut close = vec![0x19];
    close.extend(id);
    write_packet(&mut s, 0, &close);
    write_packet(&mut s, 0, &reset);
    let (_, err) = read_packet(&mut s).unwrap();
    assert_eq!(err[0], 0xff, "the closed statement is gone");
    // An empty packet is an error, not a crash.
    write_packet(&mut s, 0, &[]);
    let (_, err) = read_packet(&mut s).unwrap();
    assert_eq!(err[0], 0xff);
    still_serves(&server).await;
}
