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

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;

use postgres::types::{IsNull, Type};

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
    /// Another process held the write lock for the whole busy timeout.
    pub(crate) fn is_busy(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            }
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

/// A value read from a column.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// NULL.
    Null,
    /// An integer (PostgreSQL's `BIGINT`, `INTEGER`, `SMALLINT`, `BOOLEAN`).
    Integer(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl From<rusqlite::types::Value> for Value {
    fn from(v: rusqlite::types::Value) -> Value {
        match v {
            rusqlite::types::Value::Null => Value::Null,
            rusqlite::types::Value::Integer(i) => Value::Integer(i),
            rusqlite::types::Value::Real(f) => Value::Real(f),
            rusqlite::types::Value::Text(s) => Value::Text(s),
            rusqlite::types::Value::Blob(b) => Value::Blob(b),
        }
    }
}

/// A parameter of a query.
#[derive(Clone, Debug)]
pub(crate) enum Arg<'a> {
    /// NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(Cow<'a, str>),
    /// Bytes.
    Blob(Cow<'a, [u8]>),
}

impl<'a> From<&'a Value> for Arg<'a> {
    fn from(v: &'a Value) -> Arg<'a> {
        match v {
            Value::Null => Arg::Null,
            Value::Integer(i) => Arg::Int(*i),
            Value::Real(f) => Arg::Real(*f),
            Value::Text(s) => Arg::Text(Cow::Borrowed(s)),
            Value::Blob(b) => Arg::Blob(Cow::Borrowed(b)),
        }
    }
}

/// What can be a parameter (the `params!` macro takes each by reference).
pub(crate) trait ToArg {
    /// This value as a parameter.
    fn to_arg(&self) -> Arg<'_>;
}

impl<T: ToArg + ?Sized> ToArg for &T {
    fn to_arg(&self) -> Arg<'_> {
        (**self).to_arg()
    }
}
impl ToArg for str {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Text(Cow::Borrowed(self))
    }
}
impl ToArg for String {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Text(Cow::Borrowed(self))
    }
}
impl ToArg for Cow<'_, str> {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Text(Cow::Borrowed(self))
    }
}
impl ToArg for [u8] {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Blob(Cow::Borrowed(self))
    }
}
impl ToArg for Vec<u8> {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Blob(Cow::Borrowed(self))
    }
}
impl ToArg for bool {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Int(i64::from(*self))
    }
}
impl ToArg for f64 {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Real(*self)
    }
}
impl<T: ToArg> ToArg for Option<T> {
    fn to_arg(&self) -> Arg<'_> {
        self.as_ref().map_or(Arg::Null, ToArg::to_arg)
    }
}
impl ToArg for Arg<'_> {
    fn to_arg(&self) -> Arg<'_> {
        self.clone()
    }
}
impl ToArg for Value {
    fn to_arg(&self) -> Arg<'_> {
        Arg::from(self)
    }
}
macro_rules! int_args {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            fn to_arg(&self) -> Arg<'_> {
                // Beyond i64 only for values the ledger never holds; stored as the most it can.
                Arg::Int(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
int_args!(i64, i32, u8, u16, u32, u64, usize);

/// The parameters of a query, as [`ToArg`] values: `params![a, b, c]`.
macro_rules! params {
    ($($x:expr),* $(,)?) => { [$($crate::ledger::db::ToArg::to_arg(&$x)),*] };
}
pub(crate) use params;

/// A query's parameters: an array from `params!`, `[]`, or a vector.
pub(crate) trait Params<'a> {
    /// The parameters in order.
    fn args(&self) -> &[Arg<'a>];
}
impl<'a, const N: usize> Params<'a> for [Arg<'a>; N] {
    fn args(&self) -> &[Arg<'a>] {
        self
    }
}
impl<'a> Params<'a> for &[Arg<'a>] {
    fn args(&self) -> &[Arg<'a>] {
        self
    }
}
impl<'a> Params<'a> for Vec<Arg<'a>> {
    fn args(&self) -> &[Arg<'a>] {
        self
    }
}

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as V, ValueRef};
        Ok(match self {
            Arg::Null => ToSqlOutput::Owned(V::Null),
            Arg::Int(i) => ToSqlOutput::Owned(V::Integer(*i)),
            Arg::Real(f) => ToSqlOutput::Owned(V::Real(*f)),
            Arg::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Arg::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

/// PostgreSQL types each parameter from where it is used; an argument is
/// written as the type the server asked for, as SQLite would have stored it.
impl postgres::types::ToSql for Arg<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let text = matches!(*ty, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN);
        match self {
            Arg::Null => Ok(IsNull::Yes),
            Arg::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                _ if text => i.to_string().as_str().to_sql(ty, out),
                _ => Err(format!("an integer where PostgreSQL expects {ty}").into()),
            },
            Arg::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                _ if text => f.to_string().as_str().to_sql(ty, out),
                _ => Err(format!("a number where PostgreSQL expects {ty}").into()),
            },
            Arg::Text(s) => match *ty {
                Type::INT8 => s.parse::<i64>()?.to_sql(ty, out),
                Type::INT4 => s.parse::<i32>()?.to_sql(ty, out),
                _ if text => s.as_ref().to_sql(ty, out),
                _ => Err(format!("text where PostgreSQL expects {ty}").into()),
            },
            Arg::Blob(b) => match *ty {
                Type::BYTEA => b.as_ref().to_sql(ty, out),
                _ => Err(format!("bytes where PostgreSQL expects {ty}").into()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// What a column can be read as.
pub(crate) trait FromValue: Sized {
    /// The column's value as this type, or why not.
    fn from_value(v: Value) -> std::result::Result<Self, String>;
}

impl FromValue for Value {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        Ok(v)
    }
}
impl FromValue for String {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Blob(b) => Ok(b),
            Value::Text(s) => Ok(s.into_bytes()),
            other => Err(format!("expected bytes, found {other:?}")),
        }
    }
}
impl FromValue for bool {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        i64::from_value(v).map(|i| i != 0)
    }
}
impl FromValue for f64 {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Real(f) => Ok(f),
            Value::Integer(i) => Ok(i as f64),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}
macro_rules! int_values {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: Value) -> std::result::Result<Self, String> {
                match v {
                    Value::Integer(i) => <$t>::try_from(i).map_err(|_| format!("{i} is out of range")),
                    other => Err(format!("expected an integer, found {other:?}")),
                }
            }
        }
    )*};
}
int_values!(i64, i32, u16, u32, u64, usize);

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

/// A connection to PostgreSQL with its prepared statements.
pub(crate) struct PgConnection {
    /// Always `Some` but while it is dropped.
    client: RefCell<Option<postgres::Client>>,
    cache: Cache,
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
    pub(crate) fn connect_pg(config: &postgres::Config, busy: std::time::Duration) -> Result<Db> {
        let mut client = config.connect(postgres::NoTls)?;
        client.batch_execute(&format!(
            "SET lock_timeout = '{}ms'; SET client_min_messages = warning",
            busy.as_millis()
        ))?;
        Ok(Db::Pg(Box::new(PgConnection { client: RefCell::new(Some(client)), cache: RefCell::new(HashMap::new()) })))
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
                let PgConnection { client, cache } = &mut **pg;
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
