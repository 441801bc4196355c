//! What a component registry is: per kind, the component types a config may
//! name, each with how to parse its options and its schema (for the
//! generated config reference).
//!
//! The list itself is not here: the binary builds it and passes it to
//! [`crate::load_files`], so this crate depends on no component crate and
//! does not rebuild when a component changes. Entries are made with
//! [`ComponentType::source`], [`ComponentType::transform`] and
//! [`ComponentType::sink`].
//!
//! The binary also passes what Vector has that logbridge does not (its
//! component types, and options of components both have), so a Vector
//! config naming one is told so with a hint rather than "unknown".

use logbridge_component::telemetry::ComponentKind;
use logbridge_component::{SinkConfig, SourceConfig, TransformConfig};
use serde::de::DeserializeOwned;

pub type ParseError = serde_path_to_error::Error<serde_json::Error>;

/// Every component type a config may name, by kind.
pub struct Registry {
    pub sources: &'static [ComponentType<dyn SourceConfig>],
    pub transforms: &'static [ComponentType<dyn TransformConfig>],
    pub sinks: &'static [ComponentType<dyn SinkConfig>],
    /// Types of any kind this build leaves out, with the cargo feature
    /// that builds them in: a config naming one is told which.
    pub left_out: &'static [LeftOut],
    /// Vector component types logbridge does not have.
    pub vector_components: &'static [VectorComponent],
    /// Options of Vector's components that logbridge's do not take.
    pub vector_options: &'static [VectorOption],
}

impl Registry {
    /// The Vector component type `name` of this kind, if it is one
    /// logbridge lacks.
    pub fn vector_component(&self, kind: ComponentKind, name: &str) -> Option<&VectorComponent> {
        self.vector_components
            .iter()
            .find(|c| c.kind == kind && c.name == name)
    }

    /// The hint for Vector option `option` (dotted: `encoding.json`) of a
    /// component of type `type_name`, if it is one logbridge does not take:
    /// an entry for the type, else one for every type (`*`).
    pub fn vector_option(&self, type_name: &str, option: &str) -> Option<&'static str> {
        let find = |t: &str| {
            self.vector_options
                .iter()
                .find(|o| o.type_name == t && o.option == option)
                .map(|o| o.hint)
        };
        find(type_name).or_else(|| find("*"))
    }
}

/// A Vector component type logbridge does not have.
#[derive(Debug, Clone, Copy)]
pub struct VectorComponent {
    pub kind: ComponentKind,
    pub name: &'static str,
    /// What to use instead; empty when nothing comes close.
    pub instead: &'static str,
}

/// An option of a Vector component that logbridge's component of the same
/// type does not take.
#[derive(Debug, Clone, Copy)]
pub struct VectorOption {
    /// The component type, or `*` for an option of any type.
    pub type_name: &'static str,
    /// Dotted from the component's table: `multiline`, `encoding.json`.
    pub option: &'static str,
    pub hint: &'static str,
}

/// A component type left out of this build.
#[derive(Debug, Clone, Copy)]
pub struct LeftOut {
    pub name: &'static str,
    pub feature: &'static str,
}

/// One component type.
pub struct ComponentType<C: ?Sized> {
    pub name: &'static str,
    pub parse: fn(serde_json::Value) -> Result<Box<C>, ParseError>,
    pub schema: fn() -> schemars::Schema,
}

impl ComponentType<dyn SourceConfig> {
    /// The source type `name`, whose options are a `T`.
    pub const fn source<T>(name: &'static str) -> Self
    where
        T: DeserializeOwned + schemars::JsonSchema + SourceConfig + 'static,
    {
        ComponentType {
            name,
            parse: parse_source::<T>,
            schema: schema::<T>,
        }
    }
}

impl ComponentType<dyn TransformConfig> {
    /// The transform type `name`, whose options are a `T`.
    pub const fn transform<T>(name: &'static str) -> Self
    where
        T: DeserializeOwned + schemars::JsonSchema + TransformConfig + 'static,
    {
        ComponentType {
            name,
            parse: parse_transform::<T>,
            schema: schema::<T>,
        }
    }
}

impl ComponentType<dyn SinkConfig> {
    /// The sink type `name`, whose options are a `T`.
    pub const fn sink<T>(name: &'static str) -> Self
    where
        T: DeserializeOwned + schemars::JsonSchema + SinkConfig + 'static,
    {
        ComponentType {
            name,
            parse: parse_sink::<T>,
            schema: schema::<T>,
        }
    }
}

fn parse_source<T: DeserializeOwned + SourceConfig + 'static>(
    v: serde_json::Value,
) -> Result<Box<dyn SourceConfig>, ParseError> {
    serde_path_to_error::deserialize(v).map(|c: T| Box::new(c) as Box<dyn SourceConfig>)
}

fn parse_transform<T: DeserializeOwned + TransformConfig + 'static>(
    v: serde_json::Value,
) -> Result<Box<dyn TransformConfig>, ParseError> {
    serde_path_to_error::deserialize(v).map(|c: T| Box::new(c) as Box<dyn TransformConfig>)
}

fn parse_sink<T: DeserializeOwned + SinkConfig + 'static>(
    v: serde_json::Value,
) -> Result<Box<dyn SinkConfig>, ParseError> {
    serde_path_to_error::deserialize(v).map(|c: T| Box::new(c) as Box<dyn SinkConfig>)
}

fn schema<T: schemars::JsonSchema>() -> schemars::Schema {
    schemars::schema_for!(T)
}

/// The type called `name`, if the list has it.
pub fn find<'a, C: ?Sized>(
    list: &'a [ComponentType<C>],
    name: &str,
) -> Option<&'a ComponentType<C>> {
    list.iter().find(|t| t.name == name)
}

/// The names in the list, in its order.
pub fn names<C: ?Sized>(list: &[ComponentType<C>]) -> Vec<&'static str> {
    list.iter().map(|t| t.name).collect()
}
