//! The ledger's two stores behind one small SQL interface: the embedded
//! SQLite file (the default) and a PostgreSQL database (`postgres://…`).
//!
//! The ledger's queries are written once, in the SQL both dialects share
//! (`?N` parameters, `ON CONFLICT … DO NOTHING`, `CAST(… AS TEXT)`), and
//! run on either store through [`Db`] and [`Tx`]. On PostgreSQL the
//! parameters are renumbered `$N`, statements are prepared once per
//! connection, and a transaction takes one advisory lock up front: writers
//! of every process queue for it as they queue for SQLite's write lock
//! (`BEGIN IMMEDIATE`), so a chain's sequence is allocated by one
//! transaction at a time whichever store holds it, while readers never wait.

use std::cell::RefCell;
use std::collections::HashMap;

use postgres::types::Type;

/// What a query returns.
pub(crate) type Result<T, E = DbError> = std::result::Result<T, E>;

/// A failure of the store.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    /// SQLite's.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL's, or the connection's.
    #[error("{}", pg_detail(.0))]
    Postgres(#[from] postgres::Error),
    /// A query for one row found none.
    #[error("the query returned no rows")]
    NoRows,
    /// A column did not hold what the ledger reads from it.
    #[error("column {0}: {1}")]
    Type(usize, String),
}

impl DbError {
    /// The connection to the PostgreSQL server is gone (closed, cut, or
    /// the server shut down): what a retry after [`Db::reconnect`] may fix.
    pub(crate) fn is_connection_lost(&self) -> bool {
        let DbError::Postgres(e) = self else { return false };
        let code = e.code().map(postgres::error::SqlState::code);
        e.is_closed()
            || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
            || code.is_some_and(|c| c.starts_with("08") || c.starts_with("57P"))
    }

    /// Another process held the write lock for the whole busy timeout.
    pub(crate) fn is_busy(&self) -> bool {
        match self {
            DbError::Sqlite(e) => license_common::sqlite::is_busy(e),
            DbError::Postgres(e) => e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE),
            _ => false,
        }
    }
}

fn pg_detail(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("PostgreSQL: {} ({detail})", db.message()),
            None => format!("PostgreSQL: {}", db.message()),
        },
        None => match std::error::Error::source(e) {
            Some(source) => format!("PostgreSQL: {e}: {source}"),
            None => format!("PostgreSQL: {e}"),
        },
    }
}

/// Which SQL the store speaks, where the two differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// The embedded file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

mod values;
pub(crate) use values::{Arg, FromValue, Params, ToArg, Value};

/// The parameters of a query, as [`ToArg`] values: `params![a, b, c]`.
macro_rules! params {
    ($($x:expr),* $(,)?) => { [$($crate::ledger::db::ToArg::to_arg(&$x)),*] };
}
pub(crate) use params;

/// A row of a result.
pub(crate) enum Row<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Pg(&'a postgres::Row),
}

impl Row<'_> {
    /// Column `i` as `T`.
    pub(crate) fn get<T: FromValue>(&self, i: usize) -> Result<T> {
        T::from_value(self.value(i)?).map_err(|e| DbError::Type(i, e))
    }

    /// Column `i` as it is stored.
    pub(crate) fn value(&self, i: usize) -> Result<Value> {
        match self {
            Row::Sqlite(r) => Ok(r.get::<_, rusqlite::types::Value>(i)?.into()),
            Row::Pg(r) => pg_value(r, i),
        }
    }
}

fn pg_value(row: &postgres::Row, i: usize) -> Result<Value> {
    let Some(column) = row.columns().get(i) else {
        return Err(DbError::Type(i, "no such column".into()));
    };
    let int = |v: Option<i64>| v.map_or(Value::Null, Value::Integer);
    Ok(match *column.type_() {
        Type::INT8 => int(row.try_get::<_, Option<i64>>(i)?),
        Type::INT4 => int(row.try_get::<_, Option<i32>>(i)?.map(i64::from)),
        Type::INT2 => int(row.try_get::<_, Option<i16>>(i)?.map(i64::from)),
        Type::BOOL => int(row.try_get::<_, Option<bool>>(i)?.map(i64::from)),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map_or(Value::Null, Value::Real),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
            row.try_get::<_, Option<String>>(i)?.map_or(Value::Null, Value::Text)
        }
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map_or(Value::Null, Value::Blob),
        ref other => return Err(DbError::Type(i, format!("the ledger does not read PostgreSQL's {other}"))),
    })
}

/// `?N` and `?` parameters as PostgreSQL's `$N`.
pub(crate) fn pg_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let (mut bare, mut quoted) = (0, false);
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                out.push('$');
                if chars.peek().is_some_and(char::is_ascii_digit) {
                    while let Some(d) = chars.next_if(char::is_ascii_digit) {
                        out.push(d);
                    }
                } else {
                    bare += 1;
                    out.push_str(&bare.to_string());
                }
            }
            c => out.push(c),
        }
    }
    out
}

type Cache = RefCell<HashMap<String, postgres::Statement>>;

/// The PostgreSQL client of a connection or of a transaction on it.
trait PgSession {
    fn session(&self, work: &mut dyn FnMut(&mut dyn PgRun, &Cache) -> Result<()>) -> Result<()>;
}

/// What a query needs of PostgreSQL.
trait PgRun {
    fn prepare(&mut self, sql: &str) -> std::result::Result<postgres::Statement, postgres::Error>;
    fn execute(
        &mut self,
        st: &postgres::Statement,
        args: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> std::result::Result<u64, postgres::Error>;
    fn batch(&mut self, sql: &str) -> std::result::Result<(), postgres::Error>;
    /// Streams the rows (a large table is not held in memory at once).
    fn each(
        &mut self,
        st: &postgres::Statement,
        args: &[Arg<'_>],
        f: &mut dyn FnMut(&postgres::Row) -> Result<()>,
    ) -> Result<()>;
}

impl<C: postgres::GenericClient> PgRun for C {
    fn prepare(&mut self, sql: &str) -> std::result::Result<postgres::Statement, postgres::Error> {
        postgres::GenericClient::prepare(self, sql)
    }
    fn execute(
        &mut self,
        st: &postgres::Statement,
        args: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> std::result::Result<u64, postgres::Error> {
        postgres::GenericClient::execute(self, st, args)
    }
    fn batch(&mut self, sql: &str) -> std::result::Result<(), postgres::Error> {
        postgres::GenericClient::batch_execute(self, sql)
    }
    fn each(
        &mut self,
        st: &postgres::Statement,
        args: &[Arg<'_>],
        f: &mut dyn FnMut(&postgres::Row) -> Result<()>,
    ) -> Result<()> {
        use postgres::fallible_iterator::FallibleIterator as _;
        let mut rows = postgres::GenericClient::query_raw(self, st, args.iter())?;
        while let Some(row) = rows.next()? {
            f(&row)?;
        }
        Ok(())
    }
}

pub(crate) struct Pg<'c, C> {
    client: RefCell<C>,
    cache: &'c Cache,
}

impl<C: postgres::GenericClient> PgSession for Pg<'_, C> {
    fn session(&self, work: &mut dyn FnMut(&mut dyn PgRun, &Cache) -> Result<()>) -> Result<()> {
        work(&mut *self.client.borrow_mut(), self.cache)
    }
}

impl PgSession for PgConnection {
    fn session(&self, work: &mut dyn FnMut(&mut dyn PgRun, &Cache) -> Result<()>) -> Result<()> {
        let mut client = self.client.borrow_mut();
        work(client.as_mut().ok_or_else(closed)?, &self.cache)
    }
}

/// Queries against either store, outside or inside a transaction: what
/// [`Db::q`] and [`Tx::q`] give.
#[derive(Clone, Copy)]
pub(crate) enum Q<'a> {
    Sqlite(&'a rusqlite::Connection),
    #[allow(private_interfaces)]
    Pg(&'a (dyn PgSession + 'a)),
}

/// The TLS client a PostgreSQL connection may use.
pub(crate) type PgTls = tokio_postgres_rustls::MakeRustlsConnect;

/// A connection to PostgreSQL with its prepared statements, and what it
/// needs to connect again.
pub(crate) struct PgConnection {
    /// Always `Some` but while it is dropped.
    client: RefCell<Option<postgres::Client>>,
    cache: Cache,
    config: postgres::Config,
    tls: Option<PgTls>,
    busy: std::time::Duration,
}

impl PgConnection {
    fn connect(config: &postgres::Config, tls: Option<&PgTls>, busy: std::time::Duration) -> Result<postgres::Client> {
        let mut client = match tls {
            Some(tls) => config.connect(tls.clone())?,
            None => config.connect(postgres::NoTls)?,
        };
        client.batch_execute(&format!(
            "SET lock_timeout = '{}ms'; SET client_min_messages = warning",
            busy.as_millis()
        ))?;
        Ok(client)
    }
}

fn closed() -> DbError {
    DbError::Type(0, "the PostgreSQL connection is closed (a bug)".into())
}

impl Drop for PgConnection {
    /// Closing the client blocks on its own runtime, which may not happen on
    /// a thread that drives async tasks (a service dropping its ledger at
    /// shutdown): the client is closed on a thread of its own.
    fn drop(&mut self) {
        if let Some(client) = self.client.get_mut().take() {
            let _ = std::thread::spawn(move || drop(client)).join();
        }
    }
}

impl<'a> Q<'a> {
    /// Which SQL this store speaks.
    pub(crate) fn dialect(self) -> Dialect {
        match self {
            Q::Sqlite(_) => Dialect::Sqlite,
            Q::Pg(_) => Dialect::Postgres,
        }
    }

    /// Runs `sql` on PostgreSQL, its statement prepared once per connection.
    fn pg<T>(
        self,
        sql: &str,
        args: &[Arg<'_>],
        run: impl FnOnce(&mut dyn PgRun, &postgres::Statement, &[&(dyn postgres::types::ToSql + Sync)]) -> Result<T>,
    ) -> Result<T> {
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            args.iter().map(|a| a as &(dyn postgres::types::ToSql + Sync)).collect();
        let Q::Pg(session) = self else { return unreachable_sqlite() };
        let (mut run, mut out) = (Some(run), None);
        session.session(&mut |client, cache| {
            let cached = cache.borrow().get(sql).cloned();
            let st = match cached {
                Some(st) => st,
                None => {
                    let st = client.prepare(&pg_sql(sql))?;
                    cache.borrow_mut().insert(sql.to_owned(), st.clone());
                    st
                }
            };
            if let Some(run) = run.take() {
                out = Some(run(client, &st, &refs)?);
            }
            Ok(())
        })?;
        out.ok_or(DbError::NoRows)
    }

    fn execute_args(self, sql: &str, args: &[Arg<'_>]) -> Result<usize> {
        match self {
            Q::Sqlite(c) => Ok(c.prepare_cached(sql)?.execute(rusqlite::params_from_iter(args))?),
            _ => self.pg(sql, args, |c, st, refs| Ok(usize::try_from(c.execute(st, refs)?).unwrap_or(usize::MAX))),
        }
    }

    fn each(self, sql: &str, args: &[Arg<'_>], mut f: impl FnMut(&Row<'_>) -> Result<()>) -> Result<()> {
        match self {
            Q::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let mut rows = st.query(rusqlite::params_from_iter(args))?;
                while let Some(r) = rows.next()? {
                    f(&Row::Sqlite(r))?;
                }
                Ok(())
            }
            _ => self.pg(sql, args, |c, st, _| c.each(st, args, &mut |r| f(&Row::Pg(r)))),
        }
    }

    /// Runs statements that take no parameters.
    pub(crate) fn execute_batch(self, sql: &str) -> Result<()> {
        match self {
            Q::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Q::Pg(session) => session.session(&mut |c, _| Ok(c.batch(sql)?)),
        }
    }

    /// Runs one statement; how many rows it changed.
    pub(crate) fn execute<'p>(self, sql: &str, params: impl Params<'p>) -> Result<usize> {
        self.execute_args(sql, params.args())
    }

    /// The first row of `sql` through `f`, or [`DbError::NoRows`].
    pub(crate) fn query_row<'p, T>(
        self,
        sql: &str,
        params: impl Params<'p>,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut f = Some(f);
        let mut out = None;
        self.each(sql, params.args(), |r| {
            if let Some(f) = f.take() {
                out = Some(f(r)?);
            }
            Ok(())
        })?;
        out.ok_or(DbError::NoRows)
    }

    /// A statement to run (prepared on first use, then from the cache).
    pub(crate) fn prepare(self, sql: &str) -> Result<Stmt<'a>> {
        Ok(Stmt { handle: self, sql: sql.to_owned() })
    }

    /// The same as [`Q::prepare`]: every statement is cached.
    pub(crate) fn prepare_cached(self, sql: &str) -> Result<Stmt<'a>> {
        self.prepare(sql)
    }
}

#[cold]
fn unreachable_sqlite<T>() -> Result<T> {
    Err(DbError::Type(0, "a PostgreSQL query on SQLite (a bug)".into()))
}

/// A prepared statement.
pub(crate) struct Stmt<'a> {
    handle: Q<'a>,
    sql: String,
}

impl Stmt<'_> {
    /// Runs it; how many rows it changed.
    pub(crate) fn execute<'p>(&mut self, params: impl Params<'p>) -> Result<usize> {
        self.handle.execute_args(&self.sql, params.args())
    }

    /// Every row through `f`.
    pub(crate) fn query_map<'p, T>(
        &mut self,
        params: impl Params<'p>,
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        let mut out = Vec::new();
        self.handle.each(&self.sql, params.args(), |r| {
            out.push(f(r));
            Ok(())
        })?;
        Ok(out.into_iter())
    }

    /// The first row through `f`, or [`DbError::NoRows`].
    pub(crate) fn query_row<'p, T>(
        &mut self,
        params: impl Params<'p>,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut f = Some(f);
        let mut out = None;
        self.handle.each(&self.sql, params.args(), |r| {
            if let Some(f) = f.take() {
                out = Some(f(r)?);
            }
            Ok(())
        })?;
        out.ok_or(DbError::NoRows)
    }

    /// Every row through `f`, stopping at its first error.
    pub(crate) fn for_each<'p>(
        &mut self,
        params: impl Params<'p>,
        f: impl FnMut(&Row<'_>) -> Result<()>,
    ) -> Result<()> {
        self.handle.each(&self.sql, params.args(), f)
    }
}

/// `Ok(None)` for [`DbError::NoRows`].
pub(crate) trait OptionalExtension<T> {
    /// The row, if there was one.
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// An open store.
pub(crate) enum Db {
    Sqlite(rusqlite::Connection),
    Pg(Box<PgConnection>),
}

/// The advisory lock every PostgreSQL writer takes first ("issuer" in ASCII).
pub(crate) const PG_WRITE_LOCK: i64 = 0x6973_7375_6572;

impl Db {
    /// Connects to PostgreSQL; a lock held longer than `busy` is given up.
    pub(crate) fn connect_pg(config: postgres::Config, tls: Option<PgTls>, busy: std::time::Duration) -> Result<Db> {
        let client = PgConnection::connect(&config, tls.as_ref(), busy)?;
        let cache = RefCell::new(HashMap::new());
        Ok(Db::Pg(Box::new(PgConnection { client: RefCell::new(Some(client)), cache, config, tls, busy })))
    }

    /// Connects PostgreSQL again if its connection is closed; `true` if it did.
    pub(crate) fn reconnect(&mut self) -> Result<bool> {
        let Db::Pg(pg) = self else { return Ok(false) };
        if pg.client.get_mut().as_ref().is_some_and(|c| !c.is_closed()) {
            return Ok(false);
        }
        let client = PgConnection::connect(&pg.config, pg.tls.as_ref(), pg.busy)?;
        // Statements are prepared per connection.
        pg.cache.get_mut().clear();
        if let Some(old) = pg.client.get_mut().replace(client) {
            let _ = std::thread::spawn(move || drop(old)).join();
        }
        Ok(true)
    }

    /// Its queries.
    pub(crate) fn q(&self) -> Q<'_> {
        match self {
            Db::Sqlite(c) => Q::Sqlite(c),
            Db::Pg(c) => Q::Pg(&**c),
        }
    }

    /// Which SQL this store speaks.
    pub(crate) fn dialect(&self) -> Dialect {
        self.q().dialect()
    }

    /// Begins a transaction that holds the write lock from its start.
    pub(crate) fn transaction(&mut self) -> Result<Tx<'_>> {
        match self {
            Db::Sqlite(c) => Ok(Tx::Sqlite(c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?)),
            Db::Pg(pg) => {
                let PgConnection { client, cache, .. } = &mut **pg;
                let mut tx = client.get_mut().as_mut().ok_or_else(closed)?.transaction()?;
                tx.batch_execute(&format!("SELECT pg_advisory_xact_lock({PG_WRITE_LOCK})"))?;
                Ok(Tx::Pg(Pg { client: RefCell::new(tx), cache }))
            }
        }
    }
}

/// A transaction that holds the write lock.
pub(crate) enum Tx<'a> {
    Sqlite(rusqlite::Transaction<'a>),
    Pg(Pg<'a, postgres::Transaction<'a>>),
}

impl Tx<'_> {
    /// Its queries.
    pub(crate) fn q(&self) -> Q<'_> {
        match self {
            Tx::Sqlite(t) => Q::Sqlite(t),
            Tx::Pg(t) => Q::Pg(t),
        }
    }

    /// Commits it.
    pub(crate) fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => Ok(t.commit()?),
            Tx::Pg(t) => Ok(t.client.into_inner().commit()?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_renumbered_for_postgres_outside_quotes() {
        assert_eq!(pg_sql("SELECT ?1, ?2 WHERE a = ?1"), "SELECT $1, $2 WHERE a = $1");
        assert_eq!(pg_sql("a = ? AND b = ? AND c = '?'"), "a = $1 AND b = $2 AND c = '?'");
    }

    #[test]
    fn the_same_queries_run_on_sqlite_with_typed_reads() {
        let mut store = Db::Sqlite(rusqlite::Connection::open_in_memory().unwrap());
        store.q().execute_batch("CREATE TABLE t (a TEXT PRIMARY KEY, n INTEGER, o TEXT)").unwrap();
        let tx = store.transaction().unwrap();
        let none: Option<String> = None;
        assert_eq!(tx.q().execute("INSERT INTO t VALUES (?1, ?2, ?3)", params!["x", 7u32, none]).unwrap(), 1);
        let again = tx.q().execute("INSERT INTO t VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING", params!["x", 8, "o"]);
        assert_eq!(again.unwrap(), 0);
        tx.commit().unwrap();
        let db = store.q();
        let (n, o): (u64, Option<String>) =
            db.query_row("SELECT n, o FROM t WHERE a = ?1", params!["x"], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        assert_eq!((n, o), (7, None));
        assert!(db.query_row("SELECT n FROM t WHERE a = 'y'", [], |r| r.get::<i64>(0)).optional().unwrap().is_none());
        assert!(matches!(db.query_row("SELECT a FROM t", [], |r| r.get::<i64>(0)), Err(DbError::Type(0, _))));
    }
}
