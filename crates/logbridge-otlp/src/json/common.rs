//! OTLP/JSON of the messages every signal uses: `AnyValue`, `KeyValue`,
//! `Resource` (with its `EntityRef`s) and `InstrumentationScope`.
//!
//! `AnyValue` is a oneof, so exactly the member that is set is written,
//! default or not (`{"intValue":"0"}`), and an empty `AnyValue` is `{}`.
//! When a sender sets several members (the spec does not allow it), the
//! first in the order of the proto file wins.

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::Value;

use super::Reason;
use super::base64;
use super::read::{self, Object, Result};
use super::write::{self, Out};

/// Recurses once per level of nesting; serde_json refused input nested
/// deeper than its limit (128) before this runs.
pub(super) fn read_any(mut obj: Object) -> Result<AnyValue> {
    let value = if let Some(v) = read::take(&mut obj, "stringValue") {
        match v {
            Value::String(s) => Any::StringValue(s),
            _ => return Err(Reason::field("stringValue", "a string")),
        }
    } else if obj.get("boolValue").is_some_and(|v| !v.is_null()) {
        Any::BoolValue(read::boolean(&mut obj, "boolValue")?)
    } else if obj.get("intValue").is_some_and(|v| !v.is_null()) {
        Any::IntValue(read::int64(&mut obj, "intValue")?)
    } else if obj.get("doubleValue").is_some_and(|v| !v.is_null()) {
        Any::DoubleValue(read::double(&mut obj, "doubleValue")?)
    } else if let Some(array) = read::message(&mut obj, "arrayValue", read_array)? {
        Any::ArrayValue(array)
    } else if let Some(list) = read::message(&mut obj, "kvlistValue", read_kvlist)? {
        Any::KvlistValue(list)
    } else if let Some(v) = read::take(&mut obj, "bytesValue") {
        let decoded = v.as_str().and_then(base64::decode);
        Any::BytesValue(decoded.ok_or(Reason::field("bytesValue", "a base64 string"))?)
    } else if obj.get("stringValueStrindex").is_some_and(|v| !v.is_null()) {
        Any::StringValueStrindex(read::int32(&mut obj, "stringValueStrindex")?)
    } else {
        return Ok(AnyValue { value: None });
    };
    Ok(AnyValue { value: Some(value) })
}

fn read_array(mut obj: Object) -> Result<ArrayValue> {
    Ok(ArrayValue {
        values: read::messages(&mut obj, "values", read_any)?,
    })
}

fn read_kvlist(mut obj: Object) -> Result<KeyValueList> {
    Ok(KeyValueList {
        values: read_key_values(&mut obj, "values")?,
    })
}

pub(super) fn read_key_values(obj: &mut Object, field: &'static str) -> Result<Vec<KeyValue>> {
    read::messages(obj, field, |mut kv| {
        Ok(KeyValue {
            key: read::string(&mut kv, "key")?,
            value: read::message(&mut kv, "value", read_any)?,
            key_strindex: read::int32(&mut kv, "keyStrindex")?,
        })
    })
}

pub(super) fn write_any(value: &AnyValue) -> Value {
    let mut out = Out::new();
    match &value.value {
        None => {}
        Some(Any::StringValue(s)) => out.put("stringValue", Value::String(s.clone())),
        Some(Any::BoolValue(b)) => out.put("boolValue", Value::Bool(*b)),
        Some(Any::IntValue(i)) => out.put("intValue", Value::String(i.to_string())),
        Some(Any::DoubleValue(f)) => out.put("doubleValue", write::double(*f)),
        Some(Any::ArrayValue(a)) => {
            let mut array = Out::new();
            array.messages("values", &a.values, write_any);
            out.put("arrayValue", array.done());
        }
        Some(Any::KvlistValue(kv)) => {
            let mut list = Out::new();
            list.messages("values", &kv.values, write_key_value);
            out.put("kvlistValue", list.done());
        }
        Some(Any::BytesValue(b)) => out.put("bytesValue", Value::String(base64::encode(b))),
        Some(Any::StringValueStrindex(i)) => out.put("stringValueStrindex", Value::from(*i)),
    }
    out.done()
}

pub(super) fn write_key_value(kv: &KeyValue) -> Value {
    let mut out = Out::new();
    out.string("key", &kv.key);
    out.message("value", kv.value.as_ref(), write_any);
    out.int("keyStrindex", kv.key_strindex);
    out.done()
}

pub(super) fn read_resource(mut obj: Object) -> Result<Resource> {
    Ok(Resource {
        attributes: read_key_values(&mut obj, "attributes")?,
        dropped_attributes_count: read::uint32(&mut obj, "droppedAttributesCount")?,
        entity_refs: read::messages(&mut obj, "entityRefs", read_entity_ref)?,
    })
}

fn read_entity_ref(mut obj: Object) -> Result<EntityRef> {
    Ok(EntityRef {
        schema_url: read::string(&mut obj, "schemaUrl")?,
        r#type: read::string(&mut obj, "type")?,
        id_keys: read::strings(&mut obj, "idKeys")?,
        description_keys: read::strings(&mut obj, "descriptionKeys")?,
    })
}

pub(super) fn write_resource(resource: &Resource) -> Value {
    let mut out = Out::new();
    out.messages("attributes", &resource.attributes, write_key_value);
    out.int("droppedAttributesCount", resource.dropped_attributes_count);
    out.messages("entityRefs", &resource.entity_refs, write_entity_ref);
    out.done()
}

fn write_entity_ref(entity: &EntityRef) -> Value {
    let mut out = Out::new();
    out.string("schemaUrl", &entity.schema_url);
    out.string("type", &entity.r#type);
    out.strings("idKeys", &entity.id_keys);
    out.strings("descriptionKeys", &entity.description_keys);
    out.done()
}

pub(super) fn read_scope(mut obj: Object) -> Result<InstrumentationScope> {
    Ok(InstrumentationScope {
        name: read::string(&mut obj, "name")?,
        version: read::string(&mut obj, "version")?,
        attributes: read_key_values(&mut obj, "attributes")?,
        dropped_attributes_count: read::uint32(&mut obj, "droppedAttributesCount")?,
    })
}

pub(super) fn write_scope(scope: &InstrumentationScope) -> Value {
    let mut out = Out::new();
    out.string("name", &scope.name);
    out.string("version", &scope.version);
    out.messages("attributes", &scope.attributes, write_key_value);
    out.int("droppedAttributesCount", scope.dropped_attributes_count);
    out.done()
}
