//! Enrichment tables for VRL: Vector's `file` tables (CSV with a typed
//! `schema`), and the functions `get_enrichment_table_record` and
//! `find_enrichment_table_records` that look rows up in them.
//!
//! A lookup matches rows whose columns equal the condition's values (for
//! strings, ignoring case unless `case_sensitive` is true, the default),
//! or whose timestamps fall within `{ "from": ..., "to": ... }` (both
//! ends included); a `wildcard_value` in a cell matches anything. The
//! first lookup on a set of equality columns builds a hash index on them,
//! kept with the table, so lookups do not scan it. Tables are read once
//! per config ([`Tables::shared`]), however many programs and copies of
//! a program use them, and never change while they run.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use logbridge_component::enrichment::{EnrichmentTableConfig, EnrichmentTables, FileTableFormat};
use vrl::compiler::prelude::*;
use vrl::value::{KeyString, Value};

/// The tables of a config, loaded. A table that cannot be read is kept
/// with its error, which only programs that look it up report.
#[derive(Debug, Default)]
pub struct Tables {
    tables: BTreeMap<String, Result<Arc<Table>, String>>,
}

/// One table: its columns and typed rows.
#[derive(Debug)]
pub struct Table {
    columns: Vec<KeyString>,
    rows: Vec<Vec<Value>>,
    /// Indexes built so far, one per set of equality columns and case
    /// rule, shared by every call site that looks rows up that way.
    indexes: Mutex<Vec<Arc<Index>>>,
}

impl Tables {
    /// Reads every table; one that cannot be read keeps its error, which
    /// names the table, the file and the row.
    pub fn load(configs: &BTreeMap<String, EnrichmentTableConfig>) -> Tables {
        let tables = configs
            .iter()
            .map(|(name, config)| {
                let table = Table::load(config).map(Arc::new).map_err(|e| {
                    format!(
                        "enrichment table `{name}` ({}): {e}",
                        config.file.path.display()
                    )
                });
                (name.clone(), table)
            })
            .collect();
        Tables { tables }
    }

    /// The tables of one config, loaded by its first caller and shared
    /// with every later one (each remap component, and each copy of one
    /// running on another core). A config loaded again (a new `Arc`)
    /// reads its files again.
    pub fn shared(configs: &EnrichmentTables) -> Arc<Tables> {
        type Loaded = Vec<(Weak<BTreeMap<String, EnrichmentTableConfig>>, Weak<Tables>)>;
        static LOADED: Mutex<Loaded> = Mutex::new(Vec::new());
        let mut loaded = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
        loaded.retain(|(config, tables)| config.strong_count() > 0 && tables.strong_count() > 0);
        let found = loaded.iter().find_map(|(config, tables)| {
            config
                .upgrade()
                .filter(|config| Arc::ptr_eq(config, configs))
                .and_then(|_| tables.upgrade())
        });
        found.unwrap_or_else(|| {
            let tables = Arc::new(Tables::load(configs));
            loaded.push((Arc::downgrade(configs), Arc::downgrade(&tables)));
            tables
        })
    }

    fn get(&self, name: &str) -> Option<&Result<Arc<Table>, String>> {
        self.tables.get(name)
    }
}

impl Table {
    fn load(config: &EnrichmentTableConfig) -> Result<Table, String> {
        let FileTableFormat::Csv = config.file.encoding.encoding_type;
        let delimiter = u8::try_from(u32::from(config.file.encoding.delimiter))
            .map_err(|_| "the delimiter must be one ASCII character".to_owned())?;
        let text = std::fs::read(&config.file.path).map_err(|e| e.to_string())?;
        Table::parse(
            &text,
            delimiter,
            config.file.encoding.include_headers,
            &config.schema,
        )
    }

    fn parse(
        text: &[u8],
        delimiter: u8,
        headers: bool,
        schema: &BTreeMap<String, String>,
    ) -> Result<Table, String> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(headers)
            .flexible(false)
            .from_reader(text);
        let mut columns: Vec<KeyString> = if headers {
            reader
                .headers()
                .map_err(|e| e.to_string())?
                .iter()
                .map(KeyString::from)
                .collect()
        } else {
            Vec::new()
        };
        let mut types: Vec<ColumnType> = Vec::new();
        let mut rows = Vec::new();
        for (n, record) in reader.records().enumerate() {
            let record = record.map_err(|e| e.to_string())?;
            if columns.is_empty() {
                columns = (0..record.len())
                    .map(|i| KeyString::from(i.to_string()))
                    .collect();
            }
            if types.is_empty() {
                types = columns
                    .iter()
                    .map(|c| ColumnType::parse(schema.get(c.as_str()).map(String::as_str)))
                    .collect::<Result<_, _>>()?;
            }
            let row = record
                .iter()
                .zip(&types)
                .zip(&columns)
                .map(|((cell, t), column)| {
                    t.convert(cell).map_err(|e| {
                        format!(
                            "row {} column `{column}`: {e}",
                            n + 1 + usize::from(headers)
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            rows.push(row);
        }
        for column in schema.keys() {
            if !columns.iter().any(|c| c.as_str() == column) {
                return Err(format!(
                    "the schema names column `{column}`, which the file lacks"
                ));
            }
        }
        Ok(Table {
            columns,
            rows,
            indexes: Mutex::default(),
        })
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.as_str() == name)
    }

    fn row_object(&self, row: &[Value], select: Option<&[usize]>) -> Value {
        let pick = |i: usize| (self.columns[i].clone(), row[i].clone());
        Value::Object(match select {
            Some(columns) => columns.iter().map(|&i| pick(i)).collect(),
            None => (0..self.columns.len()).map(pick).collect(),
        })
    }
}

/// A column's type from the schema: `TYPE` or `TYPE|FORMAT`.
#[derive(Debug, Clone)]
enum ColumnType {
    String,
    Integer,
    Float,
    Boolean,
    Date(String),
    Timestamp(Option<String>),
}

impl ColumnType {
    fn parse(spec: Option<&str>) -> Result<ColumnType, String> {
        let Some(spec) = spec else {
            return Ok(ColumnType::String);
        };
        let (kind, format) = match spec.split_once('|') {
            Some((k, f)) => (k.trim(), Some(f.trim().to_owned())),
            None => (spec.trim(), None),
        };
        Ok(match kind {
            "string" => ColumnType::String,
            "integer" => ColumnType::Integer,
            "float" => ColumnType::Float,
            "boolean" => ColumnType::Boolean,
            "date" => ColumnType::Date(format.unwrap_or_else(|| "%Y-%m-%d".into())),
            "timestamp" => ColumnType::Timestamp(format),
            other => {
                return Err(format!(
                    "`{other}` is not a column type (string, integer, float, boolean, date, timestamp)"
                ));
            }
        })
    }

    fn convert(&self, cell: &str) -> Result<Value, String> {
        let bad = |what: &str| format!("`{cell}` is not {what}");
        Ok(match self {
            ColumnType::String => Value::from(cell),
            ColumnType::Integer => {
                Value::Integer(cell.trim().parse().map_err(|_| bad("an integer"))?)
            }
            ColumnType::Float => {
                let f: f64 = cell.trim().parse().map_err(|_| bad("a number"))?;
                Value::from_f64_or_zero(f)
            }
            ColumnType::Boolean => {
                Value::Boolean(cell.trim().parse().map_err(|_| bad("true or false"))?)
            }
            ColumnType::Date(format) => {
                let date = NaiveDate::parse_from_str(cell.trim(), format)
                    .map_err(|_| bad(&format!("a date in the format {format}")))?;
                Value::Timestamp(
                    date.and_hms_opt(0, 0, 0)
                        .expect("midnight exists")
                        .and_utc(),
                )
            }
            ColumnType::Timestamp(None) => Value::Timestamp(
                DateTime::parse_from_rfc3339(cell.trim())
                    .map_err(|_| bad("an RFC 3339 timestamp"))?
                    .with_timezone(&Utc),
            ),
            ColumnType::Timestamp(Some(format)) => Value::Timestamp(
                NaiveDateTime::parse_from_str(cell.trim(), format)
                    .map_err(|_| bad(&format!("a timestamp in the format {format}")))?
                    .and_utc(),
            ),
        })
    }
}

/// The two lookup functions, over `tables` (none: every table name is
/// unknown).
pub fn functions(tables: Option<Arc<Tables>>) -> Vec<Box<dyn Function>> {
    let tables = tables.unwrap_or_default();
    vec![
        Box::new(Lookup {
            tables: tables.clone(),
            many: false,
        }),
        Box::new(Lookup { tables, many: true }),
    ]
}

#[derive(Debug, Clone)]
struct Lookup {
    tables: Arc<Tables>,
    /// `find_enrichment_table_records` (every match) rather than
    /// `get_enrichment_table_record` (exactly one).
    many: bool,
}

const PARAMETERS: &[Parameter] = &[
    Parameter::required("table", kind::BYTES, "The table's name."),
    Parameter::required(
        "condition",
        kind::OBJECT,
        "Column values the rows must have.",
    ),
    Parameter::optional("select", kind::ARRAY, "The columns to return."),
    Parameter::optional(
        "case_sensitive",
        kind::BOOLEAN,
        "Whether strings match only with the same case.",
    ),
    Parameter::optional(
        "wildcard_value",
        kind::ANY,
        "A cell value that matches any condition value.",
    ),
];

impl Function for Lookup {
    fn identifier(&self) -> &'static str {
        if self.many {
            "find_enrichment_table_records"
        } else {
            "get_enrichment_table_record"
        }
    }

    fn usage(&self) -> &'static str {
        if self.many {
            "Returns every row of an enrichment table that meets the condition."
        } else {
            "Returns the one row of an enrichment table that meets the condition; an error when none or several do."
        }
    }

    fn category(&self) -> &'static str {
        "Enrichment"
    }

    fn return_kind(&self) -> u16 {
        if self.many { kind::ARRAY } else { kind::OBJECT }
    }

    fn parameters(&self) -> &'static [Parameter] {
        PARAMETERS
    }

    fn examples(&self) -> &'static [Example] {
        &[]
    }

    fn compile(
        &self,
        state: &TypeState,
        _ctx: &mut FunctionCompileContext,
        arguments: ArgumentList,
    ) -> Compiled {
        let name = arguments.required_literal("table", state)?;
        let table = match name
            .as_bytes()
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|n| self.tables.get(n))
        {
            Some(Ok(table)) => table.clone(),
            Some(Err(why)) => {
                return Err(Box::new(function::Error::InvalidArgument {
                    keyword: "table",
                    value: Value::from(why.as_str()),
                    error: "the enrichment table could not be read",
                }));
            }
            None => {
                return Err(Box::new(function::Error::InvalidArgument {
                    keyword: "table",
                    value: name.clone(),
                    error: "no enrichment table has this name (declare it under [enrichment_tables])",
                }));
            }
        };
        let condition = arguments
            .required_object("condition")?
            .into_iter()
            .map(|(column, expr)| {
                let index = table.column(column.as_str()).ok_or_else(|| {
                    function::Error::InvalidArgument {
                        keyword: "condition",
                        value: Value::from(column.as_str()),
                        error: "the table has no such column",
                    }
                })?;
                Ok((index, expr))
            })
            .collect::<Result<Vec<_>, function::Error>>()?;
        let select = match arguments.optional_literal("select", state)? {
            None => None,
            Some(Value::Array(names)) => Some(
                names
                    .iter()
                    .map(|n| {
                        n.as_bytes()
                            .and_then(|b| std::str::from_utf8(b).ok())
                            .and_then(|n| table.column(n))
                            .ok_or_else(|| function::Error::InvalidArgument {
                                keyword: "select",
                                value: n.clone(),
                                error: "the table has no such column",
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(other) => {
                return Err(Box::new(function::Error::InvalidArgument {
                    keyword: "select",
                    value: other,
                    error: "select must be a list of column names",
                }));
            }
        };
        let case_sensitive = arguments.optional("case_sensitive");
        let wildcard = arguments.optional("wildcard_value");
        Ok(LookupFn {
            table,
            condition,
            select,
            case_sensitive,
            wildcard,
            many: self.many,
            index: Arc::new(OnceLock::new()),
        }
        .as_expr())
    }
}

#[derive(Debug, Clone)]
struct LookupFn {
    table: Arc<Table>,
    /// Column index and the expression giving its wanted value.
    condition: Vec<(usize, vrl::compiler::expression::Expr)>,
    select: Option<Vec<usize>>,
    case_sensitive: Option<Box<dyn Expression>>,
    wildcard: Option<Box<dyn Expression>>,
    many: bool,
    /// The table's index on this call site's equality columns, fetched
    /// on first use.
    index: Arc<OnceLock<Arc<Index>>>,
}

/// Row numbers by the (normalized) values of some columns.
#[derive(Debug)]
struct Index {
    columns: Vec<usize>,
    case_sensitive: bool,
    rows: HashMap<Vec<Vec<u8>>, Vec<usize>>,
}

enum Wanted {
    Equal(Value),
    Between(Option<DateTime<Utc>>, Option<DateTime<Utc>>),
}

/// The form values are hashed in: strings folded to lower case when
/// matching ignores case; everything else as displayed.
fn index_key(value: &Value, case_sensitive: bool) -> Vec<u8> {
    // Text comes as either of VRL's two string variants.
    match value.as_bytes() {
        Some(b) if !case_sensitive => String::from_utf8_lossy(b).to_lowercase().into_bytes(),
        Some(b) => b.to_vec(),
        None => value.to_string().into_bytes(),
    }
}

fn equal(cell: &Value, wanted: &Value, case_sensitive: bool) -> bool {
    match (cell.as_bytes(), wanted.as_bytes()) {
        (Some(a), Some(b)) if !case_sensitive => {
            String::from_utf8_lossy(a).to_lowercase() == String::from_utf8_lossy(b).to_lowercase()
        }
        _ => cell == wanted,
    }
}

impl FunctionExpression for LookupFn {
    fn resolve(&self, ctx: &mut Context<'_>) -> Resolved {
        let case_sensitive = match &self.case_sensitive {
            Some(e) => e.resolve(ctx)?.try_boolean()?,
            None => true,
        };
        let wildcard = match &self.wildcard {
            Some(e) => Some(e.resolve(ctx)?),
            None => None,
        };
        let mut wanted = Vec::with_capacity(self.condition.len());
        for (column, expr) in &self.condition {
            let value = expr.resolve(ctx)?;
            let range = value.as_object().and_then(|o| {
                let bound = |k: &str| o.get(k).and_then(Value::as_timestamp).copied();
                (o.contains_key("from") || o.contains_key("to"))
                    .then(|| (bound("from"), bound("to")))
            });
            wanted.push((
                *column,
                match range {
                    Some((from, to)) => Wanted::Between(from, to),
                    None => Wanted::Equal(value),
                },
            ));
        }
        let matches = |row: &[Value]| {
            wanted.iter().all(|(column, want)| {
                let cell = &row[*column];
                if wildcard.as_ref() == Some(cell) {
                    return true;
                }
                match want {
                    Wanted::Equal(v) => equal(cell, v, case_sensitive),
                    Wanted::Between(from, to) => cell.as_timestamp().is_some_and(|t| {
                        from.is_none_or(|f| *t >= f) && to.is_none_or(|e| *t <= e)
                    }),
                }
            })
        };
        let equality: Vec<(usize, &Value)> = wanted
            .iter()
            .filter_map(|(c, w)| match w {
                Wanted::Equal(v) => Some((*c, v)),
                Wanted::Between(..) => None,
            })
            .collect();
        let table = &self.table;
        let index = self.index.get_or_init(|| {
            let columns: Vec<usize> = equality.iter().map(|(c, _)| *c).collect();
            table.index(&columns, case_sensitive)
        });
        let usable = wildcard.is_none()
            && index.case_sensitive == case_sensitive
            && !index.columns.is_empty()
            && index.columns.iter().eq(equality.iter().map(|(c, _)| c));
        let found: Vec<&Vec<Value>> = if usable {
            let key: Vec<Vec<u8>> = equality
                .iter()
                .map(|(_, v)| index_key(v, case_sensitive))
                .collect();
            index
                .rows
                .get(&key)
                .map(|rows| {
                    rows.iter()
                        .map(|&r| &table.rows[r])
                        .filter(|r| matches(r))
                        .collect()
                })
                .unwrap_or_default()
        } else {
            table.rows.iter().filter(|r| matches(r)).collect()
        };
        let select = self.select.as_deref();
        if self.many {
            return Ok(Value::Array(
                found
                    .into_iter()
                    .map(|r| table.row_object(r, select))
                    .collect(),
            ));
        }
        match found.as_slice() {
            [one] => Ok(table.row_object(one, select)),
            [] => Err("no rows found".into()),
            _ => Err(format!("{} rows found, not one", found.len()).into()),
        }
    }

    fn type_def(&self, _state: &state::TypeState) -> TypeDef {
        if self.many {
            TypeDef::array(Collection::any()).fallible()
        } else {
            TypeDef::object(Collection::any()).fallible()
        }
    }
}

impl Table {
    /// The index on `columns` under one case rule, built the first time
    /// any call site asks for it.
    fn index(&self, columns: &[usize], case_sensitive: bool) -> Arc<Index> {
        let mut indexes = self.indexes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(index) = indexes
            .iter()
            .find(|i| i.columns == columns && i.case_sensitive == case_sensitive)
        {
            return index.clone();
        }
        let index = Arc::new(Index::build(self, columns.to_vec(), case_sensitive));
        indexes.push(index.clone());
        index
    }
}

impl Index {
    fn build(table: &Table, columns: Vec<usize>, case_sensitive: bool) -> Index {
        let mut rows: HashMap<Vec<Vec<u8>>, Vec<usize>> = HashMap::new();
        if !columns.is_empty() {
            for (n, row) in table.rows.iter().enumerate() {
                let key = columns
                    .iter()
                    .map(|&c| index_key(&row[c], case_sensitive))
                    .collect();
                rows.entry(key).or_default().push(n);
            }
        }
        Index {
            columns,
            case_sensitive,
            rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(csv: &str, schema: &[(&str, &str)]) -> Result<Table, String> {
        let schema = schema
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Table::parse(csv.as_bytes(), b',', true, &schema)
    }

    #[test]
    fn schema_types_cells() {
        let t = table(
            "code,name,since,active\n200,OK,2020-01-02,true\n",
            &[
                ("code", "integer"),
                ("since", "date"),
                ("active", "boolean"),
            ],
        )
        .unwrap();
        assert_eq!(t.rows[0][0], Value::Integer(200));
        assert_eq!(t.rows[0][1], Value::from("OK"));
        assert!(t.rows[0][2].is_timestamp());
        assert_eq!(t.rows[0][3], Value::Boolean(true));
    }

    #[test]
    fn text_matches_whichever_string_variant_it_comes_in() {
        let from_str = Value::from("yew");
        let from_bytes = Value::Bytes(bytes::Bytes::from_static(b"yew"));
        assert_eq!(index_key(&from_str, true), index_key(&from_bytes, true));
        assert_eq!(index_key(&Value::from("YEW"), false), b"yew".to_vec());
        assert!(equal(&from_str, &from_bytes, true));
        assert!(equal(&Value::from("Yew"), &from_bytes, false));
        assert!(!equal(&Value::from("Yew"), &from_bytes, true));
    }

    #[test]
    fn bad_cells_and_schemas_name_the_place() {
        let e = table("code\nx\n", &[("code", "integer")]).unwrap_err();
        assert!(e.contains("row 2 column `code`"), "{e}");
        let e = table("code\n1\n", &[("nope", "integer")]).unwrap_err();
        assert!(e.contains("`nope`"), "{e}");
        let e = table("code\n1\n", &[("code", "uuid")]).unwrap_err();
        assert!(e.contains("not a column type"), "{e}");
    }

    #[test]
    fn one_index_per_column_set_and_case_rule_is_shared() {
        let t = table("code,name\n1,a\n2,b\n1,c\n", &[]).unwrap();
        let a = t.index(&[0], true);
        let b = t.index(&[0], true);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.rows.get(&vec![b"1".to_vec()]), Some(&vec![0, 2]));
        assert!(!Arc::ptr_eq(&a, &t.index(&[0], false)));
        assert!(!Arc::ptr_eq(&a, &t.index(&[1], true)));
        assert_eq!(t.indexes.lock().unwrap().len(), 3);
    }

    #[test]
    fn a_config_loads_its_tables_once() {
        use logbridge_component::enrichment::{
            EnrichmentTableType, FileTableConfig, FileTableEncoding,
        };
        let config = EnrichmentTableConfig {
            table_type: EnrichmentTableType::File,
            file: FileTableConfig {
                path: "/nonexistent/codes.csv".into(),
                encoding: FileTableEncoding {
                    encoding_type: FileTableFormat::Csv,
                    include_headers: true,
                    delimiter: ',',
                },
            },
            schema: BTreeMap::new(),
        };
        let configs: EnrichmentTables = Arc::new(BTreeMap::from([("codes".to_owned(), config)]));
        let first = Tables::shared(&configs);
        assert!(Arc::ptr_eq(&first, &Tables::shared(&configs)));
        // The same tables loaded again (a new config) are read again.
        let again: EnrichmentTables = Arc::new((*configs).clone());
        assert!(!Arc::ptr_eq(&first, &Tables::shared(&again)));
        assert!(matches!(first.get("codes"), Some(Err(e)) if e.contains("/nonexistent/codes.csv")));
    }
}
