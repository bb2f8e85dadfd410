//! What crosses the boundary between table code and an engine: parameters going in
//! ([`Param`], borrowed as a [`Value`]) and columns coming out ([`Column`], read into a
//! [`FromColumn`] type). Both are a handful of kinds the schema uses (integers, booleans,
//! text, bytes, NULL), so each engine converts them without knowing the caller's types
//! and without allocating.

/// A parameter as an engine binds it: borrowed from the caller's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Bool(bool),
    Text(&'a str),
    Bytes(&'a [u8]),
}

/// A type that can be bound as a statement parameter. `Sync` because an engine may
/// send parameters to another thread (PostgreSQL's client does).
pub trait Param: Sync {
    fn value(&self) -> Value<'_>;
}

impl Param for i64 {
    fn value(&self) -> Value<'_> {
        Value::Int(*self)
    }
}

impl Param for i32 {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl Param for bool {
    fn value(&self) -> Value<'_> {
        Value::Bool(*self)
    }
}

impl Param for str {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl Param for String {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl Param for [u8] {
    fn value(&self) -> Value<'_> {
        Value::Bytes(self)
    }
}

impl Param for Vec<u8> {
    fn value(&self) -> Value<'_> {
        Value::Bytes(self)
    }
}

impl<T: Param> Param for Option<T> {
    fn value(&self) -> Value<'_> {
        self.as_ref().map_or(Value::Null, Param::value)
    }
}

impl<T: Param + ?Sized> Param for &T {
    fn value(&self) -> Value<'_> {
        (**self).value()
    }
}

/// A column of a result row as an engine hands it over, borrowed from the row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Column<'a> {
    Null,
    Int(i64),
    /// A boolean column (PostgreSQL's BOOLEAN; SQLite stores booleans as integers).
    Bool(bool),
    Real(f64),
    Text(&'a str),
    Bytes(&'a [u8]),
}

impl Column<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Self::Null => "NULL",
            Self::Int(_) => "an integer",
            Self::Bool(_) => "a boolean",
            Self::Real(_) => "a real number",
            Self::Text(_) => "text",
            Self::Bytes(_) => "bytes",
        }
    }

    fn mismatch<T>(&self, wanted: &str) -> Result<T, String> {
        Err(format!("expected {wanted}, found {}", self.kind()))
    }
}

/// A type a column can be read into with `row.get::<T>(index)`.
pub trait FromColumn: Sized {
    fn from_column(column: Column<'_>) -> Result<Self, String>;
}

impl FromColumn for i64 {
    fn from_column(column: Column<'_>) -> Result<Self, String> {
        match column {
            Column::Int(i) => Ok(i),
            other => other.mismatch("an integer"),
        }
    }
}

impl FromColumn for bool {
    fn from_column(column: Column<'_>) -> Result<Self, String> {
        match column {
            Column::Bool(b) => Ok(b),
            Column::Int(i) => Ok(i != 0),
            other => other.mismatch("a boolean"),
        }
    }
}

impl FromColumn for String {
    fn from_column(column: Column<'_>) -> Result<Self, String> {
        match column {
            Column::Text(s) => Ok(s.to_owned()),
            other => other.mismatch("text"),
        }
    }
}

impl FromColumn for Vec<u8> {
    fn from_column(column: Column<'_>) -> Result<Self, String> {
        match column {
            Column::Bytes(b) => Ok(b.to_vec()),
            other => other.mismatch("bytes"),
        }
    }
}

impl<T: FromColumn> FromColumn for Option<T> {
    fn from_column(column: Column<'_>) -> Result<Self, String> {
        match column {
            Column::Null => Ok(None),
            other => T::from_column(other).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_borrow_what_they_bind() {
        let name = String::from("a");
        let missing: Option<&str> = None;
        let params: [&dyn Param; 6] = [&1_i64, &7_i32, &true, &name, &missing, &vec![1_u8]];
        let values: Vec<Value<'_>> = params.iter().map(|p| p.value()).collect();
        assert_eq!(
            values,
            [
                Value::Int(1),
                Value::Int(7),
                Value::Bool(true),
                Value::Text("a"),
                Value::Null,
                Value::Bytes(&[1])
            ]
        );
    }

    #[test]
    fn columns_read_into_their_types_or_say_what_they_held() {
        assert_eq!(i64::from_column(Column::Int(3)), Ok(3));
        assert_eq!(bool::from_column(Column::Int(1)), Ok(true));
        assert_eq!(bool::from_column(Column::Bool(false)), Ok(false));
        assert_eq!(Option::<String>::from_column(Column::Null), Ok(None));
        assert_eq!(
            Option::<String>::from_column(Column::Text("x")),
            Ok(Some("x".into()))
        );
        assert_eq!(
            i64::from_column(Column::Text("3")).unwrap_err(),
            "expected an integer, found text"
        );
        assert!(String::from_column(Column::Null).is_err());
    }
}
