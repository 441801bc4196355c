//! `[enrichment_tables.NAME]`: data that VRL programs look records up in,
//! configured as Vector configures its `file` tables. This module only
//! describes the configuration; loading and lookups belong to the VRL
//! crate.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

/// One enrichment table.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrichmentTableConfig {
    /// The kind of table: `file` (a CSV file read at load).
    #[serde(rename = "type")]
    pub table_type: EnrichmentTableType,
    /// Where the file is and how it is encoded.
    pub file: FileTableConfig,
    /// Column types: `string` (the default), `integer`, `float`,
    /// `boolean`, `date` or `timestamp`, with an optional strftime format
    /// after a `|` (`date|%d/%m/%Y`). Columns not listed stay strings.
    #[serde(default)]
    pub schema: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EnrichmentTableType {
    File,
}

#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileTableConfig {
    /// The file's path.
    pub path: PathBuf,
    /// Its encoding.
    pub encoding: FileTableEncoding,
}

#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileTableEncoding {
    /// `csv`.
    #[serde(rename = "type")]
    pub encoding_type: FileTableFormat,
    /// Whether the first row names the columns (otherwise they are
    /// named by position: `0`, `1`, ...).
    #[serde(default = "default_true")]
    pub include_headers: bool,
    /// The field delimiter, one character.
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileTableFormat {
    Csv,
}

fn default_true() -> bool {
    true
}

fn default_delimiter() -> char {
    ','
}

/// Every table of a config, by name, shared by the components built from
/// it.
pub type EnrichmentTables = Arc<BTreeMap<String, EnrichmentTableConfig>>;
