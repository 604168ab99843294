//! One error type for every crate, with a kind that is the stable status code.
//! The MySQL layer and the HTTP layer each map a kind to their wire code in one place.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ErrorKind {
    /// SQL that does not parse; the message carries the position.
    Syntax,
    UnknownDatabase,
    UnknownTable,
    UnknownColumn,
    TableExists,
    DatabaseExists,
    AccessDenied,
    /// The user lacks a privilege the statement needs (MySQL 1227).
    SpecificAccessDenied,
    NoDatabaseSelected,
    UnknownVariable,
    /// SET of a value the variable does not take (MySQL 1231).
    WrongValueForVariable,
    /// INSERT with a different number of columns and values.
    ColumnCountMismatch,
    DuplicateColumn,
    /// A label already used in the database (Doris: "Label Already Exists").
    LabelAlreadyExists,
    /// Bad input the user can fix: wrong values, unsupported options, invalid DDL.
    InvalidInput,
    /// The statement is understood but not supported yet.
    NotSupported,
    /// A backend could not be reached or failed.
    Backend,
    /// KILL of a connection id that does not exist (MySQL 1094).
    UnknownThread,
    /// KILL of another user's connection (MySQL 1095).
    KillDenied,
    Internal,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    pub fn not_supported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotSupported, message)
    }
    pub fn backend(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Backend, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self::internal(format!("I/O error: {e}"))
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Self::internal(format!("encoding error: {e}"))
    }
}

impl From<datafusion::error::DataFusionError> for Error {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        use datafusion::error::DataFusionError as D;
        // A Basalt error that travelled through DataFusion keeps its kind.
        if let D::External(inner) = &e {
            if let Some(err) = inner.downcast_ref::<Error>() {
                return err.clone();
            }
        }
        match e {
            D::SQL(err, _) => Self::new(ErrorKind::Syntax, err.to_string()),
            D::SchemaError(err, _) => {
                let msg = err.to_string();
                if msg.contains("No field named") {
                    Self::new(ErrorKind::UnknownColumn, msg)
                } else {
                    Self::invalid(msg)
                }
            }
            D::Plan(msg) => Self::invalid(msg),
            D::NotImplemented(msg) => Self::not_supported(msg),
            D::Context(ctx, inner) => {
                let mut err = Self::from(*inner);
                err.message = format!("{ctx}: {}", err.message);
                err
            }
            D::Diagnostic(_, inner) => Self::from(*inner),
            other => Self::internal(other.to_string()),
        }
    }
}

impl From<Error> for datafusion::error::DataFusionError {
    fn from(e: Error) -> Self {
        datafusion::error::DataFusionError::External(Box::new(e))
    }
}
