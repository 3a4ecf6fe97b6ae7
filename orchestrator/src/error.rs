//! The orchestrator library's one error type. The HTTP mapping lives in `api::error`.

use crate::model::Problem;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input that fails validation; each problem names its field.
    #[error("invalid input: {}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
    #[error("not found")]
    NotFound,
    /// The change clashes with existing data (duplicate key, entity still referenced).
    #[error("{0}")]
    Conflict(String),
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Stored data that no longer parses (a bug or a manual edit), never user input.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(path: &str, message: impl Into<String>) -> Self {
        Error::Invalid(vec![Problem { path: path.to_string(), message: message.into() }])
    }

    /// Turns database constraint violations into the user-facing errors they stand for.
    pub fn from_db(e: sqlx::Error, what: &str) -> Self {
        if let sqlx::Error::Database(db) = &e {
            use sqlx::error::ErrorKind;
            match db.kind() {
                ErrorKind::UniqueViolation => return Error::Conflict(format!("{what} already exists")),
                ErrorKind::ForeignKeyViolation => {
                    return Error::Conflict(format!(
                        "{what} refers to a record that does not exist or is still referenced"
                    ))
                }
                ErrorKind::CheckViolation | ErrorKind::NotNullViolation => {
                    return Error::invalid("", format!("{what} violates a data constraint"))
                }
                _ => {}
            }
        }
        Error::Database(e)
    }
}
