//! Basalt's MySQL protocol layer on mysql_common (DESIGN.md section 11 says why
//! not opensrv-mysql). It only translates the wire format: every statement goes
//! to the protocol-neutral [`Session`].

mod conn;
mod prepared;
mod resultset;

use crate::session::{QueryResult, Session};
use crate::Frontend;
use basalt_common::{Error, ErrorKind};
use conn::Conn;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::io::{BufMutExt, ParseBuf};
use mysql_common::packets::{HandshakePacket, HandshakeResponse};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The MySQL code and SQLSTATE of each error kind: the one place they are mapped.
pub fn error_code(kind: ErrorKind) -> u16 {
    error_code_state(kind).0
}

fn error_code_state(kind: ErrorKind) -> (u16, &'static str) {
    match kind {
        ErrorKind::Syntax => (1064, "42000"),
        ErrorKind::UnknownDatabase => (1049, "42000"),
        ErrorKind::UnknownTable => (1146, "42S02"),
        ErrorKind::UnknownColumn => (1054, "42S22"),
        ErrorKind::TableExists => (1050, "42S01"),
        ErrorKind::DatabaseExists => (1007, "HY000"),
        ErrorKind::AccessDenied => (1045, "28000"),
        ErrorKind::SpecificAccessDenied => (1227, "42000"),
        ErrorKind::NoDatabaseSelected => (1046, "3D000"),
        ErrorKind::UnknownVariable => (1193, "HY000"),
        ErrorKind::WrongValueForVariable => (1231, "42000"),
        ErrorKind::ColumnCountMismatch => (1136, "21S01"),
        ErrorKind::DuplicateColumn => (1060, "42S21"),
        ErrorKind::UnknownThread => (1094, "HY000"),
        ErrorKind::KillDenied => (1095, "HY000"),
        ErrorKind::LabelAlreadyExists
        | ErrorKind::InvalidInput
        | ErrorKind::NotSupported
        | ErrorKind::Backend
        | ErrorKind::Internal => (1105, "HY000"),
    }
}

const SERVER_CAPABILITIES: CapabilityFlags = CapabilityFlags::CLIENT_LONG_PASSWORD
    .union(CapabilityFlags::CLIENT_FOUND_ROWS)
    .union(CapabilityFlags::CLIENT_LONG_FLAG)
    .union(CapabilityFlags::CLIENT_CONNECT_WITH_DB)
    .union(CapabilityFlags::CLIENT_PROTOCOL_41)
    .union(CapabilityFlags::CLIENT_TRANSACTIONS)
    .union(CapabilityFlags::CLIENT_SECURE_CONNECTION)
    .union(CapabilityFlags::CLIENT_MULTI_STATEMENTS)
    .union(CapabilityFlags::CLIENT_MULTI_RESULTS)
    .union(CapabilityFlags::CLIENT_PS_MULTI_RESULTS)
    .union(CapabilityFlags::CLIENT_PLUGIN_AUTH)
    .union(CapabilityFlags::CLIENT_CONNECT_ATTRS)
    .union(CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)
    .union(CapabilityFlags::CLIENT_DEPRECATE_EOF);

const NATIVE_PASSWORD: &[u8] = b"mysql_native_password";
/// utf8mb4_general_ci
const DEFAULT_COLLATION: u8 = 45;

pub async fn serve(fe: Arc<Frontend>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let fe = Arc::clone(&fe);
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(async move {
                        let conn = Conn::new(stream, fe.config.max_allowed_packet);
                        if let Err(e) = Connection::run(fe, conn, peer.ip().to_string()).await {
                            tracing::debug!("connection from {peer} closed: {e}");
                        }
                    });
                }
                Err(e) => tracing::warn!("accept failed: {e}"),
            },
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

struct Connection {
    conn: Conn,
    session: Session,
    caps: CapabilityFlags,
    statements: prepared::Statements,
}

type IoResult<T> = std::io::Result<T>;

impl Connection {
    async fn run(fe: Arc<Frontend>, mut conn: Conn, host: String) -> IoResult<()> {
        let Some((session, caps)) = handshake(&fe, &mut conn, host).await? else {
            return Ok(());
        };
        let _registration = fe.connections.register(Arc::clone(&session.control));
        let control = Arc::clone(&session.control);
        let mut c = Connection {
            conn,
            session,
            caps,
            statements: Default::default(),
        };
        loop {
            c.conn.reset_seq();
            // KILL closes an idle connection at once, a busy one after its statement.
            let packet = tokio::select! {
                p = c.conn.read_packet() => p?,
                _ = control.kill.notified() => None,
            };
            let Some(packet) = packet.filter(|_| !control.is_killed()) else {
                return Ok(());
            };
            if !c.command(&packet).await? {
                return Ok(());
            }
            c.conn.flush().await?;
            if control.is_killed() {
                return Ok(());
            }
        }
    }

    /// Handles one command; `false` ends the connection.
    async fn command(&mut self, packet: &[u8]) -> IoResult<bool> {
        let Some((&cmd, body)) = packet.split_first() else {
            self.error(&Error::invalid("empty command packet"))?;
            return Ok(true);
        };
        match cmd {
            0x01 => return Ok(false), // COM_QUIT
            0x02 => {
                // COM_INIT_DB
                let db = String::from_utf8_lossy(body).to_string();
                match self.session.use_db(&db) {
                    Ok(()) => self.ok(0, "", false)?,
                    Err(e) => self.error(&e)?,
                }
            }
            0x03 => {
                // COM_QUERY
                let sql = String::from_utf8_lossy(body).to_string();
                // A KILL QUERY aimed at an earlier statement does not carry over.
                self.session
                    .control
                    .cancelled
                    .store(false, std::sync::atomic::Ordering::Relaxed);
                self.session.control.set(|a| {
                    a.command = "Query";
                    a.since_ms = basalt_common::now_ms();
                    a.query_id = format!(
                        "{:016x}-{:016x}",
                        rand::random::<u64>(),
                        rand::random::<u64>()
                    );
                    a.info = sql.clone();
                });
                let results = self.session.execute(&sql).await;
                let db = self.session.db.clone();
                self.session.control.set(|a| {
                    a.command = "Sleep";
                    a.since_ms = basalt_common::now_ms();
                    a.db = db;
                });
                self.send_results(results, false).await?;
            }
            0x04 => self.field_list(body)?,
            0x0e => self.ok(0, "", false)?, // COM_PING
            0x16 => prepared::prepare(self, body)?,
            0x17 => prepared::execute(self, body).await?,
            0x18 => prepared::send_long_data(self, body),
            0x19 => prepared::close(self, body),
            0x1a => prepared::reset(self, body)?,
            0x1f => {
                // COM_RESET_CONNECTION
                self.session.reset();
                self.statements = Default::default();
                self.ok(0, "", false)?;
            }
            other => self.error_raw(1047, "08S01", &format!("Unknown command {other:#04x}"))?,
        }
        Ok(true)
    }

    fn status(&self, more: bool) -> u16 {
        let mut s = StatusFlags::SERVER_STATUS_AUTOCOMMIT;
        if more {
            s |= StatusFlags::SERVER_MORE_RESULTS_EXISTS;
        }
        s.bits()
    }

    fn ok(&mut self, affected: u64, info: &str, more: bool) -> IoResult<()> {
        self.ok_with_header(0x00, affected, info, more)
    }

    fn ok_with_header(
        &mut self,
        header: u8,
        affected: u64,
        info: &str,
        more: bool,
    ) -> IoResult<()> {
        let mut p = vec![header];
        p.put_lenenc_int(affected);
        p.put_lenenc_int(0);
        p.extend(self.status(more).to_le_bytes());
        // The statement's warnings (rows INSERT changed to fit, outside strict mode).
        let warnings = u16::try_from(self.session.warnings.len()).unwrap_or(u16::MAX);
        p.extend(warnings.to_le_bytes());
        // MySQL servers write the info length-prefixed, and libmariadb reads it so.
        if !info.is_empty() {
            p.put_lenenc_str(info.as_bytes());
        }
        self.conn.write_packet(&p)
    }

    fn eof(&mut self, more: bool) -> IoResult<()> {
        let mut p = vec![0xfe];
        p.extend(0u16.to_le_bytes());
        p.extend(self.status(more).to_le_bytes());
        self.conn.write_packet(&p)
    }

    /// Ends a result set: an OK with the EOF header, or an EOF for old clients.
    fn end_of_rows(&mut self, more: bool) -> IoResult<()> {
        if self.caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF) {
            self.ok_with_header(0xfe, 0, "", more)
        } else {
            self.eof(more)
        }
    }

    fn error(&mut self, e: &Error) -> IoResult<()> {
        let (code, state) = error_code_state(e.kind);
        self.error_raw(code, state, &e.message)
    }

    fn error_raw(&mut self, code: u16, state: &str, msg: &str) -> IoResult<()> {
        self.conn.write_packet(&err_packet(code, state, msg))
    }

    async fn send_results(
        &mut self,
        results: Vec<basalt_common::Result<QueryResult>>,
        binary: bool,
    ) -> IoResult<()> {
        let n = results.len();
        for (i, r) in results.into_iter().enumerate() {
            let more = i + 1 < n;
            match r {
                Ok(QueryResult::Ok {
                    affected_rows,
                    info,
                }) => self.ok(affected_rows, &info, more)?,
                Ok(QueryResult::Rows { schema, batches }) => {
                    self.result_set(schema, batches, binary, more)?
                }
                Err(e) => self.error(&e)?,
            }
        }
        Ok(())
    }

    fn result_set(
        &mut self,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        binary: bool,
        more: bool,
    ) -> IoResult<()> {
        let (schema, batches) = match wire_form(schema, batches) {
            Ok(x) => x,
            Err(e) => return self.error(&e),
        };
        let mut count = Vec::new();
        count.put_lenenc_int(schema.fields().len() as u64);
        self.conn.write_packet(&count)?;
        for f in schema.fields() {
            self.conn.write_packet(&resultset::column_def(f))?;
        }
        if !self.caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF) {
            self.eof(false)?;
        }
        let mut rows: Vec<Vec<u8>> = Vec::new();
        for b in &batches {
            let r = if binary {
                resultset::binary_rows(b, |row| rows.push(row.to_vec()))
            } else {
                resultset::text_rows(b, |row| rows.push(row.to_vec()))
            };
            if let Err(e) = r {
                return self.error(&Error::internal(e));
            }
            for row in rows.drain(..) {
                self.conn.write_packet(&row)?;
            }
        }
        self.end_of_rows(more)
    }

    /// COM_FIELD_LIST: the column definitions of a table.
    fn field_list(&mut self, body: &[u8]) -> IoResult<()> {
        let table = body.split(|b| *b == 0).next().unwrap_or_default();
        let name = crate::sql::ast::ObjectName {
            db: None,
            name: String::from_utf8_lossy(table).to_string(),
        };
        let resolved = crate::sql::ddl::resolve(&self.session, &name).and_then(|(db, t)| {
            Ok(self
                .session
                .fe
                .catalog
                .read()
                .table(&db, &t)?
                .schema
                .arrow_schema())
        });
        match resolved {
            Ok(schema) => {
                for f in schema.fields() {
                    self.conn.write_packet(&resultset::column_def(f))?;
                }
                self.end_of_rows(false)
            }
            Err(e) => self.error(&e),
        }
    }
}

/// Types every client understands: timestamps as microseconds, dates as Date32, views as plain strings.
fn wire_form(
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> basalt_common::Result<(SchemaRef, Vec<RecordBatch>)> {
    let target = |t: &DataType| -> Option<DataType> {
        match t {
            DataType::Timestamp(TimeUnit::Microsecond, None) => None,
            DataType::Timestamp(_, _) => Some(DataType::Timestamp(TimeUnit::Microsecond, None)),
            DataType::Date64 => Some(DataType::Date32),
            DataType::Float16 => Some(DataType::Float32),
            DataType::Utf8View | DataType::LargeUtf8 | DataType::Dictionary(_, _) => {
                Some(DataType::Utf8)
            }
            DataType::Null => Some(DataType::Utf8),
            _ => None,
        }
    };
    if !schema
        .fields()
        .iter()
        .any(|f| target(f.data_type()).is_some())
    {
        return Ok((schema, batches));
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match target(f.data_type()) {
            Some(t) => f.as_ref().clone().with_data_type(t).with_nullable(true),
            None => f.as_ref().clone(),
        })
        .collect();
    let new_schema = Arc::new(Schema::new(fields));
    let batches = batches
        .iter()
        .map(|b| {
            let cols = b
                .columns()
                .iter()
                .zip(new_schema.fields())
                .map(|(c, f)| datafusion::arrow::compute::cast(c, f.data_type()))
                .collect::<Result<Vec<_>, _>>()?;
            RecordBatch::try_new(Arc::clone(&new_schema), cols)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::internal(e.to_string()))?;
    Ok((new_schema, batches))
}

/// Handshake v10 with a fresh salt, then mysql_native_password verification.
/// `None` when the client went away or was refused (the error is already sent).
async fn handshake(
    fe: &Arc<Frontend>,
    conn: &mut Conn,
    host: String,
) -> IoResult<Option<(Session, CapabilityFlags)>> {
    let mut salt = [0u8; 20];
    for b in &mut salt {
        // Printable, non-zero bytes: some clients treat the salt as a C string.
        *b = rand::random_range(0x21u8..0x7f);
    }
    let connection_id = fe.next_connection_id();
    let server_version = format!(
        "{}-{}",
        basalt_common::MYSQL_SERVER_VERSION,
        basalt_common::version_comment()
    );
    let hs = HandshakePacket::new(
        10,
        server_version.as_bytes(),
        connection_id,
        salt[..8].try_into().unwrap_or([0; 8]),
        // The second part is NUL-terminated on the wire; clients read 13 bytes.
        Some([&salt[8..], &[0u8][..]].concat()),
        SERVER_CAPABILITIES,
        DEFAULT_COLLATION,
        StatusFlags::SERVER_STATUS_AUTOCOMMIT,
        Some(NATIVE_PASSWORD),
    );
    let mut p = Vec::new();
    mysql_common::proto::MySerialize::serialize(&hs, &mut p);
    conn.write_packet(&p)?;
    conn.flush().await?;
    let Some(reply) = conn.read_packet().await? else {
        return Ok(None);
    };
    let resp: HandshakeResponse = match ParseBuf(&reply).parse(()) {
        Ok(r) => r,
        Err(_) => {
            return refuse(conn, 1043, "08S01", "Bad handshake").await;
        }
    };
    let caps = resp.capabilities() & SERVER_CAPABILITIES;
    let user = String::from_utf8_lossy(resp.user()).to_string();
    let db = resp
        .db_name()
        .map(|d| String::from_utf8_lossy(d).to_string())
        .filter(|d| !d.is_empty());
    let mut scramble = resp.scramble_buf().to_vec();
    let plugin_ok = resp
        .auth_plugin()
        .is_none_or(|p| p.as_bytes() == NATIVE_PASSWORD);
    if !plugin_ok {
        // Ask the client to switch to mysql_native_password with the same salt.
        let mut sw = vec![0xfe];
        sw.extend(NATIVE_PASSWORD);
        sw.push(0);
        sw.extend(salt);
        sw.push(0);
        conn.write_packet(&sw)?;
        conn.flush().await?;
        let Some(again) = conn.read_packet().await? else {
            return Ok(None);
        };
        scramble = again;
    }
    if !check_password(&user, &salt, &scramble) {
        let msg = format!(
            "Access denied for user '{user}'@'{host}' (using password: {})",
            if scramble.is_empty() { "NO" } else { "YES" }
        );
        return refuse(conn, 1045, "28000", &msg).await;
    }
    let mut session = Session::new(Arc::clone(fe), connection_id, user, host);
    if let Some(db) = db {
        if let Err(e) = session.use_db(&db) {
            let (code, state) = error_code_state(e.kind);
            return refuse(conn, code, state, &e.message).await;
        }
    }
    let mut ok = vec![0x00, 0x00, 0x00];
    ok.extend(StatusFlags::SERVER_STATUS_AUTOCOMMIT.bits().to_le_bytes());
    ok.extend(0u16.to_le_bytes());
    conn.write_packet(&ok)?;
    conn.flush().await?;
    Ok(Some((session, caps)))
}

/// An ERR packet: code, SQLSTATE and message.
fn err_packet(code: u16, state: &str, msg: &str) -> Vec<u8> {
    let mut p = vec![0xff];
    p.extend(code.to_le_bytes());
    p.push(b'#');
    p.extend(state.as_bytes());
    p.extend(msg.as_bytes());
    p
}

async fn refuse<T>(conn: &mut Conn, code: u16, state: &str, msg: &str) -> IoResult<Option<T>> {
    conn.write_packet(&err_packet(code, state, msg))?;
    conn.flush().await?;
    Ok(None)
}

fn check_password(user: &str, salt: &[u8], scramble: &[u8]) -> bool {
    let Some(password) = crate::auth::password_of(user) else {
        return false;
    };
    if password.is_empty() {
        return scramble.is_empty();
    }
    mysql_common::auth::plugins::mysql_native_password::scramble_native(salt, password.as_bytes())
        .is_some_and(|expected| expected.as_slice() == scramble)
}
