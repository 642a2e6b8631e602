//! A small typed layer over the `parquet` crate's column writer and reader: a table is a list
//! of named columns of one of a few value types, each required or nullable. The report's
//! tables ([`super::tables`]) are written and read through it.
//!
//! The low-level column API is used rather than the `arrow` one so that the dependency stays
//! small (no arrow crates); a table is read back only when its schema is exactly the expected
//! one, so a file of another layout is an error naming the column, never a silent mix-up.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::{Compression, LogicalType, Repetition, Type as PhysicalType};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DataType, DoubleType, FloatType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::FileReader;
use parquet::file::serialized_reader::SerializedFileReader;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

use super::ReportError;

/// Rows per row group: readers (pyarrow, polars) parallelise over row groups, and a writer
/// holds one row group's pages in memory.
const ROW_GROUP_ROWS: usize = 1 << 20;

/// The value type of a column, and how it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `INT64` annotated unsigned 64-bit.
    U64,
    /// `INT32` annotated unsigned 32-bit.
    U32,
    /// `FLOAT`.
    F32,
    /// `DOUBLE`.
    F64,
    /// `BOOLEAN`.
    Bool,
    /// `BYTE_ARRAY` annotated UTF-8 string.
    Str,
}

impl Kind {
    fn physical(self) -> PhysicalType {
        match self {
            Kind::U64 => PhysicalType::INT64,
            Kind::U32 => PhysicalType::INT32,
            Kind::F32 => PhysicalType::FLOAT,
            Kind::F64 => PhysicalType::DOUBLE,
            Kind::Bool => PhysicalType::BOOLEAN,
            Kind::Str => PhysicalType::BYTE_ARRAY,
        }
    }

    fn logical(self) -> Option<LogicalType> {
        match self {
            Kind::U64 => Some(LogicalType::integer(64, false)),
            Kind::U32 => Some(LogicalType::integer(32, false)),
            Kind::Str => Some(LogicalType::String),
            Kind::F32 | Kind::F64 | Kind::Bool => None,
        }
    }
}

/// One column's declaration: name, type, and whether it may hold nulls.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    /// Column name.
    pub name: &'static str,
    /// Value type.
    pub kind: Kind,
    /// Whether the column is `OPTIONAL` (nulls allowed) rather than `REQUIRED`.
    pub nullable: bool,
}

/// A required column.
pub(crate) const fn req(name: &'static str, kind: Kind) -> Spec {
    Spec { name, kind, nullable: false }
}

/// A nullable column.
pub(crate) const fn opt(name: &'static str, kind: Kind) -> Spec {
    Spec { name, kind, nullable: true }
}

/// A column's values; `None` is a null (only in nullable columns).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Values {
    /// [`Kind::U64`].
    U64(Vec<Option<u64>>),
    /// [`Kind::U32`].
    U32(Vec<Option<u32>>),
    /// [`Kind::F32`].
    F32(Vec<Option<f32>>),
    /// [`Kind::F64`].
    F64(Vec<Option<f64>>),
    /// [`Kind::Bool`].
    Bool(Vec<Option<bool>>),
    /// [`Kind::Str`].
    Str(Vec<Option<String>>),
}

impl Values {
    fn empty(kind: Kind) -> Self {
        match kind {
            Kind::U64 => Values::U64(vec![]),
            Kind::U32 => Values::U32(vec![]),
            Kind::F32 => Values::F32(vec![]),
            Kind::F64 => Values::F64(vec![]),
            Kind::Bool => Values::Bool(vec![]),
            Kind::Str => Values::Str(vec![]),
        }
    }

    fn len(&self) -> usize {
        match self {
            Values::U64(v) => v.len(),
            Values::U32(v) => v.len(),
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::Bool(v) => v.len(),
            Values::Str(v) => v.len(),
        }
    }
}

fn bad(path: &Path, message: impl std::fmt::Display) -> ReportError {
    ReportError::BadTable { path: path.to_path_buf(), message: message.to_string() }
}

/// The Parquet schema of a table.
fn schema(specs: &[Spec]) -> parquet::errors::Result<Type> {
    let fields = specs
        .iter()
        .map(|s| {
            Type::primitive_type_builder(s.name, s.kind.physical())
                .with_repetition(if s.nullable { Repetition::OPTIONAL } else { Repetition::REQUIRED })
                .with_logical_type(s.kind.logical())
                .build()
                .map(Arc::new)
        })
        .collect::<parquet::errors::Result<Vec<_>>>()?;
    Type::group_type_builder("footml").with_fields(fields).build()
}

/// Encodes a table (columns in `specs` order, all of one length) as a Parquet file's bytes.
pub(crate) fn encode(specs: &[Spec], columns: &[Values]) -> parquet::errors::Result<Vec<u8>> {
    let rows = columns.first().map_or(0, Values::len);
    debug_assert!(specs.len() == columns.len() && columns.iter().all(|c| c.len() == rows));
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(format!("footml {}", crate::VERSION))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let mut out = Vec::new();
    let mut writer = SerializedFileWriter::new(&mut out, Arc::new(schema(specs)?), Arc::new(props))?;
    let mut start = 0;
    // Even an empty table gets one (empty) row group, so readers see its columns.
    loop {
        let end = (start + ROW_GROUP_ROWS).min(rows);
        let mut group = writer.next_row_group()?;
        for (spec, values) in specs.iter().zip(columns) {
            let mut col =
                group.next_column()?.ok_or_else(|| parquet::errors::ParquetError::General("column".into()))?;
            let range = start..end;
            match values {
                Values::U64(v) => put::<Int64Type, _>(&mut col, spec, &v[range], |x| x as i64)?,
                Values::U32(v) => put::<Int32Type, _>(&mut col, spec, &v[range], |x| x as i32)?,
                Values::F32(v) => put::<FloatType, _>(&mut col, spec, &v[range], |x| x)?,
                Values::F64(v) => put::<DoubleType, _>(&mut col, spec, &v[range], |x| x)?,
                Values::Bool(v) => put::<BoolType, _>(&mut col, spec, &v[range], |x| x)?,
                Values::Str(v) => {
                    let (values, defs) = split(&v[range], |s: &String| ByteArray::from(s.as_str()));
                    col.typed::<ByteArrayType>().write_batch(&values, spec.nullable.then_some(&defs), None)?;
                }
            }
            col.close()?;
        }
        group.close()?;
        start = end;
        if start >= rows {
            break;
        }
    }
    writer.close()?;
    Ok(out)
}

/// The non-null values (converted) and the definition levels of a nullable column.
fn split<T, U>(values: &[Option<T>], convert: impl Fn(&T) -> U) -> (Vec<U>, Vec<i16>) {
    let mut out = Vec::with_capacity(values.len());
    let defs = values
        .iter()
        .map(|v| match v {
            Some(x) => {
                out.push(convert(x));
                1
            }
            None => 0,
        })
        .collect();
    (out, defs)
}

fn put<T: DataType, V: Copy>(
    col: &mut parquet::file::writer::SerializedColumnWriter<'_>,
    spec: &Spec,
    values: &[Option<V>],
    convert: impl Fn(V) -> T::T,
) -> parquet::errors::Result<()> {
    let (values, defs) = split(values, |&x| convert(x));
    col.typed::<T>().write_batch(&values, spec.nullable.then_some(&defs), None)?;
    Ok(())
}

/// Reads a table written by [`encode`] with exactly these columns.
///
/// # Errors
///
/// [`ReportError::TableNotFound`] when the file does not exist; [`ReportError::BadTable`]
/// naming the file when it is no Parquet file, its columns differ from `specs` (names, types,
/// nullability, order) or its data is corrupt.
pub(crate) fn read(path: &Path, specs: &[Spec]) -> Result<Vec<Values>, crate::Error> {
    let file = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ReportError::TableNotFound { path: path.to_path_buf() }.into(),
        _ => crate::Error::io(path, e),
    })?;
    // The parquet crate can panic on some malformed files instead of returning an error: a
    // corrupt table must be an error naming it, not a crash of the caller (or of Python).
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode(file, path, specs)));
    match decoded {
        Ok(result) => result.map_err(Into::into),
        Err(payload) => Err(bad(
            path,
            format!("malformed Parquet file: {}", crate::error::panic_message(&*payload).unwrap_or("decoder panicked")),
        )
        .into()),
    }
}

fn decode(file: File, path: &Path, specs: &[Spec]) -> Result<Vec<Values>, ReportError> {
    let reader = SerializedFileReader::new(file).map_err(|e| bad(path, format!("not a Parquet file: {e}")))?;
    let meta = reader.metadata();
    let columns = meta.file_metadata().schema_descr().columns();
    let found: Vec<String> = columns.iter().map(|c| c.name().to_string()).collect();
    let expected: Vec<&str> = specs.iter().map(|s| s.name).collect();
    if found != expected {
        return Err(bad(path, format!("expected the columns {expected:?}, found {found:?}")));
    }
    for (c, s) in columns.iter().zip(specs) {
        let nullable = c.self_type().get_basic_info().repetition() == Repetition::OPTIONAL;
        if c.physical_type() != s.kind.physical() || c.logical_type_ref() != s.kind.logical().as_ref() {
            return Err(bad(
                path,
                format!(
                    "column `{}`: expected {:?}, found {} {:?}",
                    s.name,
                    s.kind,
                    c.physical_type(),
                    c.logical_type_ref()
                ),
            ));
        }
        if c.max_rep_level() != 0 || (nullable != s.nullable) || c.max_def_level() != nullable as i16 {
            return Err(bad(path, format!("column `{}`: expected a {} flat column", s.name, nullability(s))));
        }
    }
    let rows = usize::try_from(meta.file_metadata().num_rows()).map_err(|_| bad(path, "negative row count"))?;
    let mut out: Vec<Values> = specs.iter().map(|s| Values::empty(s.kind)).collect();
    for g in 0..reader.num_row_groups() {
        let group = reader.get_row_group(g).map_err(|e| bad(path, e))?;
        let n = usize::try_from(group.metadata().num_rows()).map_err(|_| bad(path, "negative row count"))?;
        for (i, (spec, values)) in specs.iter().zip(out.iter_mut()).enumerate() {
            let col = group.get_column_reader(i).map_err(|e| bad(path, e))?;
            match (col, values) {
                (ColumnReader::Int64ColumnReader(r), Values::U64(v)) => take(r, n, v, path, spec, |x| Some(x as u64))?,
                (ColumnReader::Int32ColumnReader(r), Values::U32(v)) => take(r, n, v, path, spec, |x| Some(x as u32))?,
                (ColumnReader::FloatColumnReader(r), Values::F32(v)) => take(r, n, v, path, spec, Some)?,
                (ColumnReader::DoubleColumnReader(r), Values::F64(v)) => take(r, n, v, path, spec, Some)?,
                (ColumnReader::BoolColumnReader(r), Values::Bool(v)) => take(r, n, v, path, spec, Some)?,
                (ColumnReader::ByteArrayColumnReader(r), Values::Str(v)) => {
                    take(r, n, v, path, spec, |b: ByteArray| b.as_utf8().ok().map(str::to_string))?
                }
                _ => return Err(bad(path, format!("column `{}` has another type than its schema says", spec.name))),
            }
        }
    }
    if out.iter().any(|c| c.len() != rows) {
        return Err(bad(path, format!("columns of unequal length (the footer says {rows} rows)")));
    }
    Ok(out)
}

fn nullability(s: &Spec) -> &'static str {
    if s.nullable { "nullable" } else { "required" }
}

/// Reads the `n` rows of a column chunk onto `out`; `convert` gives `None` for a value that
/// is not valid for the column (not UTF-8).
fn take<T: DataType, V>(
    mut reader: ColumnReaderImpl<T>,
    n: usize,
    out: &mut Vec<Option<V>>,
    path: &Path,
    spec: &Spec,
    convert: impl Fn(T::T) -> Option<V>,
) -> Result<(), ReportError>
where
    T::T: Clone,
{
    let name = spec.name;
    // The row count comes from the file: a corrupt footer must not make us reserve (and abort
    // on) terabytes; the vectors grow as rows are really decoded.
    let reserve = n.min(ROW_GROUP_ROWS);
    let mut defs = Vec::with_capacity(reserve);
    let mut values = Vec::with_capacity(reserve);
    let mut got = 0;
    while got < n {
        let (records, _, _) =
            reader.read_records(n - got, Some(&mut defs), None, &mut values).map_err(|e| bad(path, e))?;
        if records == 0 {
            return Err(bad(path, format!("column `{name}` ends after {got} of {n} rows")));
        }
        got += records;
    }
    let mut values = values.into_iter();
    let mut next = || -> Result<V, ReportError> {
        let v = values.next().ok_or_else(|| bad(path, format!("column `{name}` has fewer values than rows")))?;
        convert(v).ok_or_else(|| bad(path, format!("column `{name}` has an invalid value")))
    };
    out.reserve(reserve);
    if spec.nullable {
        // One definition level per row: 1 for a value, 0 for a null.
        for d in defs {
            out.push(if d > 0 { Some(next()?) } else { None });
        }
    } else {
        for _ in 0..n {
            out.push(Some(next()?));
        }
    }
    Ok(())
}
